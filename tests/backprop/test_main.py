"""The command line: quick modes of every sub-command on tiny fixtures and the run folders they write,
short real trainings that must beat their baselines, resume, and one-line errors that change no file."""

import contextlib
import importlib.util
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from backprop.main import main
from common.runs import load_checkpoint

_spec = importlib.util.spec_from_file_location("backprop_fixtures", Path(__file__).with_name("fixtures.py"))
fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures)

REPO = Path(__file__).resolve().parents[2]


def run_main(argv) -> list[str]:
    """``main(argv)``; returns the lines it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main([str(a) for a in argv])
    return out.getvalue().strip().splitlines()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run all four sub-commands in --quick mode once; returns (results root, data folder, last lines)."""
    base = tmp_path_factory.mktemp("backprop")
    fixtures.write_mnist_raw(base / "mnist", n_train=260, n_test=20)
    fixtures.write_image_folder(base / "train", 8, 48, 56, seed=0)
    fixtures.write_image_folder(base / "test", 2, 64, 64, seed=1)
    root = base / "runs"
    images = ["--data-dir", base / "train", "--test-dir", base / "test", "--val-count", "2", "--channels"]
    last = {
        "gradcheck": run_main(["gradcheck", "--quick", "--results-root", root])[-1],
        "inpaint": run_main(["inpaint", "--quick", "--data-dir", base / "mnist", "--results-root", root])[-1],
        "ablation": run_main(["--quick", "ablation", "--results-root", root, *images, "4", "8"])[-1],
        "wiener": run_main(["wiener", "--quick", "--results-root", root, *images, "4"])[-1],
    }
    return root, base, last


def read(path: Path):
    return json.loads(path.read_text())


def test_quick_runs_get_their_own_folders_and_say_so_last(runs):
    root, _, last = runs
    assert sorted(p.name for p in root.iterdir()) == [
        "ablation_quick",
        "gradcheck_quick",
        "inpaint_quick",
        "wiener_quick",
    ]
    for command, line in last.items():
        assert line.startswith(f"{root / (command + '_quick')}: ")
        assert ("dB" in line) if command != "gradcheck" else ("4/4 passed" in line)
        assert read(root / f"{command}_quick" / "config.json")["args"]["quick"] is True


def test_gradcheck_run_records_passing_checks(runs):
    root, _, _ = runs
    metrics = read(root / "gradcheck_quick" / "metrics.json")
    assert all(metrics["gradcheck"].values()) and len(metrics["gradcheck"]) == 4
    assert metrics["first_layer_manual_vs_autograd"]["match"]
    config = read(root / "gradcheck_quick" / "config.json")
    assert config["device"] == "cpu" and config["args"]["command"] == "gradcheck" and config["args"]["seed"] == 0


def test_inpaint_run_folder(runs):
    root, _, _ = runs
    folder = root / "inpaint_quick"
    metrics, config = read(folder / "metrics.json"), read(folder / "config.json")
    assert config["dataset"]["name"] == "MNIST" and config["dataset"]["n_test"] == 20
    assert config["dataset"]["n_train"] + config["dataset"]["n_val"] == 260
    for key in ("test_psnr", "test_psnr_hidden_half", "test_psnr_measurement", "test_psnr_mean_digit_fill"):
        assert math.isfinite(metrics[key])
    assert metrics["test_psnr"] > metrics["test_psnr_hidden_half"]  # the measured half is exact
    assert (folder / "inpainting.png").stat().st_size > 0
    weights = load_checkpoint(folder / "inpaint_net.pt")["best_model"]
    assert weights["0.weight"].shape == (64, 784)
    log = (folder / "log.csv").read_text().splitlines()  # one row per epoch, written as the run went
    assert log[0] == "epoch,loss,val_psnr" and len(log) == 1 + config["args"]["epochs"]


