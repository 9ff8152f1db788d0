"""Training-speed measurement for the benchmarks: time a training step, count its FLOPs, compare with the machine.

``bench.py`` of an assignment builds one training step (a closure that runs forward, loss,
backward and the optimizer step), then reports slices or images per second, the FLOPs of one
step counted by ``torch.utils.flop_counter`` (convolutions and matrix products, forward and
backward; element-wise work and FFTs are not counted), the achieved GFLOP/s and its ratio to
the machine's peak. The CPU peak is cores x clock x FLOP per cycle per core, with the clock and
the instruction sets read from ``/proc/cpuinfo`` and the FLOP per cycle taken from the widest
unit the CPU has (stated in :func:`cpu_peak`'s text, since no file on the machine says it).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode


def _cpuinfo() -> tuple[float | None, set[str]]:
    """The highest ``cpu MHz`` and the instruction-set flags of ``/proc/cpuinfo`` (None and {} elsewhere)."""
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return None, set()
    mhz = [float(line.split(":")[1]) for line in text.splitlines() if line.startswith("cpu MHz")]
    flags = next((line.split(":")[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return (max(mhz) if mhz else None), set(flags)


def cpu_peak(precision: str, threads: int) -> tuple[float | None, str]:
    """The peak GFLOP/s of ``threads`` cores in ``precision`` (``fp32``/``bf16``) and how it was worked out.

    FLOP per cycle per core: fp32 64 with AVX-512 (two 16-lane FMA units), 32 with AVX2 and FMA;
    bf16 1024 with AMX (one tile multiply of 16x32 by 32x16 every 16 cycles), 128 with
    AVX-512 BF16 (dot products on 32 pairs, two units), else the fp32 figure.
    """
    mhz, flags = _cpuinfo()
    if mhz is None:
        return None, "no /proc/cpuinfo clock on this machine"
    fp32 = 64 if "avx512f" in flags else 32 if {"avx2", "fma"} <= flags else 8
    unit = "AVX-512 FMA" if fp32 == 64 else "AVX2 FMA" if fp32 == 32 else "SSE"
    per_cycle = fp32
    if precision == "bf16":
        if "amx_bf16" in flags:
            per_cycle, unit = 1024, "AMX-BF16 tiles"
        elif "avx512_bf16" in flags:
            per_cycle, unit = 128, "AVX-512 BF16 dot products"
    return threads * mhz / 1000 * per_cycle, f"{threads} cores x {mhz / 1000:.2f} GHz x {per_cycle} FLOP/cycle ({unit})"


def step_flops(step: Callable[[], None]) -> int:
    """The FLOPs one call of ``step`` performs, counted by ``FlopCounterMode`` (runs ``step`` once)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def seconds_per_step(step: Callable[[], None], device: torch.device, steps: int, warmup: int = 3) -> float:
    """The mean wall time of ``step`` over ``steps`` calls, after ``warmup`` untimed calls (oneDNN and cuDNN
    pick and cache their kernels in the first calls)."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / steps


def peak_memory_mib(device: torch.device, idle_rss_mib: float) -> tuple[float, str]:
    """The peak GPU allocation, or on the CPU the growth of the process's peak resident set over ``idle_rss_mib``."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "GPU allocated"
    return resident_mib() - idle_rss_mib, "RSS over idle torch"


def resident_mib() -> float:
    """This process's peak resident set in MiB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_step(
    step: Callable[[], None], device: torch.device, precision: str, samples: int, steps: int, idle_rss_mib: float
) -> dict:
    """Throughput, FLOPs and peak memory of one training step on ``samples`` samples.

    Returns ``samples_per_s``, ``gflop_per_sample``, ``achieved_gflops``, ``peak_gflops`` (None off the
    CPU), ``peak_ratio``, ``peak_basis`` (how the peak was worked out), ``peak_memory_mib``, ``memory_kind``.
    """
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = seconds_per_step(step, device, steps)
    flops = step_flops(step)
    memory, kind = peak_memory_mib(device, idle_rss_mib)
    achieved = flops / seconds / 1e9
    if device.type == "cpu":
        peak, basis = cpu_peak(precision, torch.get_num_threads())
    else:
        peak, basis = (
            None,
            f"no peak figure for {torch.cuda.get_device_name(device) if device.type == 'cuda' else device}",
        )
    return {
        "samples_per_s": samples / seconds,
        "gflop_per_sample": flops / samples / 1e9,
        "achieved_gflops": achieved,
        "peak_gflops": peak,
        "peak_ratio": achieved / peak if peak else None,
        "peak_basis": basis,
        "peak_memory_mib": memory,
        "memory_kind": kind,
    }


def _call_into(queue: mp.Queue, fn: Callable[..., Any], args: tuple) -> None:
    queue.put(fn(*args))


def isolated(fn: Callable[..., dict], *args: Any) -> dict | None:
    """``fn(*args)`` in a fresh (spawned) process, so that its peak memory is its own; None if it failed.

    ``fn`` must be a module-level function (spawn pickles it by name) returning a small picklable value.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_call_into, args=(queue, fn, args))
    proc.start()
    proc.join()
    return queue.get() if proc.exitcode == 0 else None


