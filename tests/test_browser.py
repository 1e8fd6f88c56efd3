"""The course as a workshop attendee meets it: JupyterLab in a real browser (headless Chromium).

JupyterLab serves a copy of notebooks/ in smoke mode, on the loopback only, with the settings
`make lab` uses (lab/settings). For each notebook with widgets: open it, Run All, and check that no
cell failed and every widget rendered. Notebook 09's Draw box is then used as an attendee uses it:
a typed prompt, a second press (new candidates), two quick presses (one grid), an empty prompt and
an unknown word (one line each), and an error inside the drawing (one line, not silence).

Debian's `chromium` (`apt-get install chromium`), driven by Playwright for Python pointed at that
executable; Playwright's own browser download is not needed. Without them the tests skip, unless
COURSE_BROWSER_REQUIRED=1 (set by .ci/run), where a missing browser is a failure.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from course_lib.draw_box import QUEUED_CLICK_SECONDS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRED = os.environ.get("COURSE_BROWSER_REQUIRED") == "1"
SCREENSHOTS = Path(os.environ.get("COURSE_BROWSER_SCREENSHOTS", "/tmp"))  # where a timed-out page is kept
RUN_SECONDS = 240  # Run All of one notebook in smoke mode: 10-40 s here, on a quiet 2-core CPU
DRAW_SECONDS = 60  # one press of 09's Draw box in smoke mode: a few seconds here

pytestmark = [pytest.mark.notebook, pytest.mark.browser]

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

if sync_playwright is None or CHROMIUM is None:
    why = "needs Playwright for Python and Debian's chromium (apt-get install chromium)"
    if REQUIRED:
        raise RuntimeError(f"COURSE_BROWSER_REQUIRED=1 but the browser test {why}")
    pytest.skip(why, allow_module_level=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a scratch copy of notebooks/, and a browser to open its notebooks."""
    home = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", home / "notebooks")  # autosave must not write into the repository
    tracker = home / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')  # every cell in the page, to be read, not only those in view
    port, token = free_port(), secrets.token_hex(16)
    environment = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}  # inline plots
    environment.update(COURSE_MODE="smoke", HF_HUB_OFFLINE="1", COURSE_LIB_CACHE=str(home / "cache"),
                       JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
                       JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.token={token}", f"--ServerApp.root_dir={home / 'notebooks'}",
               f"--LabApp.app_settings_dir={ROOT / 'lab' / 'settings'}", "--allow-root"]
    log = open(home / "server.log", "w")
    server = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            yield Lab(browser, f"http://127.0.0.1:{port}", token)
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
        log.close()


class Lab:
    """The served course: open one notebook in its own workspace, and close it with its kernel."""

    def __init__(self, browser, address: str, token: str):
        self.browser, self.address, self.token = browser, address, token

    def open(self, name: str):
        """A page showing only ``name`` (a workspace of its own, so earlier tabs do not come back)."""
        page = self.browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        deadline = time.monotonic() + 60
        while True:  # the server may still be starting
            try:
                page.goto(f"{self.address}/lab/workspaces/{name}/tree/{name}.ipynb?token={self.token}")
                return page
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def close(self, page) -> None:
        """Close the page and shut its kernels down, so the next notebook has the CPU to itself."""
        page.close()
        headers = {"Authorization": f"token {self.token}"}
        with urllib.request.urlopen(urllib.request.Request(f"{self.address}/api/sessions", headers=headers)) as reply:
            sessions = json.load(reply)
        for session in sessions:
            request = urllib.request.Request(f"{self.address}/api/sessions/{session['id']}", headers=headers,
                                             method="DELETE")
            urllib.request.urlopen(request).close()


def run_all(lab: Lab, name: str):
    """Open a notebook, dismiss nothing (nothing should pop up), Run All, wait for the last cell."""
    page = lab.open(name)
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()  # as an attendee waits for the kernel to start
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    try:
        page.wait_for_function("""() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
            const done = prompts.length && !prompts.some(t => t.includes('*')) && /\\d/.test(prompts[prompts.length - 1]);
            return done || document.querySelector('.jp-Dialog');
        }""", timeout=RUN_SECONDS * 1000, polling=500)
        dialogs = page.locator(".jp-Dialog")
        assert dialogs.count() == 0, f"{name}: a dialog stopped Run All: {dialogs.first.inner_text()[:200]!r}"
    except Exception:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        raise
    return page


def assert_ran_cleanly(page, name):
    failed = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
    assert failed.count() == 0, f"{name}: a cell failed: {failed.first.inner_text()[:300]}"
    broken = page.locator(".jp-OutputArea-output", has_text="Error displaying widget")  # not the first cell's note
    assert broken.count() == 0, f"{name}: a widget did not render: {broken.first.inner_text()[:200]!r}"
    popups = page.locator(".jp-Dialog, .Toastify__toast")
    assert popups.count() == 0, f"{name}: something popped up: {popups.first.inner_text()[:200]}"
    assert page.locator(".jupyter-widgets").count() > 0, f"{name}: no widget rendered"


