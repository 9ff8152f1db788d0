"""A two-case sweep in --quick mode, then the report notebook on its folders."""
import csv
from pathlib import Path

from mri_cs import sweep

NOTEBOOK = Path(sweep.__file__).parent / "report.ipynb"


def test_quick_sweep_and_report(tmp_path, execute_notebook):
    root = tmp_path / "sweep"
    sweep.main(["--drop-rates", "0.3", "--quick", "--results-root", str(root)])
    with open(root / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["model"], r["mask"]) for r in rows] == [("unet", "fixed"), ("unet", "learned"), ("vanilla", "fixed")]
    assert all(float(r["drop_rate"]) == 0.3 for r in rows)
    assert (root / "results.md").read_text().count("\n") == 5 and (root / "sweep.png").stat().st_size > 0
    mtime = (root / "drop0.3_fixed" / "metrics.json").stat().st_mtime
    sweep.main(["--drop-rates", "0.3", "--quick", "--results-root", str(root)])  # finished cases are skipped
    assert (root / "drop0.3_fixed" / "metrics.json").stat().st_mtime == mtime
    nb = execute_notebook(NOTEBOOK, env={"MRI_CS_SWEEP_DIR": root})
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "learned - fixed" in outputs and "| unet | 0.3 | fixed |" in outputs
