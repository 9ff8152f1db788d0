"""mri_cs under faults and bad input: folder names outside the root, a full disk while a checkpoint is written,
SIGTERM, a diverged run, bad data values in every layout, a second run of a busy folder.
Each ends in one stderr line and its exit code, leaves existing run folders byte-identical and writes nothing
outside the results root."""

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from common.runs import load_checkpoint, load_json
from mri_cs import evaluate
from mri_cs import main as mri_main

from .fixtures import make_fastmri_dir, make_image_dir, write_nifti

_spec = importlib.util.spec_from_file_location("faults", Path(__file__).parents[1] / "faults.py")
faults = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(faults)

MRI_DIR = Path(mri_main.__file__).parent
COMMANDS = {
    "main": mri_main.main,
    "evaluate": lambda argv: evaluate.main(["some_run", *argv]),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", faults.BAD_NAMES)
def test_a_name_that_leaves_its_root_is_refused_before_anything_is_written(command, name, tmp_path, capsys):
    (tmp_path / "runs" / "old").mkdir(parents=True)
    (tmp_path / "runs" / "old" / "metrics.json").write_text("{}")
    line = faults.refused(
        lambda: COMMANDS[command](["--quick", "--results-root", str(tmp_path / "runs"), "--name", name]),
        tmp_path,
        capsys,
        "error: argument --name",
    )
    assert "(see " in line


def test_a_full_disk_keeps_the_last_checkpoint_and_resume_finishes(tmp_path, monkeypatch, capsys):
    argv = ["--quick", "--results-root", str(tmp_path), "--name", "full_quick"]
    hit = faults.disk_full_on_second_checkpoint(monkeypatch)
    assert faults.exit_code(lambda: mri_main.main(argv)) == 2
    line = faults.one_line(capsys.readouterr().err)
    assert (
        line
        == f"main.py: error: cannot write {hit[0]}: No space left on device; the previous file, if any, is unchanged"
    )
    run = tmp_path / "full_quick"
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 1 and faults.no_temporary_files(tmp_path)
    assert not (run / "metrics.json").exists() and not (run / ".lock").exists()
    monkeypatch.undo()  # space is free again
    metrics = mri_main.main(argv + ["--resume"])
    assert len(metrics["history"]) == 2 and load_json(run / "metrics.json")["epochs"] == 2


def test_sigterm_keeps_the_last_checkpoint_and_says_how_to_resume(tmp_path, monkeypatch, capsys):
    faults.sigterm_on_second_checkpoint(monkeypatch)
    code = faults.exit_code(lambda: mri_main.main(["--quick", "--results-root", str(tmp_path), "--name", "term_quick"]))
    err = capsys.readouterr().err
    assert code == 143 and "main.py: terminated (SIGTERM); continue with the same command plus --resume" in err
    assert "Traceback" not in err and load_checkpoint(tmp_path / "term_quick" / "checkpoint.pt")["step"] == 1
    assert faults.no_temporary_files(tmp_path) and not (tmp_path / "term_quick" / ".lock").exists()


def test_a_real_sigterm_to_a_running_process(tmp_path):
    """The signal from outside, as a scheduler sends it: exit 143 once the first checkpoint exists."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(MRI_DIR.parent)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "main.py",
            "--quick",
            "--epochs",
            "2",
            "--results-root",
            str(tmp_path),
            "--name",
            "real_quick",
        ],
        cwd=MRI_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 300  # a loaded 2-core machine takes minutes to import torch and load the data
    while not (tmp_path / "real_quick" / "checkpoint.pt").is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == 143 and "terminated (SIGTERM)" in err and "Traceback" not in err
    assert load_checkpoint(tmp_path / "real_quick" / "checkpoint.pt")["step"] >= 1


def test_a_diverged_run_exits_3_with_its_status_and_no_headline(tmp_path, capsys):
    code = faults.exit_code(lambda: mri_main.main(["--quick", "--lr", "1e6", "--results-root", str(tmp_path)]))
    out, err = capsys.readouterr()
    line = faults.one_line(err)
    assert code == 3 and line.startswith("main.py: diverged: unet: the loss") and "smaller --lr" in line
    metrics = load_json(tmp_path / "unet_drop0.3_fixed_quick" / "metrics.json")
    assert metrics["status"] == "diverged" and metrics["diverged_at_step"] >= 0 and "test PSNR" not in out


def _nan_png_folder(root: Path) -> tuple[Path, Path]:
    from PIL import Image

    folder = make_image_dir(root / "images", n=30)
    for i in range(1, 31, 2):  # every other file: some of them are guard files that no split reads
        (folder / f"{i}.png").unlink()
        Image.fromarray(np.full((40, 36), np.nan, np.float32), mode="F").save(folder / f"{i}.tif")
    return folder, folder


def _nan_nifti(root: Path) -> tuple[Path, Path]:
    import nibabel

    root.mkdir()
    path = root / "head.nii.gz"
    volume = write_nifti(path)
    volume[3, 4, 5] = np.inf
    nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(path))
    return root, path


def _nan_fastmri(root: Path) -> tuple[Path, Path]:
    make_fastmri_dir(root)
    bad = sorted((root / "singlecoil_train").glob("*.h5"))[0]
    with h5py.File(bad, "r+") as f:
        f["kspace"][0, 3, 3] = np.nan
    return root, bad


@pytest.mark.parametrize("make", [_nan_png_folder, _nan_nifti, _nan_fastmri], ids=["images", "nifti", "fastmri"])
def test_non_finite_data_is_one_line_naming_the_file(make, tmp_path, capsys):
    data, bad = make(tmp_path / "data")
    code = faults.exit_code(
        lambda: mri_main.main(["--quick", "--data-dir", str(data), "--results-root", str(tmp_path / "runs")])
    )
    line = faults.one_line(capsys.readouterr().err)
    assert code == 2 and str(bad) in line and "NaN or infinite" in line and not (tmp_path / "runs").exists()


def test_a_second_run_of_a_busy_folder_is_refused(tmp_path, capsys):
    run = tmp_path / "busy_quick"
    with faults.locked_by_another_process(run) as pid:
        faults.refused(
            lambda: mri_main.main(["--quick", "--results-root", str(tmp_path), "--name", "busy_quick"]),
            tmp_path,
            capsys,
            f"is in use by another run (process {pid})",
        )
