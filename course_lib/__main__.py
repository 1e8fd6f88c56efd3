"""The course's command line: ``python -m course_lib <command>``.

- ``doctor [--online]``: check this environment (see ``course_lib.doctor``).
- ``draw PROMPT [-n 16] [-o out.png] [--checkpoints DIR] [--translator dalle]``: run the Dall·E Mini
  pipeline of the shipped checkpoints (or of those retrained into DIR) and write a grid of the
  candidates, best first, each with its CLIP score; ``--translator dalle`` writes the tokens with
  DALL·E's one-stream transformer instead of BART.
- ``train STAGE [--mode MODE] [--out DIR]``: train a stage's preset and save its checkpoint in DIR
  (``checkpoints/`` here by default); ``--replace-shipped`` writes into ``course_lib/data`` instead,
  which is how the shipped checkpoints are made (with ``--mode full``).
- ``student-edition OUT_DIR``, ``grade SUBMISSIONS_DIR``, ``colab-cells``, ``mark-exercises``:
  coursework (see ``course_lib.student``, ``course_lib.grade``, ``course_lib.colab``).
- ``site OUT_DIR [--mode workshop]``: every notebook executed and rendered as HTML with its outputs
  (``course_lib.rendered``).

Every argument is checked before anything slow starts (loading the models takes seconds, training
minutes): bad input gets one line on stderr saying what to do, and exit status 2.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
import tempfile
from pathlib import Path


# what ``train`` offers; course_lib.stages.STAGES has the same names (a test checks), and importing
# it here would load every model's libraries before argparse has checked a single argument
STAGE_NAMES = ("gan", "text_gan", "ae", "ae2d", "vae", "vae2d", "cvae", "vqvae", "vqgan", "bart", "clip", "dalle",
               "diffusion", "glide", "unclip", "imagen")
TRAIN_MODES = ("smoke", "workshop", "full")  # the presets worth saving (tiny is for unit tests)
# what ``draw --translator`` offers; course_lib.dalle_mini.TRANSLATORS has the same names (a test checks)
TRANSLATOR_NAMES = ("bart", "dalle")

# where ``train`` writes unless told otherwise: a folder of the user's, never the shipped one
DEFAULT_TRAIN_OUT = Path("checkpoints")
# what ``draw -o`` writes: formats matplotlib saves with no extra tools (its pgf needs LaTeX)
IMAGE_FORMATS = ("png", "jpg", "jpeg", "pdf", "svg")
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes 0 .. 2**64 - 1
MAX_GUIDANCE = 100.0  # far past any useful scale, and far below where float32 logits overflow


def _candidates(value: str) -> int:
    n = int(value) if value.isdigit() else 0
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"-n takes a whole number from 1 to 256, got {value!r}")
    return n


def _seed(value: str) -> int:
    seed = int(value) if value.isdigit() else -1
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"--seed takes a whole number from 0 to 2**64 - 1 ({MAX_SEED}), got {value!r}")
    return seed


def _guidance(value: str) -> float:
    """The scale s of ``bart.guide``: logits = uncond + s · (cond - uncond). Only 0 ≤ s makes sense:
    a negative s steers away from the prompt, and inf or nan turn every logit into nan."""
    try:
        scale = float(value)
    except ValueError:
        scale = math.nan
    if not 0 <= scale <= MAX_GUIDANCE:  # also false for nan
        raise argparse.ArgumentTypeError(
            f"--guidance takes a number from 0 to {MAX_GUIDANCE:g}, got {value!r}: 1 (the default) is plain "
            "conditional sampling, above 1 pushes it towards the prompt, 0 ignores the prompt")
    return scale


def _image_file(value: str) -> Path:
    """``-o``: the file the grid goes to, checked now rather than after the models have loaded. An
    existing folder gets ``out.png`` inside it, and ``draw`` prints the path it wrote."""
    if not value:
        raise argparse.ArgumentTypeError("-o needs a file name, e.g. -o out.png")
    path = Path(value) / "out.png" if Path(value).is_dir() else Path(value)
    if path.suffix.lower().lstrip(".") not in IMAGE_FORMATS:
        raise argparse.ArgumentTypeError(
            f"cannot write {value!r}: name a file ending in .{', .'.join(IMAGE_FORMATS)} (e.g. -o out.png), "
            "or a folder that exists")
    problem = _why_unwritable(path)
    if problem:
        raise argparse.ArgumentTypeError(f"cannot write {path}: {problem}; choose another place with -o")
    return path


def _why_unwritable(path: Path) -> str | None:
    """Why a file cannot be written at ``path`` (None if it can): it is a folder, or the nearest
    existing folder above it is a file or takes no new files (tried with a temporary file, since
    ``os.access`` says yes to root even where the file system refuses)."""
    if path.is_dir():
        return f"{path} is a folder"
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as error:
        return f"{parent} takes no new files ({error.strerror})"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is read-only"
    return None


def _folder(value: str) -> Path:
    if not Path(value).is_dir():
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a folder; give the --out folder of python -m course_lib train")
    return Path(value)


def _draw(args) -> int:
    """Check the prompt and the checkpoints before loading anything (the other arguments were checked
    as they were parsed), so bad input gets its one-line answer at once."""
    from .captions import CaptionError, parse

    try:
        parse(args.prompt)
    except CaptionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from . import device, viz
    from .checkpoints import DATA_DIR, CheckpointError
    from .dalle_mini import checkpoint_paths, load_shipped_pipeline

    try:
        paths = checkpoint_paths(args.checkpoints, args.translator)
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.checkpoints is not None:
        print("checkpoints: " + ", ".join(f"{name} {'shipped' if path.parent == DATA_DIR else f'from {path.parent}'}"
                                          for name, path in paths.items()))
    try:
        pipeline = load_shipped_pipeline(device(args.device), directory=args.checkpoints,
                                         **({} if args.translator == "bart" else {"translator": args.translator}),
                                         **({} if args.guidance is None else {"guidance_scale": args.guidance}))
    except (CheckpointError, RuntimeError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    drawing = pipeline.draw(args.prompt, args.n, seed=args.seed)
    figure = viz.show_images(drawing.images, [f"#{i + 1}  score {s:.2f}" for i, s in enumerate(drawing.scores)],
                             nrow=min(8, args.n), suptitle=args.prompt)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(args.out, dpi=120)
    except OSError as error:
        print(f"error: could not write {args.out} ({error.strerror or error}); choose another place with -o",
              file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({args.n} candidates for {args.prompt!r}, best score {drawing.scores[0]:.2f})")
    return 0


def _train(args) -> int:
    """Train into the user's folder, once the folder is known to be a right one."""
    from .checkpoints import DATA_DIR

    out = args.out or (DATA_DIR if args.replace_shipped else DEFAULT_TRAIN_OUT)
    problem = _why_not_train_into(out, args.replace_shipped, DATA_DIR)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from .dalle_mini import PARTS, TRANSLATORS
    from .stages import train_and_save

    train_and_save(args.stage, args.mode, out)
    translator = f" --translator {args.stage}" if args.stage in TRANSLATORS and args.stage != "bart" else ""
    use = (f"; draw with it: python -m course_lib draw PROMPT{translator} --checkpoints {out}"
           if args.stage in (*PARTS, *TRANSLATORS) else "")
    print(f"trained {args.stage} into {out}{use}")
    return 0


