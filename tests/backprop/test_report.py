"""backprop/report.ipynb runs headless on an empty folder and on fixture run folders."""

import re
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "backprop" / "report.ipynb"


def absolute(path: Path, text: str) -> bool:
    """Whether ``text`` names ``path`` absolutely (a relative path like ../../tmp/x is fine)."""
    return re.search(r"(?<!\.\.)" + re.escape(str(path)), text) is not None


def outputs_text(nb) -> str:
    return "\n".join(
        str(o.get("text", ""))
        + str(o.get("data", {}).get("text/markdown", ""))
        + str(o.get("data", {}).get("text/plain", ""))
        + str(o.get("data", {}).get("text/html", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


def test_report_on_an_empty_folder_says_which_commands_make_the_runs(tmp_path, execute_notebook):
    nb = execute_notebook(NOTEBOOK, env={"REPORT_RUNS": tmp_path})
    text = outputs_text(nb)
    for command in ("gradcheck", "inpaint", "ablation", "wiener"):
        assert f"No finished `{command}` run" in text and f"python main.py {command}" in text
    assert not absolute(tmp_path, text)


def test_report_on_fixture_runs_shows_tables_and_figures(results, execute_notebook):
    nb = execute_notebook(NOTEBOOK, env={"REPORT_RUNS": results})
    text = outputs_text(nb)
    assert "No finished" not in text and not absolute(results, text)
    assert "64ch_nobias" in text and "Wiener+net" in text and "best model − noisy input" in text
    assert "18.67" in text and "29.97" in text
    data = [o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    images = [d for d in data if "image/jpeg" in d or "<img " in str(d.get("text/html", ""))]  # embedded or linked
    assert len(images) == 4  # inpainting, denoising examples, validation curves, deblurring grid
