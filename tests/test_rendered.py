"""The rendered edition's pieces on a small notebook made here: what a page keeps and what it drops."""
import base64

import nbformat
import pytest

from course_lib import rendered
from course_lib.__main__ import main

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def executed_notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 · A lesson\nSome text."),
                nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
                nbformat.v4.new_code_cell("assert f() == 1\n### BEGIN HIDDEN TESTS\nassert secret\n### END HIDDEN TESTS")]
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    return nb


def test_a_page_embeds_pictures_keeps_solutions_and_drops_hidden_tests(tmp_path):
    nb = executed_notebook()
    page = rendered.render(nb, "99_lesson")
    assert f"data:image/png;base64,{PNG}" in page
    assert "return" in page and "assert secret" not in page
    assert "<title>99 · A lesson</title>" in page
    assert "assert secret" in nb.cells[2].source, "render must not change the notebook it is given"


def test_the_index_links_each_lesson_with_its_time(tmp_path):
    index = rendered.write_site(tmp_path, [("99_lesson", executed_notebook(), 12.4)], "workshop").read_text()
    assert '<a href="99_lesson.html">99 · A lesson</a>' in index and "12 s" in index and "workshop" in index
    assert (tmp_path / "99_lesson.html").exists()


def test_failures_name_the_cell():
    nb = executed_notebook()
    nb.cells[2].outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="no", traceback=[])]
    assert rendered.failures(nb) == ["cell 2: AssertionError: no"]


def test_the_command_refuses_a_file_for_a_folder_and_a_folder_without_notebooks(tmp_path, capsys):
    (tmp_path / "nbs").mkdir()
    (tmp_path / "a_file").write_text("x")
    assert main(["site", str(tmp_path / "out"), "--notebooks", str(tmp_path / "nbs")]) == 2
    assert "holds no notebooks" in capsys.readouterr().err
    nbformat.write(executed_notebook(), tmp_path / "nbs" / "99_lesson.ipynb")
    assert main(["site", str(tmp_path / "a_file"), "--notebooks", str(tmp_path / "nbs")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["site", str(tmp_path / "out"), "--mode", "fast"])