def _why_not_train_into(out: Path, replace_shipped: bool, shipped_dir: Path) -> str | None:
    """Why ``train`` must not write into ``out`` (None if it may). The shipped checkpoints are replaced
    only when asked for in so many words: a smoke run once replaced the full VQ-VAE the course ships."""
    into_shipped = out.resolve() == shipped_dir.resolve()
    if into_shipped and not replace_shipped:
        return (f"{out} holds the shipped checkpoints; train into a folder of your own (--out DIR), "
                "or add --replace-shipped to replace them")
    if replace_shipped and not into_shipped:
        return f"--replace-shipped writes into {shipped_dir}; leave out either --out {out} or --replace-shipped"
    if out.exists() and not out.is_dir():
        return f"--out {out} is a file; give a folder"
    return None


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line, like the commands' own, rather than after the usage block."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} -h)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m course_lib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="check Python, packages, device and shipped checkpoints")
    doctor.add_argument("--online", action="store_true", help="also check that the model hub answers")
    draw = commands.add_parser("draw", help="draw a prompt with the shipped pipeline, best first")
    draw.add_argument("prompt", help='e.g. "a red circle above a blue square"')
    draw.add_argument("-n", type=_candidates, default=16, help="how many candidates to draw (1-256)")
    draw.add_argument("-o", "--out", type=_image_file, default="out.png",
                      help=f"where to write the grid: a .{', .'.join(IMAGE_FORMATS)} file, or a folder to "
                           "write out.png in (default: out.png)")
    draw.add_argument("--seed", type=_seed, default=0, help="0 to 2**64 - 1; the same seed draws the same pictures")
    draw.add_argument("--guidance", type=_guidance, default=None,
                      help=f"classifier-free guidance scale, 0 to {MAX_GUIDANCE:g}: 1 (default) is plain conditional "
                           "sampling, above 1 pushes it towards the prompt, 0 ignores it")
    draw.add_argument("--device", choices=("cpu", "cuda"), default=None)
    draw.add_argument("--checkpoints", type=_folder, default=None, metavar="DIR",
                      help="a folder that train --out wrote: each of bart, vqgan and clip found there is used "
                           "instead of the shipped one (a vqgan only with a bart trained on it)")
    draw.add_argument("--translator", choices=TRANSLATOR_NAMES, default="bart",
                      help="what writes the image tokens: bart (default, Dall·E Mini's) or dalle (DALL·E's "
                           "one-stream transformer, notebook 10)")
    train = commands.add_parser("train", help="train a stage's preset and save its checkpoint")
    train.add_argument("stage", choices=STAGE_NAMES, help="which model to train")
    train.add_argument("--mode", choices=TRAIN_MODES, default="full")
    train.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help=f"folder to write to (default: {DEFAULT_TRAIN_OUT}/ here); bart and text_gan build on "
                            "the vqgan and clip found there, else on the shipped ones")
    train.add_argument("--replace-shipped", action="store_true",
                       help="write into course_lib/data, replacing the shipped checkpoint (how the maintainers "
                            "remake them, with --mode full)")
    _add_coursework_commands(commands)
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from .doctor import report

        return 0 if report(online=args.online) else 1
    if args.command == "draw":
        return _draw(args)
    if args.command == "train":
        return _train(args)
    if args.command in COURSEWORK:
        return _coursework(args)
    return 2