def test_ablation_run_folder_has_the_full_table(runs):
    root, _, _ = runs
    folder = root / "ablation_quick"
    metrics = read(folder / "metrics.json")
    assert [m["model"] for m in metrics["models"]] == ["4ch_bias", "4ch_nobias", "8ch_bias", "8ch_nobias"]
    for m in metrics["models"]:
        assert set(m["test_psnr"]) == {"0.01", "0.1", "0.2"}
        assert all(math.isfinite(v) for v in m["test_psnr"].values())
    assert metrics["validation_sigmas"] == [0.01, 0.1]
    best = max(metrics["models"], key=lambda m: m["best_val_psnr"])
    assert metrics["chosen_on_validation"] == best["model"]
    no_bias = load_checkpoint(folder / "4ch_nobias.pt")["best_model"]
    assert not any(k.endswith("bias") for k in no_bias)
    config = read(folder / "config.json")
    assert config["dataset"]["name"] == "image folders" and config["dataset"]["n_val"] == 2
    assert len((folder / "table.md").read_text().strip().splitlines()) == 2 + 1 + 4
    assert (folder / "denoising_examples.png").exists() and (folder / "validation_curves.png").exists()


def test_wiener_run_folder_has_four_methods_at_three_levels(runs):
    root, _, _ = runs
    metrics = read(root / "wiener_quick" / "metrics.json")
    assert set(metrics["test_psnr"]) == {"blurred+noisy input", "Wiener", "net", "Wiener+net"}
    for row in metrics["test_psnr"].values():
        assert set(row) == {"0.005", "0.01", "0.02"}
    snrs = [metrics["snr"][s] for s in ("0.005", "0.01", "0.02")]
    assert snrs[0] >= snrs[1] >= snrs[2]  # more noise, less trust in the data
    assert metrics["test_psnr"]["Wiener"]["0.005"] > metrics["test_psnr"]["blurred+noisy input"]["0.005"] + 2
    for name in ("net_noisy.pt", "net_wiener.pt", "deblurring_grid.png", "kernel.png"):
        assert (root / "wiener_quick" / name).exists()


def test_resume_reloads_finished_checkpoints_instead_of_retraining(runs):
    root, base, _ = runs
    before = read(root / "ablation_quick" / "metrics.json")
    run_main(
        [
            "ablation",
            "--quick",
            "--resume",
            "--results-root",
            root,
            "--data-dir",
            base / "train",
            "--test-dir",
            base / "test",
            "--val-count",
            "2",
            "--channels",
            "4",
            "8",
        ]
    )
    after = read(root / "ablation_quick" / "metrics.json")
    assert after["models"] == before["models"]


def test_inpainting_trained_a_few_epochs_beats_both_baselines(tmp_path):
    """On digits whose hidden half follows from the top half, the trained network must beat filling
    the hidden half with zeros (the measurement) and with the mean training digit, by a margin."""
    fixtures.write_mnist_raw(tmp_path / "mnist", n_train=400, n_test=40)
    last = run_main(
        [
            "inpaint",
            "--data-dir",
            tmp_path / "mnist",
            "--results-root",
            tmp_path / "runs",
            "--epochs",
            "4",
            "--hidden",
            "64",
            "--val-count",
            "40",
            "--batch-size",
            "16",
        ]
    )[-1]
    metrics = read(tmp_path / "runs" / "inpaint" / "metrics.json")
    assert metrics["test_psnr"] > metrics["test_psnr_mean_digit_fill"] + 3 > metrics["test_psnr_measurement"] + 3
    assert metrics["best_epoch"] >= 2 and f"{metrics['test_psnr']:.2f} dB" in last


def test_denoiser_trained_briefly_beats_the_noisy_input(runs, tmp_path):
    _, base, _ = runs
    run_main(
        [
            "ablation",
            "--data-dir",
            base / "train",
            "--test-dir",
            base / "test",
            "--val-count",
            "2",
            "--channels",
            "8",
            "--steps",
            "60",
            "--eval-every",
            "20",
            "--patch-size",
            "24",
            "--batch-size",
            "8",
            "--val-crop",
            "48",
            "--results-root",
            tmp_path,
        ]
    )
    metrics = read(tmp_path / "ablation" / "metrics.json")
    chosen = next(m for m in metrics["models"] if m["model"] == metrics["chosen_on_validation"])
    assert chosen["test_psnr"]["0.1"] > metrics["noisy_psnr"]["0.1"] + 0.3


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


