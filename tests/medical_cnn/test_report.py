"""report.ipynb runs headless on tiny run folders and shows every study."""
from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "medical_cnn" / "report.ipynb"


def test_report_notebook_reads_the_tiny_runs(quick_runs, execute_notebook):
    root, _ = quick_runs
    nb = execute_notebook(REPORT, env={"MEDICAL_CNN_RUNS": root})
    text = "\n".join(
        str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
        for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )
    assert "no finished run" not in text
    for expected in ("pneumoniamnist", "mobilenet ahead in", "unet-noskip", "diverged", "aug-affine", "skipped", "DRIVE"):
        assert expected in text
    images = sum("image/png" in out.get("data", {}) for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", []))
    assert images >= 8