COURSEWORK = ("student-edition", "grade", "colab-cells", "mark-exercises", "site")


def _add_coursework_commands(commands) -> None:
    student = commands.add_parser("student-edition", help="write the notebooks without solutions")
    student.add_argument("out", type=Path, help="folder to write the student notebooks to")
    grade = commands.add_parser("grade", help="grade SUBMISSIONS_DIR/<student>/<notebook>.ipynb with hidden tests")
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--csv", type=Path, default=None, help="where to write (default: SUBMISSIONS_DIR/grades.csv)")
    colab = commands.add_parser("colab-cells", help="put the Colab badge and setup cell at the top of every notebook")
    colab.add_argument("--repository", default=None,
                       help="the course's GitHub address, https://github.com/OWNER/NAME (default: course_lib.colab.REPOSITORY)")
    colab.add_argument("--ref", default=None,
                       help="the tag or commit the badges open and the setup cells install (default: v<version>)")
    colab.add_argument("--student-folder", default=None,
                       help="where the student edition is committed in the same repository (e.g. student): a second "
                            "badge opens it, and the student edition keeps that badge as its own")
    mark = commands.add_parser("mark-exercises", help="give exercise cells nbgrader's metadata")
    site = commands.add_parser("site", help="execute every notebook and write the rendered edition (HTML with outputs)")
    site.add_argument("out", type=Path, help="folder to write index.html and one NAME.html per notebook to")
    site.add_argument("--mode", choices=("smoke", "workshop", "full"), default="workshop",
                      help="the mode the notebooks run in (default: workshop, what a laptop makes)")
    for command in (student, grade, colab, mark, site):
        command.add_argument("--notebooks", type=Path, default=None,
                             help="the folder of the instructor's notebooks (default: notebooks/ in the current "
                                  "folder, e.g. the root of a checkout)")


