"""common: folder names stay inside their root, failed writes leave nothing half-written, divergence
stops a run, SIGTERM and a second run of the same folder are handled (the mechanisms every package uses)."""

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from common import checks, cli, runs
from common.guard import DivergenceGuard

REPO = Path(__file__).resolve().parents[2]


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["..", "../up", "a/b", "/abs", "", " ", "tab\there", "nul\x00", ".", "a\\b"])
def test_folder_name_refuses_anything_but_one_folder(name):
    with pytest.raises(ValueError):
        cli.check_folder_name(name)


def test_folder_name_keeps_plain_names():
    assert cli.folder_name("unet_drop0.3-learned") == "unet_drop0.3-learned"


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize(
    "save, patch",
    [
        (lambda p: runs.save_checkpoint(p, {"w": torch.ones(3)}), "torch.save"),
        (lambda p: runs.save_json(p, {"a": 1}), "json.dump"),
        (lambda p: runs.save_npz(p, a=np.ones(3)), "numpy.savez_compressed"),
        (lambda p: runs.save_text(p, "x,y\n"), "pathlib.Path.write_text"),
    ],
)
def test_a_full_disk_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch, save, patch):
    target = tmp_path / "file.out"
    target.write_bytes(b"previous")
    monkeypatch.setattr(patch, enospc)
    with pytest.raises(cli.RunError, match=rf"cannot write {target}: No space left on device"):
        save(target)
    assert target.read_bytes() == b"previous" and sorted(p.name for p in tmp_path.iterdir()) == ["file.out"]


def test_torch_s_write_failure_is_a_run_error(tmp_path, monkeypatch):
    def failing(obj, f, **kw):
        Path(f).write_bytes(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file data/0")

    monkeypatch.setattr("torch.save", failing)
    with pytest.raises(cli.RunError, match="cannot write"):
        runs.save_checkpoint(tmp_path / "checkpoint.pt", {})
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_whose_config_cannot_be_written_is_removed(tmp_path, monkeypatch):
    monkeypatch.setattr("json.dump", enospc)
    with pytest.raises(cli.RunError):
        with runs.run_folder(tmp_path, "a", {"args": {}}):
            pass
    assert list(tmp_path.iterdir()) == []


def test_the_guard_stops_on_nan_and_on_an_explosion():
    guard = DivergenceGuard("mlp")
    for step, loss in enumerate([2.3, 1.0, 50.0, 0.5]):  # a spike below 100x the start is training
        guard.check(loss, step)
    with pytest.raises(cli.Diverged, match="mlp: the loss exploded") as e:
        guard.check(231.0, 4)
    assert e.value.record == {"status": "diverged", "diverged_at_step": 4, "loss": 231.0, "where": "mlp"}
    with pytest.raises(cli.Diverged, match="the loss is nan at step 0") as e:
        DivergenceGuard().check(torch.tensor(float("nan")), 0, epoch=1)
    assert e.value.record["loss"] == "nan" and e.value.record["epoch"] == 1


def test_a_diverged_run_keeps_its_folder_with_the_status(tmp_path):
    with pytest.raises(cli.Diverged):
        with runs.run_folder(tmp_path, "a", {"args": {}}):
            DivergenceGuard().check(float("inf"), 7)
    assert runs.load_json(tmp_path / "a" / "metrics.json")["status"] == "diverged"
    assert runs.load_json(tmp_path / "a" / "metrics.json")["diverged_at_step"] == 7
    assert not (tmp_path / "a" / runs.LOCK_NAME).exists()


def test_run_command_exit_codes(capsys):
    def diverge():
        raise cli.Diverged("mlp: the loss is nan at step 3")

    with pytest.raises(SystemExit) as e:
        cli.run_command("main.py", diverge)
    assert e.value.code == cli.EXIT_DIVERGED
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "main.py: diverged: mlp: the loss is nan at step 3; run it again with a smaller --lr (and --overwrite)"
    ]

    def terminate():
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(SystemExit) as e:
        cli.run_command("main.py", terminate, resume_hint="add --resume")
    assert e.value.code == cli.EXIT_TERMINATED and "terminated (SIGTERM); add --resume" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is not cli._raise_terminated  # the handler is put back

    def worker_died_of_it():  # SIGTERM cut a cleanup short, then a DataLoader worker's death is reported
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except cli.Terminated:
            pass
        raise RuntimeError("DataLoader worker (pid 1) is killed by signal: Terminated.")

    with pytest.raises(SystemExit) as e:
        cli.run_command("main.py", worker_died_of_it)
    assert e.value.code == cli.EXIT_TERMINATED and capsys.readouterr().err.strip() == "main.py: terminated (SIGTERM)"


