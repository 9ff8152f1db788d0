"""report.ipynb and the README blocks of readme_results on fixture results folders (written by hand, no training)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lab.backprop import readme_results

NOTEBOOK = Path(__file__).resolve().parents[2] / "backprop" / "report.ipynb"
SIGMAS = ["0.01", "0.1", "0.2"]


def write_run(folder: Path, config: dict, metrics: dict, figures: tuple[str, ...] = ()) -> None:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    for name in figures:
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 1200, 3), dtype=np.uint8)).save(folder / name)


def base_args(command: str, **extra) -> dict:
    return {
        "command": command,
        "seed": 0,
        "device": "auto",
        "results_root": "runs",
        "name": None,
        "quick": False,
        "resume": False,
        "overwrite": False,
        **extra,
    }


IMAGE_ARGS = dict(
    data_dir="/somewhere/data/images/Train400",
    test_dir="/somewhere/data/images/BSD68",
    val_count=20,
    val_crop=128,
    patch_size=40,
    batch_size=16,
    steps=2500,
    lr=0.001,
    eval_every=250,
    depth=6,
)
RUN_INFO = {"device": "cpu", "torch": "2.x", "started": "2026-11-30 08:00:00"}
ARGV = {
    "argv": [
        "python",
        "main.py",
        "wiener",
        "--data-dir",
        "../data/images/Train400",
        "--test-dir",
        "../data/images/Set12",
    ]
}
IMAGES = {"name": "image folders", "n_train": 380, "n_val": 20, "n_test": 68}


def write_gradcheck(root):
    write_run(
        root / "gradcheck",
        {**ARGV, "args": base_args("gradcheck"), "dataset": {"name": "random float64 tensors"}, **RUN_INFO},
        {
            "gradcheck": {"LinearFunction": True, "ReLUFunction": True},
            "first_layer_manual_vs_autograd": {
                "max_abs_diff_weight": 3.5e-18,
                "max_abs_diff_bias": 2.6e-18,
                "match": True,
            },
        },
    )


def write_inpaint(root):
    write_run(
        root / "inpaint",
        {
            **ARGV,
            "args": base_args(
                "inpaint",
                data_dir="/somewhere/data",
                download=False,
                hidden=[512, 512],
                epochs=10,
                batch_size=64,
                lr=0.05,
                val_count=5000,
            ),
            "dataset": {"name": "MNIST", "n_train": 55000, "n_val": 5000, "n_test": 10000},
            **RUN_INFO,
        },
        {
            "test_psnr": 18.6712,
            "test_psnr_hidden_half": 15.66,
            "test_psnr_measurement": 12.51,
            "test_psnr_mean_digit_fill": 14.66,
            "best_val_psnr": 18.63,
            "best_epoch": 10,
            "train_seconds": 50.0,
            "history": [{"epoch": 1, "loss": 9.0, "val_psnr": 17.0}, {"epoch": 2, "loss": 8.0, "val_psnr": 18.63}],
        },
        ("inpainting.png",),
    )


def write_ablation(root):
    models = [
        {
            "model": f"{c}ch_{b}",
            "channels": c,
            "bias": b == "bias",
            "parameters": 1000 * c,
            "test_psnr": dict(zip(SIGMAS, [37.0 + i, 27.0 + i / 10, 19.0 + 2 * i])),
            "best_val_psnr": 30.0 + i,
            "best_step": 2500,
            "history": [{"step": 2500, "loss": 0.001, "val_psnr": 30.0 + i}],
            "train_seconds": 300.0,
        }
        for i, (c, b) in enumerate([(32, "bias"), (32, "nobias"), (64, "bias"), (64, "nobias")])
    ]
    write_run(
        root / "ablation",
        {
            **ARGV,
            "args": base_args(
                "ablation", channels=[32, 64], train_sigma=[0.0, 0.1], test_sigmas=[0.01, 0.1, 0.2], **IMAGE_ARGS
            ),
            "dataset": IMAGES,
            **RUN_INFO,
        },
        {
            "noisy_psnr": dict(zip(SIGMAS, [40.0, 20.0, 13.98])),
            "models": models,
            "chosen_on_validation": "64ch_nobias",
            "validation_sigmas": [0.01, 0.1],
            "train_sigma": [0.0, 0.1],
        },
        ("denoising_examples.png", "validation_curves.png"),
    )


def write_wiener(root):
    methods = {"blurred+noisy input": 23.89, "Wiener": 28.16, "net": 25.12, "Wiener+net": 29.9712}
    write_run(
        root / "wiener",
        {
            **ARGV,
            "args": base_args(
                "wiener",
                kernel="motion",
                kernel_size=9,
                sigmas=[0.005, 0.01, 0.02],
                channels=32,
                **{**IMAGE_ARGS, "test_dir": "/somewhere/data/images/Set12"},
            ),
            "dataset": IMAGES,
            **RUN_INFO,
        },
        {
            "test_psnr": {m: {"0.005": v, "0.01": v - 1, "0.02": v - 2} for m, v in methods.items()},
            "snr": {"0.005": 178.0, "0.01": 56.2, "0.02": 23.7},
            "kernel": [[1.0]],
            "networks": {},
        },
        ("deblurring_grid.png",),
    )


@pytest.fixture
def results(tmp_path):
    """A results/backprop folder with one run of each command."""
    root = tmp_path / "backprop"
    for write in (write_gradcheck, write_inpaint, write_ablation, write_wiener):
        write(root)
    return root


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
