"""Publish finished runs into the tracked ``results/`` tree (see :mod:`lab.results`).

python -m lab.publish mri_cs/runs/unet_drop0.3_learned [more run folders ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

from common.cli import OneLineParser, run_command
from lab.results import ASSIGNMENTS, REPO_ROOT, publish, publishable_files


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="python -m lab.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dirs", nargs="+", help="finished run folders (holding metrics.json or a .csv table)")
    parser.add_argument(
        "--exclude",
        nargs="+",
        default=[],
        metavar="GLOB",
        help="leave out files whose path inside the run matches, e.g. '*/examples.png'",
    )
    parser.add_argument(
        "--assignment",
        choices=ASSIGNMENTS,
        default=None,
        help="the assignment the runs belong to (default: read from each folder's path)",
    )
    args = parser.parse_args(argv)

    def go() -> None:
        for run_dir in args.run_dirs:
            dest = publish(run_dir, args.assignment, exclude=tuple(args.exclude)).relative_to(REPO_ROOT)
            n = len(publishable_files(Path(run_dir), tuple(args.exclude)))
            print(
                f"{run_dir} -> {dest} ({n} files; larger figures re-encoded, larger data files left "
                f"out); commit it with git add {dest}"
            )

    run_command(parser.prog, go)


if __name__ == "__main__":
    main()
    sys.exit(0)
