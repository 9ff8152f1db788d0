"""medical_cnn/report.ipynb runs headless on an empty folder and on fixture run folders."""

import re
from pathlib import Path

ABSOLUTE = re.compile(r"(?<![.\w])/(tmp|work|home|root)/")  # a path that does not start with ../


REPORT = Path(__file__).resolve().parents[2] / "medical_cnn" / "report.ipynb"


def outputs_text(nb) -> str:
    return "\n".join(
        str(out.get("text", ""))
        + str(out.get("data", {}).get("text/plain", ""))
        + str(out.get("data", {}).get("text/html", ""))
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    )


def test_report_notebook_on_an_empty_folder_says_how_to_make_the_runs(execute_notebook, tmp_path):
    nb = execute_notebook(REPORT, env={"REPORT_RUNS": tmp_path})
    text = outputs_text(nb)
    assert "0 finished run(s)" in text and "python main.py conv" in text and "--study augment" in text
    assert not ABSOLUTE.search(text)  # paths are printed relative


def test_report_notebook_reads_the_tiny_runs(quick_runs, execute_notebook):
    root, _ = quick_runs
    nb = execute_notebook(REPORT, env={"REPORT_RUNS": root})
    text = outputs_text(nb)
    assert "no finished run" not in text
    for expected in (
        "pneumoniamnist",
        "mobilenet ahead in",
        "unet-noskip",
        "diverged",
        "aug-affine",
        "skipped",
        "DRIVE",
    ):
        assert expected in text
    outputs = [out.get("data", {}) for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    drawn = [data["image/png"] for data in outputs if "image/png" in data]  # plots the notebook draws itself
    linked = [data for data in outputs if "<img src=" in data.get("text/html", "")]  # published figures, by reference
    assert len(drawn) + len(linked) >= 8 and linked
    assert sum(len(i) for i in drawn) < 1_500_000  # the saved notebook stays small
    assert not ABSOLUTE.search(text)  # paths are printed relative
