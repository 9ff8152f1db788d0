"""Benchmarks: training throughput and peak memory, then the quality targets read from finished runs.

    python bench.py                                   # throughput on CPU (and CUDA when present) + targets
    python bench.py --sweep-dir runs/sweep --default-run runs/unet_drop0.3_learned

Throughput is measured on random k-space of the run's size (speed does not depend on the
values), each model/device pair in a fresh process so that its peak resident memory
(CPU) is its own; on CUDA the peak allocated memory is reported, in float32 and with
float16 autocast. The quality targets come from the sweep's ``results.csv`` and the
default run's ``metrics.json``; nothing is trained here.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import resource
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from common.runs import load_json
from mri_cs.models.model import ReconstructionModel
from mri_cs.models.vanilla import VanillaModel


def measure(model_name: str, device: str, amp: bool, resolution: int, batch_size: int, width: int, steps: int,
            queue: mp.Queue) -> None:
    """Time ``steps`` training steps (after 2 warm-up steps) and put (slices/s, peak MiB) on ``queue``.

    Peak memory is the GPU's peak allocation, or on CPU the growth of the peak resident set
    over the idle process (Python + torch).
    """
    torch.manual_seed(0)
    idle_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # torch imported, nothing allocated
    shape = (resolution, resolution)
    model = (ReconstructionModel(0.3, device, True, shape, width=width) if model_name == "unet"
             else VanillaModel(0.3, device, True, shape)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    kspace = torch.randn(batch_size, *shape, 2, device=device)
    target = torch.rand(batch_size, 1, *shape, device=device)
    for step in range(steps + 2):
        if step == 2:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            loss = F.l1_loss(model(kspace).float(), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.subsample.mask_grad(0.05)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - idle_rss  # ru_maxrss is in KiB on Linux
    queue.put((steps * batch_size / (time.perf_counter() - start), peak))


def throughput(args: argparse.Namespace) -> None:
    cases = [(m, "cpu", False) for m in ("vanilla", "unet")]
    if torch.cuda.is_available():
        cases += [(m, "cuda", amp) for m in ("vanilla", "unet") for amp in (False, True)]
    ctx = mp.get_context("spawn")
    print(f"training throughput, {args.resolution}x{args.resolution}, batch {args.batch_size}, U-Net width {args.width}, "
          f"{args.steps} timed steps, torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"{'model':8s} {'device':6s} {'precision':10s} {'slices/s':>9s} {'peak memory':>16s}")
    for model_name, device, amp in cases:
        queue = ctx.Queue()
        proc = ctx.Process(target=measure, args=(model_name, device, amp, args.resolution, args.batch_size,
                                                 args.width, args.steps, queue))
        proc.start()
        proc.join()
        if proc.exitcode != 0:
            print(f"{model_name:8s} {device:6s} {'fp16 amp' if amp else 'fp32':10s} failed (exit code {proc.exitcode})")
            continue
        rate, peak = queue.get()
        kind = "GPU allocated" if device == "cuda" else "RSS over idle torch"
        print(f"{model_name:8s} {device:6s} {'fp16 amp' if amp else 'fp32':10s} {rate:9.1f} {peak:9.0f} MiB ({kind})")


def targets(sweep_dir: Path, default_run: Path) -> None:
    """Print the assignment's quality targets from finished runs (those that exist)."""
    print("\nquality targets (offline default data)")
    if (default_run / "metrics.json").exists():
        m = load_json(default_run / "metrics.json")
        ok = m["wall_time_s"] < 600
        print(f"  default run {default_run.name}: test PSNR {m['test_psnr']['mean']:.2f} dB, zero-filled "
              f"{m['zero_filled_test_psnr']['mean']:.2f} dB, wall time {m['wall_time_s']:.0f} s on {m['device']} "
              f"[{'ok' if ok else 'MISSED'}: < 600 s]")
    else:
        print(f"  no default run at {default_run} (run: python main.py --drop-rate 0.3 --learn-mask)")
    if not (sweep_dir / "results.csv").exists():
        print(f"  no sweep results at {sweep_dir} (run: python sweep.py)")
        return
    with open(sweep_dir / "results.csv") as f:
        rows = {(r["model"], float(r["drop_rate"]), r["mask"]): r for r in csv.DictReader(f)}
    test = lambda key: float(rows[key]["test_psnr_mean"])  # noqa: E731
    fixed03, vanilla03 = ("unet", 0.3, "fixed"), ("vanilla", 0.3, "fixed")
    if fixed03 in rows:
        gain = test(fixed03) - float(rows[fixed03]["zero_filled_test_psnr_mean"])
        print(f"  drop 0.3 fixed: U-Net {test(fixed03):.2f} dB, {gain:+.2f} dB over zero-filled "
              f"[{'ok' if gain >= 12 else 'MISSED'}: >= +12]")
        if vanilla03 in rows:
            gain = test(fixed03) - test(vanilla03)
            print(f"  drop 0.3 fixed: {gain:+.2f} dB over the vanilla model ({test(vanilla03):.2f} dB) "
                  f"[{'ok' if gain >= 6 else 'MISSED'}: >= +6]")
    for drop in (0.5, 0.6, 0.7):
        fixed, learned = ("unet", drop, "fixed"), ("unet", drop, "learned")
        if fixed in rows and learned in rows:
            gain = test(learned) - test(fixed)
            print(f"  drop {drop:g}: learned {test(learned):.2f} vs fixed {test(fixed):.2f} dB ({gain:+.2f}); "
                  f"centre disc kept {float(rows[learned]['keep_in_center']):.2f} learned vs "
                  f"{float(rows[fixed]['keep_in_center']):.2f} fixed [{'ok' if gain > 0 else 'MISSED'}: learned > fixed]")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per case")
    parser.add_argument("--sweep-dir", default="runs/sweep")
    parser.add_argument("--default-run", default="runs/unet_drop0.3_learned")
    parser.add_argument("--skip-throughput", action="store_true", help="only print the quality targets")
    args = parser.parse_args(argv)
    if args.resolution < 16 or args.resolution % 8 or args.batch_size < 1 or args.steps < 1:
        parser.error("--resolution must be a multiple of 8 >= 16, --batch-size and --steps at least 1")
    if not args.skip_throughput:
        throughput(args)
    targets(Path(args.sweep_dir), Path(args.default_run))


if __name__ == "__main__":
    main()
