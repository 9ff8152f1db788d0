"""``python -m grading {grade,release,gradescope}``: the autograder's command line (``make grade``, ...)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common.cli import OneLineParser
from grading.rubric import RUBRIC
from grading.submission import ROOT

DIST = ROOT / "dist"


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def parser() -> OneLineParser:
    p = OneLineParser(prog="python -m grading", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="run the graded tests and print points per problem")
    g.add_argument("--submission", type=Path, help="folder of a student's files (default: grade this repository)")
    g.add_argument("--assignment", action="append", choices=list(RUBRIC), help="grade only this one (repeatable)")
    g.add_argument("--results", type=Path, help="also write Gradescope's results.json here")
    g.add_argument(
        "--worker-timeout",
        type=positive,
        default=30.0,
        help="wall-clock and CPU seconds per problem's worker (default 30)",
    )
    g.add_argument("--total-timeout", type=positive, default=480.0, help="seconds for the whole grading (default 480)")
    g.add_argument("--memory-mb", type=int, default=2048, help="memory a worker may add, MB (default 2048)")
    g.add_argument("--hide", type=Path, action="append", default=[], help="another folder workers must not see")
    r = sub.add_parser("release", help="build the student starter tree")
    r.add_argument("--out", type=Path, default=DIST / "starter", help="default dist/starter")
    z = sub.add_parser("gradescope", help="build the Gradescope autograder zip of each assignment")
    z.add_argument("--assignment", action="append", choices=list(RUBRIC), help="only this one (repeatable)")
    z.add_argument("--out", type=Path, default=DIST / "gradescope", help="default dist/gradescope")
    return p


def check_submission(p: OneLineParser, args) -> None:
    folder = args.submission
    if not folder.is_dir():
        p.error(f"SUBMISSION {folder} is not a folder")
    if not args.assignment and not any((folder / name).is_dir() for name in RUBRIC):
        p.error(f"{folder} has no assignment folder ({', '.join(RUBRIC)}); name the assignment (ASSIGNMENT=...)")
    if not args.assignment:
        args.assignment = [name for name in RUBRIC if (folder / name).is_dir()]


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command == "grade":
        from grading.grade import Limits, grade
        from grading.gradescope import write_results
        from grading.score import render

        if args.submission is not None:
            check_submission(p, args)
        start = time.monotonic()
        limits = Limits(wall_s=args.worker_timeout, cpu_s=args.worker_timeout, memory_mb=args.memory_mb)
        hide = tuple(args.hide) + ((args.results.resolve().parent,) if args.results else ())
        try:
            submission = args.submission and args.submission.resolve()
            scores = grade(args.assignment, submission, limits, hide=hide, total_s=args.total_timeout)
        except (
            RuntimeError
        ) as exc:  # the reference solution or the zygote failed: the grader's fault, not the student's
            p.error(str(exc))
        print(render(scores))
        if args.results:
            write_results(args.results, scores, time.monotonic() - start)
            print(f"results: {args.results}")
    elif args.command == "release":
        from grading.release import build

        try:
            stubbed = build(args.out)
        except FileExistsError as exc:
            p.error(str(exc))
        size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
        print(f"starter release in {args.out} ({len(stubbed)} student files stubbed, {size / 2**20:.1f} MB)")
    else:
        from grading.gradescope import build_autograder

        for name in args.assignment or list(RUBRIC):
            print(f"autograder: {build_autograder(name, ROOT, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
