"""The course's command line: ``python -m course_lib <command>``.

- ``doctor [--online]``: check this environment (see ``course_lib.doctor``).
- ``draw PROMPT [-n 16] [-o out.png]``: run the Dall·E Mini pipeline of the shipped checkpoints and
  write a grid of the candidates, best first, each with its CLIP score.
- ``train STAGE [--mode MODE] [--out DIR]``: train a stage's preset and save its checkpoint (the
  shipped checkpoints in ``course_lib/data`` are made with ``--mode full``).
- ``student-edition OUT_DIR``, ``grade SUBMISSIONS_DIR``, ``colab-cells``, ``mark-exercises``:
  coursework (see ``course_lib.student``, ``course_lib.grade``, ``course_lib.colab``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


# stage name -> the course_lib module whose train_shipped(mode, out_dir) trains and saves it
STAGES: dict[str, str] = {"vqvae": "vqvae", "vqgan": "vqgan", "gan": "gan", "text_gan": "text_gan", "clip": "clip", "vae": "autoencoder", "bart": "bart"}


def _candidates(value: str) -> int:
    n = int(value) if value.isdigit() else 0
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"-n takes a whole number from 1 to 256, got {value!r}")
    return n


def _draw(args) -> int:
    """Check the prompt before loading anything, so bad input gets its one-line answer at once."""
    from .captions import CaptionError, parse

    try:
        parse(args.prompt)
    except CaptionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from . import device, viz
    from .checkpoints import CheckpointError
    from .dalle_mini import load_default

    try:
        pipeline = load_default(device(args.device), **({} if args.guidance is None
                                                        else {"guidance_scale": args.guidance}))
    except (CheckpointError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    drawing = pipeline.draw(args.prompt, args.n, seed=args.seed)
    figure = viz.show_images(drawing.images, [f"#{i + 1}  score {s:.2f}" for i, s in enumerate(drawing.scores)],
                             nrow=min(8, args.n), suptitle=args.prompt)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out} ({args.n} candidates for {args.prompt!r}, best score {drawing.scores[0]:.2f})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser("doctor", help="check Python, packages, device and shipped checkpoints")
    doctor.add_argument("--online", action="store_true", help="also check that the model hub answers")
    draw = commands.add_parser("draw", help="draw a prompt with the shipped pipeline, best first")
    draw.add_argument("prompt", help='e.g. "a red circle above a blue square"')
    draw.add_argument("-n", type=_candidates, default=16, help="how many candidates to draw (1-256)")
    draw.add_argument("-o", "--out", type=Path, default=Path("out.png"), help="where to write the grid")
    draw.add_argument("--seed", type=int, default=0)
    draw.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    draw.add_argument("--device", choices=("cpu", "cuda"), default=None)
    train = commands.add_parser("train", help="train a stage's preset and save its checkpoint")
    train.add_argument("stage", choices=sorted(STAGES), help="which model to train")
    train.add_argument("--mode", choices=("smoke", "workshop", "full"), default="full")
    train.add_argument("--out", type=Path, default=None,
                       help="where to write (default: course_lib/data); bart and text_gan build on the "
                            "vqgan and clip found there, else on the shipped ones")
    _add_coursework_commands(commands)
    args = parser.parse_args(argv)

    if args.command == "doctor":
        from .doctor import report

        return 0 if report(online=args.online) else 1
    if args.command == "draw":
        return _draw(args)
    if args.command == "train":
        import importlib

        from .checkpoints import DATA_DIR

        module = importlib.import_module(f"course_lib.{STAGES[args.stage]}")
        module.train_shipped(args.mode, args.out or DATA_DIR)
        return 0
    if args.command in COURSEWORK:
        return _coursework(args)
    return 2


COURSEWORK = ("student-edition", "grade", "colab-cells", "mark-exercises")


def _add_coursework_commands(commands) -> None:
    student = commands.add_parser("student-edition", help="write the notebooks without solutions")
    student.add_argument("out", type=Path, help="folder to write the student notebooks to")
    grade = commands.add_parser("grade", help="grade SUBMISSIONS_DIR/<student>/<notebook>.ipynb with hidden tests")
    grade.add_argument("submissions", type=Path)
    grade.add_argument("--csv", type=Path, default=None, help="where to write (default: SUBMISSIONS_DIR/grades.csv)")
    colab = commands.add_parser("colab-cells", help="put the Colab badge and setup cell at the top of every notebook")
    mark = commands.add_parser("mark-exercises", help="give exercise cells nbgrader's metadata")
    for command in (student, grade, colab, mark):
        command.add_argument("--notebooks", type=Path, default=None,
                             help="the instructor's notebooks (default: notebooks/ of this checkout)")


def _coursework(args) -> int:
    from . import colab, student
    from .grade import grade_all

    args.notebooks = args.notebooks or student.NOTEBOOKS_DIR
    if args.command == "student-edition":
        written = student.student_edition(args.out, args.notebooks)
        print(f"wrote {len(written)} student notebooks to {args.out}")
    elif args.command == "grade":
        grade_all(args.submissions, args.csv, args.notebooks)
    elif args.command == "colab-cells":
        print(f"updated {len(colab.add_to_all(args.notebooks))} notebooks")
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
