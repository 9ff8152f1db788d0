"""``make report``: execute the five report notebooks on the committed results and write HTML.

    python -m common.report [ASSIGNMENT ...] [--in-place]   # reports/<name>.html; --in-place saves the notebooks

Each notebook runs in its own folder with ``REPORT_RUNS`` unset, so it reads ``results/<assignment>``.
Notebooks show the published figures with :func:`figure`, a relative link rather than an embedded copy,
so a figure is stored once; ``reports/`` sits as deep as the notebooks, so the links hold in the HTML
pages too. ``dry/answers.md`` is rendered the same way, equations included.
"""

from __future__ import annotations

import argparse
import os
import sys
from html import escape
from pathlib import Path

from common.results import ASSIGNMENTS, REPO_ROOT

REPORTS = REPO_ROOT / "reports"


def figure(path: Path, width: int = 800):
    """A notebook output showing the image file at ``path`` (relative to the notebook) by reference."""
    from IPython.display import HTML

    return HTML(f'<img src="{escape(Path(path).as_posix())}" width="{width}" alt="{escape(Path(path).name)}">')


def execute(path: Path, timeout: int = 600):
    """Execute the notebook at ``path`` in its own folder and return it (``nbformat`` node)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return nb


def to_html(nb, title: str) -> str:
    """An HTML page of ``nb``: plots drawn in the notebook are embedded, published figures linked."""
    from nbconvert import HTMLExporter

    nb.metadata["title"] = title
    return HTMLExporter(template_name="lab").from_notebook_node(nb)[0]


def markdown_page(path: Path):
    """``path`` as a one-cell notebook, so nbconvert renders its Markdown and LaTeX like a report."""
    import nbformat

    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(path.read_text(encoding="utf-8"))])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m common.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--in-place", action="store_true", help="save each executed notebook over its source")
    parser.add_argument("--out", type=Path, default=REPORTS, help="folder for the HTML files")
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all five, plus dry")
    args = parser.parse_args(argv)
    names = args.assignments or [*ASSIGNMENTS, "dry"]
    if unknown := sorted(set(names) - {*ASSIGNMENTS, "dry"}):
        parser.error(f"unknown assignment {', '.join(unknown)}")
    import nbformat

    os.environ.pop("REPORT_RUNS", None)  # the reports read the committed results/
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = REPO_ROOT / name / ("answers.md" if name == "dry" else "report.ipynb")
        print(f"executing {path.relative_to(REPO_ROOT)} ...", flush=True)
        nb = markdown_page(path) if name == "dry" else execute(path)
        if args.in_place and name != "dry":
            nbformat.write(nb, path)
        (args.out / f"{name}.html").write_text(to_html(nb, f"{name} report"), encoding="utf-8")
        print(f"wrote {os.path.relpath(args.out / f'{name}.html')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
