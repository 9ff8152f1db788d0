"""main.py end to end in --quick mode: the run folder, a trained model beating its input, resume, and bad input."""

import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from common.runs import load_checkpoint, load_json
from mri_cs import main as mri_main
from mri_cs import train

from .fixtures import corrupt_chunk, make_fastmri_dir, make_image_dir, snapshot

MRI_DIR = Path(mri_main.__file__).parent
METRIC_KEYS = {
    "train_psnr",
    "train_ssim",
    "test_psnr",
    "test_ssim",
    "zero_filled_test_psnr",
    "keep_fraction",
    "keep_in_center",
    "best_epoch",
    "best_val_psnr",
    "history",
    "wall_time_s",
    "device",
    "n_slices",
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished quick run (U-Net, fixed mask, drop 0.5, the ideal acquisition: two epochs of 16 slices do not
    learn to denoise, they do learn to remove aliasing): ``(results root, run folder, metrics)``."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("runs")
    metrics = mri_main.main(["--quick", "--drop-rate", "0.5", "--acquisition", "ideal", "--results-root", str(root)])
    return root, root / "unet_drop0.5_fixed_ideal_quick", metrics


def test_quick_run_writes_the_run_folder_and_beats_its_input(finished):
    root, run, metrics = finished
    assert METRIC_KEYS <= metrics.keys() and load_json(run / "metrics.json")["test_psnr"] == metrics["test_psnr"]
    assert metrics["keep_fraction"] == pytest.approx(round(0.5 * 32 * 32) / (32 * 32))
    # Two quick epochs are enough for the U-Net to clean up the aliasing of a random mask.
    assert metrics["test_psnr"]["mean"] > metrics["zero_filled_test_psnr"]["mean"] + 1.5
    assert metrics["history"][1]["train_loss"] < metrics["history"][0]["train_loss"]
    config = load_json(run / "config.json")
    assert config["data"]["dataset"].startswith("MNI152") and config["device"] == "cpu"
    assert config["args"]["name"] == "unet_drop0.5_fixed_ideal_quick" and config["args"]["learn_mask"] is False
    assert config["acquisition"]["kind"] == "ideal" and config["acquisition"]["tv_fully_sampled"] is None
    for name in ("mask.png", "examples.png", "curves.png", "example.npz", "checkpoint.pt", "best.pt", "config.json"):
        assert (run / name).stat().st_size > 0 and stat.S_IMODE((run / name).stat().st_mode) == 0o644
    example = np.load(run / "example.npz")
    assert example["mask"].shape == (32, 32) and float(example["psnr"]) > float(example["zero_filled_psnr"])
    assert "subsample.scores" in load_checkpoint(run / "best.pt")["model"]  # the mask travels with the weights
    assert sorted(p.name for p in root.iterdir()) == [run.name]


def test_learned_mask_moves_to_the_centre(finished, tmp_path, capsys):
    fixed = finished[2]
    argv = ["--quick", "--drop-rate", "0.5", "--learn-mask", "--acquisition", "ideal"]
    learned = mri_main.main([*argv, "--results-root", str(tmp_path)])
    assert learned["keep_in_center"] > fixed["keep_in_center"] + 0.2
    assert learned["zero_filled_test_psnr"]["mean"] > fixed["zero_filled_test_psnr"]["mean"] + 3
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert (
        last.endswith(str(tmp_path / "unet_drop0.5_learned_ideal_quick"))
        and f"{learned['test_psnr']['mean']:.2f}" in last
    )
    # Epoch 1 learns the mask in capped steps; epoch 2 is the frozen last third: the mask no longer changes.
    first, second = learned["history"]
    assert (
        learned["mask_frozen_from_epoch"] == 2 and first["mask_lr"] == pytest.approx(0.03) and second["mask_lr"] == 0.0
    )
    assert 0 < first["max_score_step"] <= 0.03 + 1e-6 and first["mask_change"] > 0
    assert second["max_score_step"] == 0.0 and second["mask_change"] == 0.0
    assert second["val_zero_filled_psnr"] == first["val_zero_filled_psnr"]
    assert fixed["mask_frozen_from_epoch"] is None and all(h["mask_change"] == 0.0 for h in fixed["history"])


@pytest.mark.parametrize(
    "psnr, dip",
    [
        ([20, 30, 31, 32, 33, 34], 0.0),
        ([20, 30, 40, 38, 39.5, 39.2], 0.8),
        ([20, 30, 40, 41, 39.9, 41.5], 1.1),
        ([20, 45, 30, 35, 40, 41], 5.0),
    ],
)
def test_stability_is_the_largest_dip_below_the_best_so_far_in_the_last_third(psnr, dip):
    history = [{"epoch": e, "val_psnr": p} for e, p in enumerate(psnr, 1)]
    out = train.stability(history, epochs=6)  # the last third: epochs 5 and 6
    assert out["val_psnr_last_third_from_epoch"] == 5
    assert out["val_psnr_last_third_max_dip_db"] == pytest.approx(dip)
    assert out["val_psnr_last_third_within_1db"] == (dip <= 1.0)
    assert [train.frozen_from(25, 1 / 3), train.frozen_from(25, 0.0), train.frozen_from(3, 1 / 3)] == [18, 26, 3]


def test_mask_step_anneals_to_zero_when_the_mask_freezes():
    factors = [train.mask_step_factor(epoch, frozen=18) for epoch in range(1, 26)]
    assert factors[0] == 1.0 and factors[8] == pytest.approx(0.5, abs=0.05) and all(f == 0.0 for f in factors[17:])
    assert all(a > b for a, b in zip(factors[:17], factors[1:17])) and factors[16] < 0.01  # falls, nearly 0 before 18
    assert train.mask_step_factor(1, frozen=2) == 1.0 and train.mask_step_factor(3, frozen=26) < 1.0


def test_interrupted_run_resumes_to_the_same_result(tmp_path, monkeypatch, capsys):
    argv = ["--quick", "--model", "vanilla", "--results-root", str(tmp_path)]
    straight = mri_main.main(argv + ["--name", "straight"])
    real_epoch = train.train_one_epoch
    calls = []

    def interrupted_in_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(train, "train_one_epoch", interrupted_in_epoch_2)
    with pytest.raises(SystemExit) as exc:
        mri_main.main(argv + ["--name", "cut"])
    assert exc.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0] and "--resume" in err[0]
    assert load_checkpoint(tmp_path / "cut_quick" / "checkpoint.pt")["step"] == 1
    monkeypatch.setattr(train, "train_one_epoch", real_epoch)
    resumed = mri_main.main(argv + ["--name", "cut", "--resume"])
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]
    for a, b in zip(resumed["history"], straight["history"]):
        assert a["val_psnr"] == pytest.approx(b["val_psnr"], rel=1e-5)
    assert resumed["test_psnr"]["mean"] == pytest.approx(straight["test_psnr"]["mean"], rel=1e-5)


