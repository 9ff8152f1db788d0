"""common.runs: run folders are validated before anything is written, and never clobbered."""

import os
import stat
from pathlib import Path

import pytest

from common import runs
from common.cli import RunError


def config(seed=0):
    return {"args": {"seed": seed, "lr": 0.1}, "dataset": "fixture"}


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_new_run_writes_config_with_readable_mode(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.argv", ["/somewhere/mri_cs/main.py", "--drop-rate", "0.3", "--learn-mask"])
    with runs.run_folder(tmp_path, "a", config()) as run_dir:
        runs.save_json(run_dir / "metrics.json", {"x": 1})
    recorded = runs.load_json(run_dir / "config.json")
    assert {k: v for k, v in recorded.items() if k not in ("python", "versions", "commit")} == {
        "argv": ["python", "main.py", "--drop-rate", "0.3", "--learn-mask"],
        **config(),
    }
    assert set(recorded) >= {"python", "versions", "commit"}  # what the numbers depend on
    for name in ("config.json", "metrics.json"):
        assert stat.S_IMODE(os.stat(run_dir / name).st_mode) & 0o044 == 0o044  # group and others may read


def test_finished_run_is_not_overwritten(tmp_path):
    with runs.run_folder(tmp_path, "a", config()) as run_dir:
        runs.save_json(run_dir / "metrics.json", {"x": 1})
    before = snapshot(run_dir)
    with pytest.raises(RunError, match="already holds a run"):
        with runs.run_folder(tmp_path, "a", config(seed=5)):
            pass
    assert snapshot(run_dir) == before
    with runs.run_folder(tmp_path, "a", config(seed=5), overwrite=True):
        pass
    assert runs.load_json(run_dir / "config.json")["args"]["seed"] == 5 and not (run_dir / "metrics.json").exists()


def test_refused_resume_changes_nothing(tmp_path):
    with runs.run_folder(tmp_path, "a", config()) as run_dir:
        runs.save_checkpoint(run_dir / "checkpoint.pt", {"epoch": 1})
    before = snapshot(run_dir)
    with pytest.raises(RunError, match="--seed 0"):
        runs.check_run_dir(tmp_path, "a", resume=True, args={"seed": 1}, fixed_on_resume=("seed",))
    with pytest.raises(RunError):
        with runs.run_folder(tmp_path, "a", config(seed=1), resume=True, fixed_on_resume=("seed",)):
            pass
    assert snapshot(run_dir) == before
    with runs.run_folder(tmp_path, "a", config(seed=0), resume=True, fixed_on_resume=("seed",)) as same:
        assert same == run_dir


def test_resume_of_a_missing_run_is_an_error(tmp_path):
    with pytest.raises(RunError, match="no run"):
        runs.check_run_dir(tmp_path, "nothing", resume=True)
    assert not (tmp_path / "nothing").exists()


def test_failed_run_leaves_no_folder_but_a_checkpointed_one_stays(tmp_path):
    with pytest.raises(ValueError):
        with runs.run_folder(tmp_path, "a", config()):
            raise ValueError("data broke")
    assert not (tmp_path / "a").exists()
    with pytest.raises(KeyboardInterrupt):
        with runs.run_folder(tmp_path, "b", config()) as run_dir:
            runs.save_checkpoint(run_dir / "checkpoint.pt", {"epoch": 1})
            raise KeyboardInterrupt
    assert (tmp_path / "b" / "checkpoint.pt").exists()
    with pytest.raises(KeyboardInterrupt):  # checkpoints in a sub-folder (one per model) count too
        with runs.run_folder(tmp_path, "c", config()) as run_dir:
            runs.save_checkpoint(run_dir / "model_a" / "checkpoint.pt", {"epoch": 1})
            raise KeyboardInterrupt
    assert (tmp_path / "c" / "model_a" / "checkpoint.pt").exists()


def test_unwritable_results_root_is_a_run_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunError, match="not a folder"):
        runs.check_run_dir(blocker / "sub", "a")
    if Path("/proc").is_dir():  # even root cannot make folders there
        with pytest.raises(RunError, match="not writable"):
            runs.check_run_dir("/proc/x", "a")
    assert not any(p.name.startswith(".write-test") for p in tmp_path.iterdir())


def test_atomic_text_npz_and_figure(tmp_path):
    import matplotlib.pyplot as plt
    import numpy as np

    runs.save_text(tmp_path / "t.csv", "a,b\n1,2\n")
    runs.save_npz(tmp_path / "a.npz", x=np.arange(3))
    fig = plt.figure()
    runs.save_figure(fig, tmp_path / "f.png")
    plt.close(fig)
    assert (tmp_path / "t.csv").read_text() == "a,b\n1,2\n"
    assert np.load(tmp_path / "a.npz")["x"].tolist() == [0, 1, 2]
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "f.png", "t.csv"]


def test_resume_records_this_sessions_other_arguments(tmp_path):
    with runs.run_folder(tmp_path, "a", config()) as run_dir:
        runs.save_checkpoint(run_dir / "checkpoint.pt", {"epoch": 1})
    longer = {"args": {"seed": 0, "lr": 0.1, "epochs": 50}, "dataset": "fixture"}
    with runs.run_folder(tmp_path, "a", longer, resume=True, fixed_on_resume=("seed",)):
        pass
    assert runs.load_json(run_dir / "config.json")["args"]["epochs"] == 50


def test_a_failed_resume_leaves_config_as_it_was(tmp_path):
    with runs.run_folder(tmp_path, "a", config()) as run_dir:
        runs.save_checkpoint(run_dir / "checkpoint.pt", {"epoch": 1})
    before = snapshot(run_dir)
    with pytest.raises(ValueError):
        with runs.run_folder(
            tmp_path, "a", {"args": {"seed": 0, "lr": 0.1, "epochs": 50}}, resume=True, fixed_on_resume=("seed",)
        ):
            raise ValueError("unreadable checkpoint")
    assert snapshot(run_dir) == before
