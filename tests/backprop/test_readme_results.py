"""The README blocks that lab/backprop/readme_results.py renders from published runs
(the starter leaves this file out: it tests the lab)."""

import json
from pathlib import Path

from lab.backprop import readme_results

NOTEBOOK = Path(__file__).resolve().parents[2] / "backprop" / "report.ipynb"


def cells(block: str) -> list[list[str]]:
    """The body rows of the Markdown table in ``block``, as lists of stripped cells."""
    return [[c.strip() for c in line.split("|")[1:-1]] for line in block.splitlines() if line.startswith("| ")][1:]


def blocks(results: Path) -> dict[str, str]:
    return {
        "gradcheck": readme_results.gradcheck(results),
        "inpaint": readme_results.inpaint(results),
        "ablation": readme_results.psnr_table("ablation", results),
        "wiener": readme_results.psnr_table("wiener", results),
    }


def test_blocks_show_the_published_numbers_and_commands(results):
    text = blocks(results)
    assert cells(text["gradcheck"]) == [
        ["gradcheck of `LinearFunction` in float64", "passes"],
        ["gradcheck of `ReLUFunction` in float64", "passes"],
        ["first layer, hand-derived vs autograd: `max_abs_diff_weight`", "3.5e-18"],
        ["first layer, hand-derived vs autograd: `max_abs_diff_bias`", "2.6e-18"],
    ]
    assert ["`test_psnr`", "18.67"] in cells(text["inpaint"]) and ["`best_epoch`", "10"] in cells(text["inpaint"])
    assert ["`test_psnr_mean_digit_fill`", "14.66"] in cells(text["inpaint"]) and "inpaint/`, made with" in text[
        "inpaint"
    ]
    assert cells(text["ablation"]) == [
        ["noisy input", "40.00", "20.00", "13.98"],
        ["`32ch_bias`", "37.00", "27.00", "19.00"],
        ["`32ch_nobias`", "38.00", "27.10", "21.00"],
        ["`64ch_bias`", "39.00", "27.20", "23.00"],
        ["`64ch_nobias` (chosen on validation)", "40.00", "27.30", "25.00"],
    ]
    assert "| test PSNR (dB)" in text["ablation"] and "sigma=0.2 " in text["ablation"] and "20 min)" in text["ablation"]
    assert cells(text["wiener"])[3:] == [
        ["Wiener+net", "29.97", "28.97", "27.97"],
        ["Wiener `snr` (chosen on validation)", "178", "56.2", "23.7"],
    ]
    assert (
        "`python main.py wiener --data-dir ../data/images/Train400 --test-dir ../data/images/Set12`" in text["wiener"]
    )  # the argv config.json recorded
    assert all("Run `" in block and "device `cpu`" in block and "/somewhere" not in block for block in text.values())


def test_headline_and_blocks_of_runs_missing_some_numbers(results):
    assert cells(readme_results.headline(results)) == [
        ["`gradcheck`", "2 of 2 gradchecks pass in float64"],
        ["`inpaint`", "test PSNR 18.67 dB (measurement 12.51 dB)"],
        ["`ablation`", "64ch_nobias (chosen on validation): 40.00 / 27.30 / 25.00 dB at sigma = 0.01 / 0.1 / 0.2"],
        ["`wiener`", "Wiener+net: 29.97 / 28.97 / 27.97 dB at sigma = 0.005 / 0.01 / 0.02"],
    ]
    drop = {"gradcheck": "first_layer_manual_vs_autograd", "inpaint": "test_psnr_mean_digit_fill"}
    drop |= {"ablation": "chosen_on_validation", "wiener": "snr"}
    for name, key in drop.items():
        metrics = json.loads((results / name / "metrics.json").read_text())
        del metrics[key]
        (results / name / "metrics.json").write_text(json.dumps(metrics))
    text = blocks(results)
    assert len(cells(text["gradcheck"])) == 2 and "mean_digit_fill" not in text["inpaint"]
    assert "chosen" not in text["ablation"] and len(cells(text["ablation"])) == 5
    assert "snr" not in text["wiener"] and len(cells(text["wiener"])) == 4
