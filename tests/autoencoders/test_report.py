"""autoencoders/report.ipynb runs headless on an empty folder and on fixture run folders."""

import re
from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "autoencoders" / "report.ipynb"


def outputs_text(nb) -> tuple[str, int]:
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    text = "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "") + o.get("data", {}).get("text/html", "")
        for o in outputs
    )
    data = [o.get("data", {}) for o in outputs]  # a figure is embedded (image/png) or linked (<img src=...>)
    return text, sum("image/png" in d or "<img " in str(d.get("text/html", "")) for d in data)


def test_report_runs_on_published_runs(published, execute_notebook):
    text, images = outputs_text(execute_notebook(REPORT, env={"REPORT_RUNS": published}))
    assert (
        "AutoEncoder_CNN" in text
        and "SYNTHETIC" in text
        and "test accuracy, last epoch" in text
        and "best test accuracy over epochs (optimistic)" in text
    )
    assert "pituitary" in text  # the per-type test scores of the brain-tumour run
    assert images >= 6
    assert re.search(r"(^|[\s'\"(:])/(tmp|work|root|home)", text) is None, text  # only relative paths


def test_report_on_an_empty_folder_says_how_to_make_the_runs(tmp_path, execute_notebook):
    text, images = outputs_text(execute_notebook(REPORT, env={"REPORT_RUNS": tmp_path}))
    assert "python main.py cifar" in text and "lab.publish" not in text and images == 0
