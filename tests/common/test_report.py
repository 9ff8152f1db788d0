"""common.report: notebooks and Markdown to self-contained HTML (``make report``)."""

import base64
from pathlib import Path

import nbformat

from common import report


def test_html_embeds_figures_and_renders_markdown():
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
    cell = nbformat.v4.new_code_cell("show()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})]
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Title\n\n| a | b |\n| - | - |\n| 1 | 2 |"), cell]
    )
    html = report.to_html(nb, "t")
    assert f"data:image/png;base64,{png}" in html  # the figure travels inside the page
    assert "<table>" in html and "<h1" in html


def test_figures_are_linked_by_their_relative_path_not_embedded():
    html = report.figure(Path("../results/mri_cs/run/a&b.png"), width=300).data
    assert html == '<img src="../results/mri_cs/run/a&amp;b.png" width="300" alt="a&amp;b.png">'


def test_dry_answers_render_with_their_equations(tmp_path):
    md = tmp_path / "a.md"
    md.write_text("## Q1\n\n$$ e^{i\\pi} + 1 = 0 $$\n")
    html = report.to_html(report.markdown_page(md), "dry")
    assert "Q1" in html and "e^{i\\pi}" in html and "MathJax" in html


def test_unknown_assignment_is_a_usage_error(capsys):
    import pytest

    with pytest.raises(SystemExit) as e:
        report.main(["nonsense"])
    assert e.value.code == 2 and "unknown assignment" in capsys.readouterr().err