@pytest.fixture(scope="module")
def bad_data(tmp_path_factory):
    """Data folders that must each end the run with one line: empty, a corrupt header, a corrupt data chunk,
    no known layout, a corrupt image, too few images."""
    base = tmp_path_factory.mktemp("bad_data")
    (base / "empty").mkdir()
    header = make_fastmri_dir(base / "header", n_train=1, n_val=2)
    (header / "singlecoil_train" / "corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    chunk = make_fastmri_dir(base / "chunk", n_train=1, n_val=2, compress=True)
    corrupt_chunk(chunk / "singlecoil_train" / "fileain000.h5", 1)  # scanning reads fine; the second slice does not
    (base / "notes").mkdir()
    (base / "notes" / "readme.txt").write_text("no data here")
    make_image_dir(base / "pngs" / "images", n=40)
    (base / "pngs" / "images" / "40.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")  # the last file is never a guard
    make_image_dir(base / "few", n=12)
    return base


BAD_INPUT = [
    (["--drop-rate", "1.0"], "argument --drop-rate"),
    (["--lr", "-1"], "argument --lr"),
    (["--epochs", "0"], "argument --epochs"),
    (["--device", "gpu"], "argument --device"),
    (["--device", "mps"], "MPS is not available"),
    (["--data-dir", "{data}/nowhere"], "is not a folder"),
    (["--drop-rate", "0.5", "--acquisition", "ideal"], "already holds a run"),
    (["--drop-rate", "0.5", "--acquisition", "ideal", "--resume"], "is finished"),
    (["--drop-rate", "0.5", "--acquisition", "ideal", "--resume", "--seed", "1"], "--seed 0 (now 1)"),
    (["--resume", "--name", "nothing-here"], "there is no run"),
    (["--results-root", "/proc/x"], "/proc/x"),
    (["--data-dir", "{data}/empty"], "no usable files"),
    (["--data-dir", "{data}/notes"], "expected one of three layouts"),
    (["--data-dir", "{data}/pngs"], "40.png is not a readable image"),
    (["--data-dir", "{data}/few"], "need at least 30"),
    (["--data-dir", "{data}/header"], "corrupt.h5"),
    (["--data-dir", "{data}/chunk"], "fileain000.h5: slice 1"),
    (["--data-dir", "{data}/chunk", "--num-workers", "1"], "fileain000.h5: slice 1"),  # raised in a worker process
]


@pytest.mark.parametrize("argv, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_changes_no_run(finished, bad_data, capsys, argv, message):
    root, run, _ = finished
    before = snapshot(root)
    argv = [a.format(data=bad_data) for a in argv]
    with pytest.raises(SystemExit) as exc:
        mri_main.main(["--quick", "--results-root", str(root)] + argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith(("usage:", " "))]  # argparse adds its usage
    assert len(lines) == 1 and lines[0].startswith("main.py: error:") and message in lines[0], err
    assert "Traceback" not in err
    assert snapshot(root) == before  # config.json, checkpoints, metrics of the existing run untouched, nothing new


def test_fastmri_quick_run(tmp_path):
    root = make_fastmri_dir(tmp_path / "fastmri", n_train=2, n_val=2, slices=2)
    metrics = mri_main.main(["--quick", "--model", "vanilla", "--data-dir", str(root), "--results-root", str(tmp_path)])
    assert metrics["n_slices"] == {"train": 16, "val": 8, "test": 8}  # --quick draws 16/8/8 slices with repeats
    assert (
        load_json(tmp_path / "vanilla_drop0.3_fixed_quick" / "config.json")["data"]["dataset"]
        == "fastMRI single-coil knee"
    )


def test_command_line_error_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "main.py", "--drop-rate", "1.5"], cwd=MRI_DIR, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.strip().splitlines()[-1].startswith(
        "main.py: error: argument --drop-rate"
    )
