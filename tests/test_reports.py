"""The five report notebooks: committed executed, with relative paths only, and they execute on results/."""

import json
import re
from pathlib import Path

import pytest

from lab.results import ASSIGNMENTS, REPO_ROOT


def outputs_text(nb: dict) -> str:
    return json.dumps([c.get("outputs", []) for c in nb["cells"] if c["cell_type"] == "code"])


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_notebook_is_executed_without_errors_or_machine_paths(assignment):
    nb = json.loads((REPO_ROOT / assignment / "report.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["execution_count"] is not None for c in code), "run: python -m lab.report --in-place"
    text = outputs_text(nb)
    assert '"output_type": "error"' not in text
    assert str(REPO_ROOT) not in text and str(Path.home()) + "/" not in text
    linked = re.findall(r'<img src=\\"([^"\\]+)\\"', text)  # published figures are linked, not embedded
    assert all((REPO_ROOT / assignment / src).resolve().is_file() for src in linked), linked


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_executes_on_the_committed_results(assignment, execute_notebook, monkeypatch):
    monkeypatch.delenv("REPORT_RUNS", raising=False)
    nb = execute_notebook(REPO_ROOT / assignment / "report.ipynb")
    text = outputs_text(nb)
    assert f"results/{assignment}" in text  # it says where it read from
    assert "<img src=" in text or "image/png" in text  # and shows at least one figure


# Reports whose figures and tables have not moved to common.notebook's figure/table yet (issue 36).
NOT_YET_CAPTIONED = ()


@pytest.mark.parametrize("assignment", [a for a in ASSIGNMENTS if a not in NOT_YET_CAPTIONED])
def test_committed_report_captions_its_figures_and_shows_readable_tables(assignment):
    nb = json.loads((REPO_ROOT / assignment / "report.ipynb").read_text())
    html = [
        "".join(o.get("data", {}).get("text/html", ""))
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    ]
    figures = [h for h in html if "<img " in h]
    assert figures and all(re.search(r"<figcaption>[^<]{10,}</figcaption>", h) for h in figures)
    tables = [h for h in html if "<table" in h]
    assert tables, "the report shows its numbers in tables"
    for h in tables:
        assert 'class="dataframe"' not in h, "a raw pandas table: show it with common.notebook.table"
        assert not re.search(r">\s*(nan|NaN|None)\s*<", h), "a missing value shows as a dash"
