"""--precision: how auto resolves, what autocast changes, and the speed figures of lab.speed."""

import re

import pytest
import torch
from torch import nn

from common import precision
from lab import speed

CPU = torch.device("cpu")


@pytest.mark.parametrize("fast", [True, False])
def test_auto_takes_bf16_only_where_fast_and_cleared(monkeypatch, fast):
    monkeypatch.setattr(precision, "fast_bf16", lambda device: fast)
    assert precision.resolve_precision("auto", CPU, bf16_ok=True) == ("bf16" if fast else "fp32")
    assert precision.resolve_precision("auto", CPU, bf16_ok=False) == "fp32"
    # An explicit choice is kept whatever auto would pick.
    assert precision.resolve_precision("fp32", CPU, bf16_ok=True) == "fp32"
    assert precision.resolve_precision("bf16", CPU, bf16_ok=False) == "bf16"


def test_bad_precisions_are_refused():
    with pytest.raises(ValueError, match="fp16"):
        precision.resolve_precision("fp16", CPU, bf16_ok=True)
    with pytest.raises(ValueError, match="mps"):
        precision.resolve_precision("bf16", torch.device("mps"), bf16_ok=True)
    with pytest.raises(ValueError, match="fp32 only"):
        precision.fp32_only("bf16", "the mnist task")
    assert precision.fp32_only("auto", "the mnist task") == precision.fp32_only("fp32", "x") == "fp32"


def test_fast_bf16_follows_onednn(monkeypatch):
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert not precision.fast_bf16(CPU)
    assert not precision.fast_bf16(torch.device("mps"))


@pytest.mark.parametrize("name, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_autocast_runs_convolutions_in_the_chosen_dtype(name, dtype):
    conv = nn.Conv2d(2, 3, 3)
    with precision.autocast(CPU, name):
        out = conv(torch.randn(1, 2, 8, 8))
    assert out.dtype == dtype
    assert conv.weight.dtype == torch.float32  # the master weights stay float32


def test_cpu_peak_from_the_machine_flags(monkeypatch):
    monkeypatch.setattr(speed, "_cpuinfo", lambda: (2000.0, {"avx512f", "amx_bf16", "avx512_bf16"}))
    fp32, basis = speed.cpu_peak("fp32", 2)
    assert fp32 == pytest.approx(2 * 2.0 * 64) and "AVX-512" in basis
    assert speed.cpu_peak("bf16", 2)[0] == pytest.approx(2 * 2.0 * 1024)
    monkeypatch.setattr(speed, "_cpuinfo", lambda: (3000.0, {"avx2", "fma"}))
    assert speed.cpu_peak("bf16", 1)[0] == speed.cpu_peak("fp32", 1)[0] == pytest.approx(3.0 * 32)
    monkeypatch.setattr(speed, "_cpuinfo", lambda: (None, set()))
    assert speed.cpu_peak("fp32", 2)[0] is None


def test_step_flops_counts_a_linear_layer_forward_and_backward():
    layer, x = nn.Linear(10, 20, bias=False), torch.randn(4, 10)
    assert speed.step_flops(lambda: layer(x)) == 2 * 4 * 10 * 20
    # backward: the weight gradient only (x needs none), the same size again
    assert speed.step_flops(lambda: layer(x).sum().backward()) == 2 * (2 * 4 * 10 * 20)


def test_measure_step_reports_consistent_figures():
    layer, x = nn.Linear(64, 64), torch.randn(32, 64)
    row = speed.measure_step(lambda: layer(x).sum().backward(), CPU, "fp32", samples=32, steps=3, idle_rss_mib=0.0)
    assert row["samples_per_s"] > 0 and row["gflop_per_sample"] == pytest.approx(2 * 2 * 64 * 64 / 1e9)
    assert row["achieved_gflops"] == pytest.approx(row["gflop_per_sample"] * row["samples_per_s"])
    if row["peak_gflops"] is not None:
        assert row["peak_ratio"] == pytest.approx(row["achieved_gflops"] / row["peak_gflops"])


def test_isolated_runs_in_another_process_and_reports_failure():
    import os

    assert speed.isolated(os.getpid) != os.getpid()
    assert speed.isolated(os.listdir, "/nonexistent-folder") is None


def test_throughput_rows_keep_the_median_round(monkeypatch):
    rates = iter([10.0, 40.0, 30.0, 20.0, 50.0, 60.0])  # fp32, bf16 interleaved over three rounds
    monkeypatch.setattr(
        speed,
        "isolated",
        lambda fn, *args: {
            "samples_per_s": next(rates),
            "gflop_per_sample": 1.0,
            "achieved_gflops": 1.0,
            "peak_ratio": None,
            "peak_basis": "x",
            "peak_memory_mib": 1.0,
            "memory_kind": "RSS",
        },
    )
    cases = [{"model": "m", "device": "cpu", "precision": p} for p in ("fp32", "bf16")]
    rows = speed.throughput_rows(None, cases, "sample", rounds=3)
    assert [r["samples_per_s"] for r in rows] == [30.0, 40.0]  # medians of (10, 30, 50) and (40, 20, 60)
    assert rows[1]["rounds_samples_per_s"] == [20.0, 40.0, 60.0]
    assert speed.bf16_speedups(rows, "m") == {"cpu": pytest.approx(40 / 30)}


def test_throughput_markdown_reads_the_rounds_off_the_rows_and_skips_failed_cases():
    row = {
        "model": "unet",
        "device": "cpu",
        "precision": "bf16",
        "samples_per_s": 45.44,
        "rounds_samples_per_s": [40.0, 45.44, 49.0],
        "gflop_per_sample": 3.4671,
        "achieved_gflops": 157.5,
        "peak_ratio": 0.037,
        "peak_basis": "2 cores x 2.10 GHz",
        "peak_memory_mib": 319.4,
        "memory_kind": "RSS over idle torch",
    }
    text = speed.throughput_markdown([row, {**row, "precision": "fp32", "samples_per_s": None}], "slice", "slices")
    squeezed = re.sub(r" {2,}", " ", text)  # tabulate pads the cells
    assert text.startswith("Median of 3 rounds per case.") and "| slices / s (training) | GFLOP / slice |" in squeezed
    assert "| unet | cpu | bf16 | 45.4 | 3.467 | 157.5 | 3.7% | 319 MiB (RSS over idle torch) |" in squeezed
    assert "fp32" not in text and text.endswith("Peak: 2 cores x 2.10 GHz.")
