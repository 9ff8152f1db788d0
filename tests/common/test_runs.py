"""common.runs: run folders, JSON records, atomic checkpoints."""

import pickle

import numpy as np
import pytest
import torch

from common import runs


def test_save_json_converts_tensors_and_paths(tmp_path):
    record = {"psnr": torch.tensor(31.5), "per_image": np.array([1.0, 2.0]), "n": np.int64(3), "dir": tmp_path}
    runs.save_json(tmp_path / "m.json", record)
    loaded = runs.load_json(tmp_path / "m.json")
    assert loaded == {"psnr": 31.5, "per_image": [1.0, 2.0], "n": 3, "dir": str(tmp_path)}


def test_checkpoint_round_trip_is_weights_only(tmp_path):
    model = torch.nn.Linear(3, 2)
    state = {"model": model.state_dict(), "epoch": 4, "history": [1.0, 0.5]}
    runs.save_checkpoint(tmp_path / "ckpt.pt", state)
    loaded = runs.load_checkpoint(tmp_path / "ckpt.pt")
    assert loaded["epoch"] == 4 and loaded["history"] == [1.0, 0.5]
    assert torch.equal(loaded["model"]["weight"], model.weight)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left behind


def test_failed_write_keeps_previous_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    runs.save_checkpoint(path, {"epoch": 1})
    with pytest.raises((AttributeError, pickle.PicklingError)):  # pickle's error for a lambda, by Python version
        runs.save_checkpoint(path, {"epoch": lambda: None})  # not serialisable
    assert runs.load_checkpoint(path)["epoch"] == 1
    assert len(list(tmp_path.iterdir())) == 1


def test_pick_device_and_seed():
    assert runs.pick_device("cpu") == torch.device("cpu")
    assert runs.pick_device(None).type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            runs.pick_device("cuda")
    runs.seed_everything(7)
    a = torch.rand(3)
    runs.seed_everything(7)
    assert torch.equal(a, torch.rand(3))


def test_execute_notebook_fixture(tmp_path, execute_notebook):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os, common.metrics\nprint(os.environ['REPORT_RUNS'])")]
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    out = execute_notebook(path, env={"REPORT_RUNS": "some/dir"})
    assert out.cells[0].outputs[0]["text"].strip() == "some/dir"


def test_config_records_package_versions_and_the_commit(tmp_path, monkeypatch):
    with runs.run_folder(tmp_path, "r", {"args": {"seed": 0}}) as run_dir:
        pass
    config = runs.load_json(run_dir / "config.json")
    assert config["versions"]["torch"] == torch.__version__ and config["versions"]["numpy"] == np.__version__
    assert config["commit"] is None or len(config["commit"].split("+")[0]) == 40
    assert runs.git_commit(tmp_path) is None  # outside git


def test_append_log_writes_one_row_per_call_and_a_resume_replaces_the_repeated_epochs(tmp_path):
    for epoch, loss in ((1, 0.9), (2, 0.5), (3, 0.4)):
        runs.append_log(tmp_path, {"epoch": epoch, "loss": torch.tensor(loss, dtype=torch.float64)})
    runs.append_log(tmp_path, {"epoch": 3, "loss": 0.45})  # resumed after epoch 2's checkpoint
    assert (tmp_path / "log.csv").read_text() == "epoch,loss\n1,0.9\n2,0.5\n3,0.45\n"
    with pytest.raises(ValueError, match="not in its header"):
        runs.append_log(tmp_path, {"epoch": 4, "accuracy": 1.0})
    runs.append_log(tmp_path, {"step": 10}, "log_b.csv")
    assert (tmp_path / "log_b.csv").read_text() == "step\n10\n"