def bench_devices(requested: str) -> list[torch.device]:
    """The devices a benchmark measures for ``--device``: the CPU (unless a GPU was named) and CUDA when present."""
    devices = [torch.device("cpu")] if requested in ("auto", "cpu") else []
    if requested != "cpu" and torch.cuda.is_available():
        devices.append(torch.device("cuda" if requested == "auto" else requested))
    return devices


def bench_precisions(device: torch.device) -> list[str]:
    """fp32, and bf16 where ``device`` has fast bf16 (:func:`common.precision.fast_bf16`)."""
    from common.precision import fast_bf16

    return ["fp32"] + (["bf16"] if fast_bf16(device) else [])


def throughput_rows(fn: Callable[..., dict], cases: list[dict], unit: str, *fixed: Any, rounds: int = 3) -> list[dict]:
    """Measure each case with ``fn(**case, *fixed)`` in its own process (:func:`isolated`) and print a table.

    ``cases`` are dicts of ``model``, ``device``, ``precision`` (and ``compiled``); ``fn`` takes them
    positionally in that order, then ``fixed``, and returns :func:`measure_step`'s record. The cases are
    measured ``rounds`` times, interleaved (all cases, then all again), and each row is the round with the
    median throughput: on a shared or virtual machine the speed drifts over minutes, and interleaving gives
    fp32 and bf16 the same conditions. Returns one row per case: the case, ``samples_per_s`` (None when it
    failed), ``rounds_samples_per_s`` and the record's figures.
    """
    records: list[list[dict]] = [[] for _ in cases]
    for _ in range(rounds):
        for i, case in enumerate(cases):
            record = isolated(fn, *case.values(), *fixed)
            if record is not None:
                records[i].append(record)
    print(
        f"{'model':14s} {'device':6s} {'precision':14s} {unit + '/s':>10s} {'GFLOP/' + unit:>14s} {'GFLOP/s':>8s} "
        f"{'of peak':>7s} {'peak memory':>16s}"
    )
    rows = []
    for case, found in zip(cases, records):
        label = case["precision"] + (" compiled" if case.get("compiled") else "")
        row = {**case, "device": str(case["device"]), "precision": label, "samples_per_s": None}
        row.pop("compiled", None)
        if not found:
            shown = "failed"
        else:
            found.sort(key=lambda r: r["samples_per_s"])
            row.update(found[len(found) // 2], rounds_samples_per_s=[r["samples_per_s"] for r in found])
            ratio = f"{row['peak_ratio']:7.1%}" if row["peak_ratio"] is not None else f"{'-':>7s}"
            shown = (
                f"{row['samples_per_s']:10.1f} {row['gflop_per_sample']:14.3f} {row['achieved_gflops']:8.1f} {ratio} "
                f"{row['peak_memory_mib']:9.0f} MiB ({row['memory_kind']})"
            )
        rows.append(row)
        print(f"{row['model']:14s} {row['device']:6s} {label:14s} {shown}")
    for basis in dict.fromkeys(r["peak_basis"] for r in rows if r.get("peak_basis")):
        print(f"  peak: {basis}")
    return rows


def bf16_speedups(rows: list[dict], model: str) -> dict[str, float]:
    """``model``'s bf16 throughput over its fp32 one, per device where both rows were measured."""
    rate = {
        (r["device"], r["precision"]): r["samples_per_s"] for r in rows if r["model"] == model and r["samples_per_s"]
    }
    return {d: rate[d, "bf16"] / rate[d, "fp32"] for d, p in rate if p == "fp32" and (d, "bf16") in rate}


def throughput_markdown(rows: list[dict], unit: str, units: str) -> str:
    """The measured rows of :func:`throughput_rows` as a Markdown table (``units`` per second, GFLOP per
    ``unit``), then how each peak was worked out; the number of rounds is read off the rows."""
    rows = [r for r in rows if r.get("samples_per_s") is not None]
    rounds = max(len(r.get("rounds_samples_per_s", [None])) for r in rows)
    from lab.results import md_table

    table = md_table(
        [
            [
                r["model"],
                r["device"],
                r["precision"],
                f"{r['samples_per_s']:.1f}",
                f"{r['gflop_per_sample']:.3f}",
                f"{r['achieved_gflops']:.1f}",
                "-" if r["peak_ratio"] is None else format(r["peak_ratio"], ".1%"),
                f"{r['peak_memory_mib']:.0f} MiB ({r['memory_kind']})",
            ]
            for r in rows
        ],
        [
            "model",
            "device",
            "precision",
            f"{units} / s (training)",
            f"GFLOP / {unit}",
            "GFLOP/s",
            "of peak",
            "peak memory",
        ],
        ("left", "left", "left", "right", "right", "right", "right", "left"),
    )
    bases = dict.fromkeys(r["peak_basis"] for r in rows if r.get("peak_basis"))
    return "\n".join(
        [f"Median of {rounds} round{'s' * (rounds != 1)} per case.", "", table, ""] + [f"Peak: {b}." for b in bases]
    )
