"""Quick modes of every sub-command on tiny fixtures, the run folders they write, resume,
one-line errors, and the report notebook on those runs."""
import importlib.util
import json
import math
from pathlib import Path

import pytest

from backprop.main import main
from common.runs import load_checkpoint

_spec = importlib.util.spec_from_file_location("backprop_fixtures", Path(__file__).with_name("fixtures.py"))
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)

NOTEBOOK = Path(__file__).resolve().parents[2] / "backprop" / "report.ipynb"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run all four sub-commands in --quick mode once; returns (results root, data folders)."""
    base = tmp_path_factory.mktemp("backprop")
    fixtures.write_mnist_raw(base / "mnist", n_train=260, n_test=20)
    fixtures.write_image_folder(base / "train", 8, 48, 56, seed=0)
    fixtures.write_image_folder(base / "test", 2, 64, 64, seed=1)
    root = base / "runs"
    images = ["--data-dir", str(base / "train"), "--test-dir", str(base / "test"), "--val-count", "2", "--channels"]
    main(["gradcheck", "--results-root", str(root)])
    main(["inpaint", "--quick", "--data-dir", str(base / "mnist"), "--results-root", str(root)])
    main(["ablation", "--quick", "--results-root", str(root), *images, "4", "8"])
    main(["wiener", "--quick", "--results-root", str(root), *images, "4"])
    return root, base


def read(path: Path):
    return json.loads(path.read_text())


def test_gradcheck_run_records_passing_checks(runs):
    root, _ = runs
    metrics = read(root / "gradcheck" / "metrics.json")
    assert all(metrics["gradcheck"].values()) and len(metrics["gradcheck"]) == 4
    assert metrics["first_layer_manual_vs_autograd"]["match"]
    assert read(root / "gradcheck" / "config.json")["device"] == "cpu"


def test_inpaint_run_folder(runs):
    root, base = runs
    folder = root / "inpaint"
    metrics, config = read(folder / "metrics.json"), read(folder / "config.json")
    assert config["dataset"]["name"] == "MNIST" and config["dataset"]["n_test"] == 20
    assert config["dataset"]["n_train"] + config["dataset"]["n_val"] == 260
    for key in ("test_psnr", "test_psnr_hidden_half", "test_psnr_measurement", "test_psnr_mean_digit_fill"):
        assert math.isfinite(metrics[key])
    assert metrics["test_psnr"] > metrics["test_psnr_hidden_half"]  # the measured half is exact
    assert (folder / "inpainting.png").stat().st_size > 0
    weights = load_checkpoint(folder / "inpaint_net.pt")["best_model"]
    assert weights["0.weight"].shape == (64, 784)


def test_ablation_run_folder_has_the_full_table(runs):
    root, _ = runs
    folder = root / "ablation"
    metrics = read(folder / "metrics.json")
    assert [m["model"] for m in metrics["models"]] == ["4ch_bias", "4ch_nobias", "8ch_bias", "8ch_nobias"]
    for m in metrics["models"]:
        assert set(m["test_psnr"]) == {"0.01", "0.1", "0.2"}
        assert all(math.isfinite(v) for v in m["test_psnr"].values())
    assert metrics["validation_sigmas"] == [0.01, 0.1]
    assert metrics["chosen_on_validation"] in {m["model"] for m in metrics["models"]}
    no_bias = load_checkpoint(folder / "4ch_nobias.pt")["best_model"]
    assert not any(k.endswith("bias") for k in no_bias)
    config = read(folder / "config.json")
    assert config["dataset"]["name"] == "image folders" and config["dataset"]["n_val"] == 2
    assert len((folder / "table.md").read_text().strip().splitlines()) == 2 + 1 + 4
    assert (folder / "denoising_examples.png").exists() and (folder / "validation_curves.png").exists()


def test_wiener_run_folder_has_three_methods_at_three_levels(runs):
    root, _ = runs
    metrics = read(root / "wiener" / "metrics.json")
    assert set(metrics["test_psnr"]) == {"blurred+noisy input", "Wiener", "net", "Wiener+net"}
    for row in metrics["test_psnr"].values():
        assert set(row) == {"0.005", "0.01", "0.02"}
    snrs = [metrics["snr"][s] for s in ("0.005", "0.01", "0.02")]
    assert snrs[0] >= snrs[1] >= snrs[2]  # more noise, less trust in the data
    assert metrics["test_psnr"]["Wiener"]["0.005"] > metrics["test_psnr"]["blurred+noisy input"]["0.005"]
    for name in ("net_noisy.pt", "net_wiener.pt", "deblurring_grid.png", "kernel.png"):
        assert (root / "wiener" / name).exists()


def test_resume_reloads_finished_checkpoints_instead_of_retraining(runs):
    root, base = runs
    before = read(root / "ablation" / "metrics.json")
    main(["ablation", "--quick", "--resume", "--results-root", str(root), "--data-dir", str(base / "train"),
          "--test-dir", str(base / "test"), "--val-count", "2", "--channels", "4", "8"])
    after = read(root / "ablation" / "metrics.json")
    assert after["models"] == before["models"]


@pytest.mark.parametrize("argv, expected", [
    (["ablation", "--data-dir", "/nonexistent/train", "--test-dir", "/nonexistent/test"], "does not exist"),
    (["inpaint", "--data-dir", "/nonexistent"], "MNIST/raw"),
    (["wiener", "--data-dir", "/nonexistent/train"], "--test-dir"),
])
def test_missing_data_ends_with_one_line(argv, expected, tmp_path):
    with pytest.raises(SystemExit) as info:
        main([*argv, "--results-root", str(tmp_path)])
    message = str(info.value.code)
    assert expected in message and "\n" not in message and message.startswith("main.py")


@pytest.mark.parametrize("argv", [["ablation", "--steps", "0"], ["wiener", "--kernel-size", "4"],
                                  ["ablation", "--train-sigma", "0.2", "0.1"], ["gradcheck", "--device", "cuda:7"]])
def test_bad_flags_are_argparse_errors(argv, capsys):
    import torch

    if "cuda:7" in argv and torch.cuda.is_available():
        pytest.skip("a CUDA machine may have that device")
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_report_notebook_runs_on_the_quick_runs(runs, execute_notebook):
    root, _ = runs
    nb = execute_notebook(NOTEBOOK, env={"BACKPROP_RUNS": root})
    text = "\n".join(str(o.get("data", {}).get("text/markdown", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "No finished" not in text
    assert "4ch_nobias" in text and "Wiener+net" in text and "--quick smoke run" in text
    assert "best model - noisy input" in text and "### `ablation`" in text