def _coursework(args) -> int:
    import importlib.util

    from . import colab, student
    from .grade import GradeError, grade_all

    # the default is notebooks/ in the current folder (a checkout's root): the package, installed into
    # site-packages, holds no notebooks. grade_all checks its folders itself, the submissions first.
    name = f"--notebooks {args.notebooks}" if args.notebooks is not None else f"{student.NOTEBOOKS_DIR}/ here"
    args.notebooks = args.notebooks if args.notebooks is not None else student.NOTEBOOKS_DIR
    if args.command != "grade" and not any(args.notebooks.glob("*.ipynb")):
        problem = "holds no notebooks" if args.notebooks.is_dir() else "is no folder"
        print(f"error: {name} {problem}; pass --notebooks DIR, the folder of the course's notebooks",
              file=sys.stderr)
        return 2
    if args.command in ("grade", "site") and importlib.util.find_spec("ipykernel") is None:
        print(f"error: {args.command} runs each notebook in a Python kernel, and ipykernel is not installed: "
              "pip install 'course_lib[lab]'", file=sys.stderr)
        return 2
    if args.command == "site" and (problem := _why_unwritable(args.out / "index.html")):
        print(f"error: cannot write the edition to {args.out}: {problem}", file=sys.stderr)
        return 2
    if args.command == "student-edition":
        written = student.student_edition(args.out, args.notebooks)
        print(f"wrote {len(written)} student notebooks to {args.out}")
    elif args.command == "grade":
        try:
            grade_all(args.submissions, args.csv, args.notebooks)
        except GradeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    elif args.command == "colab-cells":
        repository, ref = args.repository or colab.REPOSITORY, args.ref or colab.REF
        if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repository) or not re.fullmatch(r"[\w./-]+", ref):
            print(f"error: --repository must read https://github.com/OWNER/NAME (Colab opens notebooks from GitHub) "
                  f"and --ref a tag or commit; got {repository!r} and {ref!r}", file=sys.stderr)
            return 2
        folder = args.student_folder
        if folder is not None and (not re.fullmatch(r"[\w.-]+(/[\w.-]+)*", folder)
                                   or {".", ".."} & set(folder.split("/"))):
            print(f"error: --student-folder must be a folder of the repository such as student; got {folder!r}",
                  file=sys.stderr)
            return 2
        changed = colab.add_to_all(args.notebooks, repository, ref, folder)
        print(f"updated {len(changed)} notebooks for {repository} at {ref}")
    elif args.command == "site":
        from .rendered import build

        print(f"wrote the rendered edition: {build(args.out, args.notebooks, args.mode)}")
    else:
        print(f"marked {len(student.mark_all(args.notebooks))} notebooks")
    return 0


def _exit_now(code: int) -> None:
    """End the process without tearing down its modules: everything is written by now, and unloading
    torch and transformers takes about 2 s on a laptop CPU, a fifth of what ``draw`` takes in all."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main())