def test_a_second_run_of_a_locked_folder_is_refused(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        run_dir = tmp_path / "a"
        run_dir.mkdir()
        (run_dir / runs.LOCK_NAME).write_text(f"{other.pid}\n")
        before = snapshot(run_dir)
        with pytest.raises(cli.RunError, match=f"in use by another run \\(process {other.pid}\\)"):
            runs.check_run_dir(tmp_path, "a")
        with pytest.raises(cli.RunError, match="in use"):
            with runs.run_folder(tmp_path, "a", {"args": {}}, overwrite=True):
                pass
        assert snapshot(run_dir) == before
    finally:
        other.kill()
        other.wait()
    with runs.run_folder(tmp_path, "a", {"args": {}}, overwrite=True) as run_dir:  # a stale lock is taken over
        assert (run_dir / runs.LOCK_NAME).read_text().strip() == str(os.getpid())
    assert not (run_dir / runs.LOCK_NAME).exists()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: checks.check_labels(np.array([0, 1, 9]), 3, "x.npz"), "x.npz: label 9 is outside the 3 classes"),
        (lambda: checks.check_labels(np.array([0, -1]), 3, "x.npz"), "label -1 is outside"),
        (lambda: checks.check_labels(np.zeros((4, 2), int), 3, "x.npz"), "labels of shape"),
        (lambda: checks.check_labels(np.array([0.5]), 3, "x.npz"), "whole class numbers"),
        (lambda: checks.check_images(np.array([0.0, np.nan]), "x.h5"), "x.h5: 1 pixels are NaN or infinite"),
        (lambda: checks.check_images(np.zeros(3, np.float32), "x", dtypes=("uint8",)), "dtype float32, expected uint8"),
        (lambda: checks.check_images(np.array([0.0, 2.0]), "x", value_range=(0, 1)), "span 0..2, expected 0..1"),
        (lambda: checks.check_mask(np.array([0, 1, 2]), "m.png"), "m.png: the mask is not binary"),
        (lambda: checks.check_mask(np.zeros((2, 3)), "m.png", shape=(2, 2)), "mask of shape"),
        (lambda: checks.check_not_empty(0, "test/", "images"), "test/: no images"),
    ],
)
def test_data_checks_name_the_file_and_the_fault(call, message):
    with pytest.raises(cli.DataError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        call()


def test_data_checks_accept_good_data():
    checks.check_labels(np.array([[0], [2]]), 3, "x")
    checks.check_images(np.zeros((2, 3), np.uint8), "x", dtypes=("uint8",), value_range=(0, 255), ndim=2)
    checks.check_mask(np.array([0, 255]), "x")
    checks.check_mask(torch.ones(2, 2, dtype=torch.bool), "x", shape=(2, 2))


def test_a_real_full_disk_when_tmpfs_can_be_mounted(tmp_path):
    """A 1 MB tmpfs (needs root and mount rights; skipped elsewhere): the checkpoint that does not fit
    is one RunError, the previous checkpoint loads, no temporary file is left."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        runs.save_checkpoint(mount / "checkpoint.pt", {"w": torch.ones(1000)})
        with pytest.raises(cli.RunError, match="cannot write .*checkpoint.pt: No space left on device"):
            runs.save_checkpoint(mount / "checkpoint.pt", {"w": torch.ones(1_000_000)})
        assert runs.load_checkpoint(mount / "checkpoint.pt")["w"].shape == (1000,)
        assert [p.name for p in mount.iterdir()] == ["checkpoint.pt"]
    finally:
        subprocess.run(["umount", "-l", str(mount)])


def test_publish_refuses_a_target_that_is_not_one_folder_name(tmp_path):
    from lab.results import publish

    run = tmp_path / "mri_cs" / "runs" / "bad\tname"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text("{}")
    with pytest.raises(cli.RunError, match="cannot publish .*contains a control character"):
        publish(run, results_root=tmp_path / "results")
    assert not (tmp_path / "results").exists()


def test_a_full_disk_while_publishing_leaves_the_published_folder_as_it_was(tmp_path, monkeypatch):
    from lab.results import publish

    run = tmp_path / "mri_cs" / "runs" / "a"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text('{"x": 2}')
    (run / "table.csv").write_text("a\n")
    published = tmp_path / "results" / "mri_cs" / "a"
    published.mkdir(parents=True)
    (published / "metrics.json").write_text('{"x": 1}')
    before = snapshot(tmp_path / "results")
    monkeypatch.setattr("shutil.copyfile", enospc)
    with pytest.raises(cli.RunError, match=f"cannot write {published}/metrics.json: No space left on device"):
        publish(run, results_root=tmp_path / "results")
    assert snapshot(tmp_path / "results") == before
