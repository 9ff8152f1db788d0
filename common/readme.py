"""Keep every assignment README's result numbers equal to the files under ``results/``.

Each assignment has a ``readme_results.py`` with ``render_blocks(results: Path) -> dict[str, str]``
that turns its published runs into Markdown (tables, quoted figures). Its README holds the
output between ``<!-- results:begin NAME -->`` and ``<!-- results:end NAME -->`` markers::

    python -m common.readme --write      # regenerate the blocks of all five READMEs
    python -m common.readme --check      # exit 1 if a README differs from its results (the tests do this)
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from common.blocks import fill_blocks, stale_blocks
from common.results import ASSIGNMENTS, REPO_ROOT, RESULTS_ROOT

TAG = "results"


def rendered(assignment: str, results_root: Path = RESULTS_ROOT) -> dict[str, str]:
    """The blocks of ``assignment``'s README as its ``readme_results`` module renders them now."""
    module = importlib.import_module(f"{assignment}.readme_results")
    return module.render_blocks(results_root / assignment)


def readme_path(assignment: str) -> Path:
    return REPO_ROOT / assignment / "README.md"


def check(assignment: str, results_root: Path = RESULTS_ROOT) -> list[str]:
    """Names of the README blocks of ``assignment`` that differ from its results (empty when in sync)."""
    return stale_blocks(readme_path(assignment).read_text(encoding="utf-8"), rendered(assignment, results_root), TAG)


def write(assignment: str, results_root: Path = RESULTS_ROOT) -> bool:
    """Rewrite the README's blocks; return whether anything changed."""
    path = readme_path(assignment)
    text = path.read_text(encoding="utf-8")
    filled = fill_blocks(text, rendered(assignment, results_root), TAG)
    if filled != text:
        path.write_text(filled, encoding="utf-8")
    return filled != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.readme", description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the result blocks")
    mode.add_argument("--check", action="store_true", help="exit 1 if a README block differs from results/")
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help=f"any of {', '.join(ASSIGNMENTS)} (default: all five)")
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.assignments) - set(ASSIGNMENTS)):
        parser.error(f"unknown assignment {', '.join(unknown)}; expected any of {', '.join(ASSIGNMENTS)}")
    status = 0
    for name in args.assignments or ASSIGNMENTS:
        if args.write:
            print(f"{name}/README.md: {'updated' if write(name) else 'already up to date'}")
        elif stale := check(name):
            print(f"{name}/README.md differs from results/{name} in blocks {stale}; "
                  f"run: python -m common.readme --write {name}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
