"""``make report``: execute the five report notebooks on the committed results and write self-contained HTML.

    python -m lab.report [ASSIGNMENT ...] [--in-place]   # reports/<name>.html; --in-place saves the notebooks
    python -m lab.report medical_cnn --runs medical_cnn/runs   # the report of your own runs

Each notebook runs in its own folder with ``REPORT_RUNS`` unset (or set to ``--runs``) and this checkout first
on the kernel's ``PYTHONPATH``, so it reads this tree's ``results/<assignment>`` whatever the virtual environment
points at.
The HTML page hides the code, embeds every image as data (a copied page shows its figures), numbers the
figure captions and renders the equations as MathML, which browsers draw offline (no script from a CDN).
``dry/answers.md`` is rendered the same way.
"""

from __future__ import annotations

import argparse
import base64
import mimetypes
import os
import re
import sys
from html import unescape as html_unescape
from pathlib import Path

from lab.results import ASSIGNMENTS, REPO_ROOT

REPORTS = REPO_ROOT / "reports"
CODE_SPAN = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$", re.DOTALL)
IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]+)(")')
# nbconvert's lab page without the scripts it loads from a CDN (MathJax, require.js, mermaid, widgets)
TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
FIGCAPTION = re.compile(r"<figcaption>")


def execute(path: Path, timeout: int = 600):
    """Execute the notebook at ``path`` in its own folder, this checkout first on the kernel's import path."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=env)
    return nb


def latex_to_mathml(markdown: str) -> str:
    """``markdown`` with every ``$...$`` and ``$$...$$`` outside code spans replaced by MathML."""
    from latex2mathml.converter import convert

    def math(match: re.Match) -> str:
        display, inline = match.group(1), match.group(2)
        return convert(display.strip(), display="block") if display is not None else convert(inline)

    parts = CODE_SPAN.split(markdown)
    return "".join(part if i % 2 else MATH.sub(math, part) for i, part in enumerate(parts))


def embed_images(html: str, folder: Path) -> str:
    """``html`` with every ``<img>`` that names a local file (relative to ``folder``) carrying that file as data."""

    def inline(match: re.Match) -> str:
        src = html_unescape(match.group(2))
        path = folder / src
        if src.startswith(("data:", "http:", "https:")) or not path.is_file():
            return match.group(0)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return f"{match.group(1)}data:{mime};base64,{data}{match.group(3)}"

    return IMG_SRC.sub(inline, html)


def number_captions(html: str) -> str:
    """``html`` with the figure captions numbered in page order: "Figure 1. ...", "Figure 2. ..."."""
    count = iter(range(1, 10_000))
    return FIGCAPTION.sub(lambda _: f"<figcaption><b>Figure {next(count)}.</b> ", html)


def to_html(nb, title: str, folder: Path) -> str:
    """A self-contained HTML page of ``nb`` (images relative to ``folder``): no code, no remote script."""
    import copy

    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    nb.metadata["title"] = title
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = latex_to_mathml(cell.source)
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"report.html.j2": TEMPLATE})],
        template_file="report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    return number_captions(embed_images(exporter.from_notebook_node(nb)[0], folder))


def markdown_page(path: Path):
    """``path`` as a one-cell notebook, so it renders like a report."""
    import nbformat

    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(path.read_text(encoding="utf-8"))])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--in-place", action="store_true", help="save each executed notebook over its source")
    parser.add_argument("--out", type=Path, default=REPORTS, help="folder for the HTML files")
    parser.add_argument("--runs", type=Path, help="read the runs in this folder instead of results/<assignment>")
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="default: all five, plus dry")
    args = parser.parse_args(argv)
    names = args.assignments or [*ASSIGNMENTS, "dry"]
    if unknown := sorted(set(names) - {*ASSIGNMENTS, "dry"}):
        parser.error(f"unknown assignment {', '.join(unknown)}")
    if args.runs and (len(names) != 1 or names == ["dry"] or args.in_place):
        parser.error("--runs takes one assignment and no --in-place (the committed notebooks show results/)")
    import nbformat

    os.environ.pop("REPORT_RUNS", None)  # the reports read the committed results/, or --runs
    if args.runs:
        os.environ["REPORT_RUNS"] = str(args.runs.resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = REPO_ROOT / name / ("answers.md" if name == "dry" else "report.ipynb")
        print(f"executing {path.relative_to(REPO_ROOT)} ...", flush=True)
        nb = markdown_page(path) if name == "dry" else execute(path)
        if args.in_place and name != "dry":
            nbformat.write(nb, path)
        html = to_html(nb, f"{name} report", path.parent)
        (args.out / f"{name}.html").write_text(html, encoding="utf-8")
        print(f"wrote {os.path.relpath(args.out / f'{name}.html')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