BAD_INPUT = {
    "negative lr": ["inpaint", "--lr", "-1"],
    "zero epochs": ["inpaint", "--epochs", "0"],
    "zero steps": ["ablation", "--steps", "0"],
    "even kernel": ["wiener", "--kernel-size", "4"],
    "sigma range reversed": ["ablation", "--train-sigma", "0.2", "0.1"],
    "sigma above one": ["wiener", "--sigmas", "2"],
    "unknown device": ["gradcheck", "--device", "gpu"],
    "absent device": ["gradcheck", "--device", "mps"],
    "missing MNIST": ["inpaint", "--data-dir", "{tmp}/nothing"],
    "download into a missing folder": ["inpaint", "--download", "--data-dir", "{tmp}/nothing"],
    "missing image folder": ["ablation", "--data-dir", "{tmp}/nothing", "--test-dir", "{tmp}/nothing"],
    "no test folder": ["wiener", "--data-dir", "{base}/train"],
    "corrupt image": ["ablation", "--data-dir", "{tmp}/corrupt", "--test-dir", "{base}/test", "--val-count", "2"],
    "too few images": ["wiener", "--data-dir", "{base}/train", "--test-dir", "{base}/test", "--val-count", "8"],
    "resume of a missing run": ["inpaint", "--resume", "--name", "never_ran", "--data-dir", "{base}/mnist"],
    "new run into a finished one": ["inpaint", "--quick", "--data-dir", "{base}/mnist"],
    "resume with another seed": ["inpaint", "--quick", "--resume", "--seed", "3", "--data-dir", "{base}/mnist"],
    "resume with other options": [
        "--quick",
        "ablation",
        "--resume",
        "--channels",
        "4",
        "--data-dir",
        "{base}/train",
        "--test-dir",
        "{base}/test",
        "--val-count",
        "2",
    ],
    "unwritable results root": ["gradcheck", "--results-root", "/proc/x"],
}


@pytest.mark.parametrize("argv", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_one_line_and_changes_no_file(argv, runs, tmp_path, capsys):
    root, base, _ = runs
    (tmp_path / "corrupt").mkdir()
    fixtures.write_image_folder(tmp_path / "corrupt", 4, 48, 48, seed=3)
    (tmp_path / "corrupt" / "img_002.png").write_bytes(b"\x89PNG truncated")
    before = {name: snapshot(root / name) for name in ("inpaint_quick", "ablation_quick")}
    argv = [a.format(tmp=tmp_path, base=base) for a in argv]
    if "--results-root" not in argv:
        argv += ["--results-root", str(root)]
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and err.startswith("main.py")
    assert {name: snapshot(root / name) for name in before} == before
    assert sorted(p.name for p in root.iterdir()) == [
        "ablation_quick",
        "gradcheck_quick",
        "inpaint_quick",
        "wiener_quick",
    ]
    assert not (tmp_path / "nothing").exists()


def test_interrupt_is_one_line_with_the_resume_command(monkeypatch, tmp_path, capsys):
    import backprop.gradcheck

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(backprop.gradcheck, "gradchecks", interrupted)
    with pytest.raises(SystemExit) as info:
        main(["gradcheck", "--results-root", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 130 and len(err) == 1 and "--resume --name gradcheck" in err[0]
    assert not (tmp_path / "gradcheck").exists()  # nothing was checkpointed, so nothing is left


def test_help_is_instant_and_imports_no_torch():
    code = "import backprop.main, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    out = subprocess.run(
        [sys.executable, "backprop/main.py", "ablation", "--help"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    assert "--seed" in out and "--results-root" in out and "None" not in out
    assert out.count("(default: 2500)") == 1
