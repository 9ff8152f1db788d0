"""main.py end to end in --quick mode, resuming, and the one-line errors."""
import subprocess
import sys
from pathlib import Path

import pytest

from common.runs import load_json, load_checkpoint
from mri_cs import main as mri_main

from .fixtures import make_fastmri_dir

MRI_DIR = Path(mri_main.__file__).parent
METRIC_KEYS = {"train_psnr", "train_ssim", "test_psnr", "test_ssim", "zero_filled_test_psnr", "keep_fraction",
               "wall_time_s", "device"}


def test_quick_run_writes_the_run_folder(tmp_path):
    mri_main.main(["--quick", "--learn-mask", "--drop-rate", "0.5", "--results-root", str(tmp_path), "--run-name", "q"])
    run = tmp_path / "q"
    metrics = load_json(run / "metrics.json")
    assert METRIC_KEYS <= metrics.keys()
    for key in ("train_psnr", "test_psnr", "test_ssim", "zero_filled_test_psnr"):
        assert set(metrics[key]) == {"mean", "std"}
    assert metrics["keep_fraction"] == pytest.approx(round(0.5 * 32 * 32) / (32 * 32))
    config = load_json(run / "config.json")
    assert config["data"]["dataset"].startswith("MNI152") and config["device"] == "cpu"
    assert config["args"]["learn_mask"] is True
    for name in ("mask.png", "examples.png", "curves.png", "checkpoint.pt", "best.pt"):
        assert (run / name).stat().st_size > 0
    assert "subsample.scores" in load_checkpoint(run / "best.pt")["model"]  # the mask travels with the weights


def test_resume_continues_an_interrupted_run(tmp_path):
    common = ["--quick", "--results-root", str(tmp_path), "--run-name", "r", "--model", "vanilla"]
    mri_main.main(common + ["--epochs", "1"])  # stands in for a run stopped after epoch 1
    first = load_checkpoint(tmp_path / "r" / "checkpoint.pt")["history"]
    (tmp_path / "r" / "metrics.json").unlink()
    metrics = mri_main.main(common + ["--epochs", "2", "--resume"])
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert metrics["history"][0] == first[0]


@pytest.mark.parametrize("argv, message", [
    (["--drop-rate", "1.0"], "--drop-rate must be in [0, 1)"),
    (["--drop-rate", "-0.2"], "--drop-rate must be in [0, 1)"),
    (["--lr", "-0.001"], "--lr must not be negative"),
    (["--mask-lr", "-1"], "--mask-lr must not be negative"),
    (["--resume", "--run-name", "nothing-here"], "no checkpoint"),
])
def test_bad_arguments_end_with_one_clear_line(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        mri_main.main(argv + ["--quick", "--results-root", str(tmp_path)])
    text = str(exc.value.code) if isinstance(exc.value.code, str) else capsys.readouterr().err.strip().splitlines()[-1]
    assert text.startswith("main.py: error:") and message in text and "\n" not in text


def test_data_dir_without_usable_files_or_with_a_corrupt_file(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as exc:
        mri_main.main(["--quick", "--data-dir", str(empty), "--results-root", str(tmp_path)])
    assert str(exc.value.code).startswith("main.py: error: no usable files") and "singlecoil_train" in str(exc.value.code)
    root = make_fastmri_dir(tmp_path / "fastmri", n_train=1, n_val=2)
    (root / "singlecoil_train" / "corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(SystemExit) as exc:
        mri_main.main(["--quick", "--data-dir", str(root), "--results-root", str(tmp_path)])
    assert str(exc.value.code).startswith("main.py: error:") and "corrupt.h5" in str(exc.value.code)


def test_fastmri_quick_run(tmp_path):
    root = make_fastmri_dir(tmp_path / "fastmri", n_train=2, n_val=2, slices=2)
    metrics = mri_main.main(["--quick", "--model", "vanilla", "--data-dir", str(root), "--results-root", str(tmp_path)])
    assert metrics["n_slices"] == {"train": 16, "val": 8, "test": 8}  # --quick draws 16/8/8 slices with repeats
    assert load_json(tmp_path / "vanilla_drop0.3_fixed_quick" / "config.json")["data"]["dataset"] == "fastMRI single-coil knee"


def test_command_line_error_has_no_traceback():
    proc = subprocess.run([sys.executable, "main.py", "--drop-rate", "1.5"], cwd=MRI_DIR, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.strip().splitlines()[-1].startswith("main.py: error: --drop-rate")
