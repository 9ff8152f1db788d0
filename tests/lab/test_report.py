"""lab.report: notebooks and Markdown to self-contained HTML (``make report``)."""

import base64
import os
import sys
from pathlib import Path

import nbformat
import pytest

from common.notebook import figure
from lab import report

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def code_cell(source: str, outputs: list) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = outputs
    return cell


def test_html_hides_code_and_embeds_plots_drawn_in_the_notebook():
    png = base64.b64encode(PNG).decode()
    plot = nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Title\n\n| a | b |\n| - | - |\n| 1 | 2 |"),
            code_cell("secret_code()", [plot]),
        ]
    )
    html = report.to_html(nb, "t", Path("."))
    assert f"data:image/png;base64,{png}" in html  # the figure travels inside the page
    assert "<table>" in html and "<h1" in html
    assert "secret_code" not in html  # no code cell in the page


def test_linked_figures_are_embedded_and_their_captions_numbered(tmp_path, monkeypatch):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "a&b.png").write_bytes(PNG)
    monkeypatch.chdir(tmp_path)
    outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": figure(path, caption).data})
        for path, caption in (("runs/a&b.png", "loss per epoch"), ("runs/a&b.png", "the same again"))
    ]
    html = report.to_html(nbformat.v4.new_notebook(cells=[code_cell("figure()", outputs)]), "t", tmp_path)
    assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in html and 'src="runs/' not in html
    assert "<b>Figure 1.</b> loss per epoch" in html and "<b>Figure 2.</b> the same again" in html


def test_equations_become_mathml_and_no_script_comes_from_the_network(tmp_path):
    md = tmp_path / "a.md"
    md.write_text("## Q1\n\n$$ e^{i\\pi} + 1 = 0 $$\n\nInline $x^2$, but `$HOME` is code.\n")
    html = report.to_html(report.markdown_page(md), "dry", tmp_path)
    assert "Q1" in html and html.count("<math") == 2 and 'display="block"' in html
    assert "$HOME" in html and "e^{i\\pi}" not in html
    assert "mathjax" not in html.lower() and 'src="https://' not in html and 'src="http://' not in html


def test_unknown_assignment_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        report.main(["nonsense"])
    assert e.value.code == 2 and "unknown assignment" in capsys.readouterr().err


def test_runs_takes_one_assignment_and_never_overwrites_the_notebooks(capsys):
    for argv in (
        ["--runs", "x"],
        ["medical_cnn", "backprop", "--runs", "x"],
        ["medical_cnn", "--runs", "x", "--in-place"],
    ):
        with pytest.raises(SystemExit) as e:
            report.main(argv)
        assert e.value.code == 2 and "--runs takes one assignment" in capsys.readouterr().err


def test_the_kernel_imports_this_checkout_first(tmp_path, monkeypatch):
    decoy = tmp_path / "other_clone"
    (decoy / "common").mkdir(parents=True)
    (decoy / "common" / "__init__.py").write_text("")
    monkeypatch.setenv("PYTHONPATH", str(decoy))  # as if the environment pointed at another clone
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    path = tmp_path / "nb.ipynb"
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import common; print(common.__file__)")]), path
    )
    printed = report.execute(path, timeout=120).cells[0].outputs[0]["text"].strip()
    assert Path(printed).resolve() == report.REPO_ROOT / "common" / "__init__.py"