@pytest.mark.parametrize("name", ["01_vanilla_gan", "02_text_conditional_gan", "04_vae"])
def test_widgets_render_after_run_all(lab, name):
    page = run_all(lab, name)
    assert_ran_cleanly(page, name)
    assert page.locator(".widget-slider, .draw-box").count() > 0, f"{name}: its slider or Draw box is missing"
    lab.close(page)


class Box:
    """Notebook 09's Draw box in the page: type, press, read the line and the grid."""

    def __init__(self, page):
        self.page, self.root = page, page.locator(".draw-box").first
        self.button = self.root.get_by_role("button", name="Draw")

    @property
    def message(self) -> str:
        return self.root.locator(".draw-box-message").inner_text()

    def grids(self):
        return self.root.locator(".widget-output img")

    def press(self, prompt: str, until: str) -> str:
        """Type ``prompt``, press Draw, wait for a line containing ``until``; the line."""
        before = self.message
        self.root.locator("input[type=text]").fill(prompt)
        self.look_at_the_grid()
        self.button.click()
        self.wait_for(until, unlike=before)
        return self.message

    def look_at_the_grid(self) -> None:
        """Wait as long as a person looks before pressing again: the box drops a click that comes
        sooner, as one queued while the last drawing ran (course_lib.draw_box)."""
        self.page.wait_for_timeout(2000 * QUEUED_CLICK_SECONDS)

    def wait_for(self, text: str, unlike: str | None = None) -> None:
        """Wait until the box's line contains ``text`` (and is no longer ``unlike``, the line before
        the press) and the button is free; say what the box shows if it does not come."""
        try:
            self.page.wait_for_function(
                "([box, text, unlike]) => { const m = box.querySelector('.draw-box-message');"
                " return m && m.textContent.includes(text) && m.textContent !== unlike"
                " && !box.querySelector('button').disabled; }",
                arg=[self.root.element_handle(), text, unlike], timeout=DRAW_SECONDS * 1000, polling=200)
        except Exception:
            self.page.screenshot(path=str(SCREENSHOTS / "draw_box.png"))
            seed = self.root.locator("input[type=number]").input_value()
            raise AssertionError(f"waited {DRAW_SECONDS} s for {text!r}; the box says {self.message!r}, "
                                 f"seed {seed}, button {self.button.inner_text()!r}") from None


def test_the_draw_box_draws_new_candidates_each_press_and_explains_bad_prompts(lab):
    page = run_all(lab, "09_dalle_mini_pipeline")
    assert_ran_cleanly(page, "09_dalle_mini_pipeline")
    box = Box(page)
    assert box.grids().count() == 1, "the cell's own press drew the first grid"

    line = box.press("a red circle", until="drew this grid")
    first = box.grids().first.get_attribute("src")
    seed = int(line.split()[1])
    line = box.press("a red circle", until=f"seed {seed + 1} drew")
    assert box.grids().first.get_attribute("src") != first, "a second press must draw new candidates"
    assert box.grids().count() == 1

    box.look_at_the_grid()
    box.button.dispatch_event("click")  # two quick presses, the second before the first is drawn
    box.button.dispatch_event("click")
    box.wait_for(f"seed {seed + 2} drew")
    page.wait_for_timeout(2000)  # a second drawing, if the second press got through, has begun by now
    box.wait_for("drew this grid")
    assert box.grids().count() == 1, "two quick presses must leave one grid"

    for prompt, expected in [("", "Cannot draw that: "), ("a pink circle", "unknown word 'pink'")]:
        line = box.press(prompt, until="Cannot draw that")
        assert expected in line and "\n" not in line and "Traceback" not in line, line
        assert box.grids().count() == 0, "no grid under a prompt that could not be drawn"
    style = box.root.locator(".draw-box-message").evaluate("m => getComputedStyle(m).wordBreak")
    assert style != "break-all", "the message must wrap between words"

    break_the_drawing(page)
    line = box.press("a red circle", until="Cannot draw that")
    assert "ZeroDivisionError" in line, f"an error inside the drawing must show in the box, got {line!r}"
    lab.close(page)


def break_the_drawing(page) -> None:
    """Add a cell at the end that makes the box's drawing fail, and run it, as a learner might."""
    last = page.locator(".jp-Notebook .jp-Cell").last
    last.locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # a new cell below, in command mode
    page.keyboard.press("Enter")
    page.keyboard.type("box.draw = lambda prompt, seed: 1 / 0")
    page.keyboard.press("Shift+Enter")
    page.wait_for_function("""() => {
        const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
        return !prompts.some(t => t.includes('*'));
    }""", timeout=60_000, polling=200)
