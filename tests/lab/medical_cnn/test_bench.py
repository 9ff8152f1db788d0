"""bench.py: one row per model and precision, written to its run folder, and its bad input."""

import json

import pytest
import torch

from common.precision import fast_bf16
from lab import speed
from lab.medical_cnn import bench


def test_quick_bench_measures_both_models(tmp_path, monkeypatch):
    monkeypatch.setattr(speed, "isolated", lambda fn, *args: fn(*args))  # a fresh process per case costs seconds
    metrics = bench.main(["--quick", "--device", "cpu", "--results-root", str(tmp_path)])
    precisions = ["fp32", "bf16"] if fast_bf16(torch.device("cpu")) else ["fp32"]
    rows = {(r["model"], r["precision"]): r for r in metrics["throughput"]}
    assert set(rows) == {(m, p) for m in ("unet", "unet-noskip") for p in precisions}
    # without the skip connections the decoder has fewer input channels, so fewer FLOPs
    assert rows["unet-noskip", "fp32"]["gflop_per_sample"] < rows["unet", "fp32"]["gflop_per_sample"]
    assert json.loads((tmp_path / "bench_quick" / "metrics.json").read_text())["throughput"] == metrics["throughput"]


def test_bad_patch_size_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--patch-size", "40", "--results-root", str(tmp_path)])
    assert exit_info.value.code == 2 and "multiple of 16" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
