"""auto_decoder/report.ipynb runs headless on an empty folder and on fixture run folders."""

import re
from pathlib import Path

from auto_decoder.summary import EXPECTED
from common.runs import load_json

NOTEBOOK = Path(__file__).resolve().parents[2] / "auto_decoder" / "report.ipynb"


def outputs(nb) -> str:
    parts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            parts.append(
                o.get("text", "")
                + str(o.get("data", {}).get("text/plain", ""))
                + str(o.get("data", {}).get("text/markdown", ""))
                + str(o.get("data", {}).get("text/html", ""))
            )
    return "".join(parts)


def absolute_paths(text: str) -> list[str]:
    return re.findall(r"(?:^|[\s'\"(=])(/[\w.-]+/\S*)", text)


def test_report_on_an_empty_folder_says_which_commands_make_the_runs(tmp_path, execute_notebook):
    text = outputs(execute_notebook(NOTEBOOK, env={"REPORT_RUNS": tmp_path}))
    assert "0 model runs" in text and "python main.py vad --family laplace" in text
    assert absolute_paths(text) == []  # relative paths only


def test_report_on_tiny_runs(tiny_runs, execute_notebook):
    nb = execute_notebook(NOTEBOOK, env={"REPORT_RUNS": tiny_runs})
    text = outputs(nb)
    m = load_json(tiny_runs / "vad-gaussian-n256_quick" / "metrics.json")
    assert "ad-n256_quick" in text and f"{m['test_reconstruction_loss']:.4f}" in text
    data = [o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])]
    images = sum("image/png" in d or "<img " in str(d.get("text/html", "")) for d in data)  # embedded or linked
    assert images >= 4 * 3  # four figures of each of the three model runs (plus the loss curves)
    assert absolute_paths(text) == []


def test_expected_full_set_commands_parse_to_their_run_names():
    """The README's commands make exactly the runs it expects (a typo in EXPECTED would not)."""
    from auto_decoder.main import parse

    for name, argv in EXPECTED.items():
        args = parse([*argv, "--data-dir", "DATA"])
        assert args.name == name
        if name.endswith("-full"):
            assert args.subset == 0 and args.val_size > 0 and args.epochs < 150
