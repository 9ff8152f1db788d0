"""Training throughput of the DRIVE vessel U-Net, in fp32 and (where the device has fast bf16) bf16.

    cd medical_cnn && python -m lab.medical_cnn.bench           # the segment command's default shapes, CPU (and CUDA)
    cd medical_cnn && python -m lab.medical_cnn.bench --quick   # a smoke run in seconds

One case per model/device/precision, each in a fresh process (``lab.speed``): patches per
second of the segment training step (random patches; speed does not depend on the values),
FLOPs per patch, achieved GFLOP/s against the machine's peak, peak memory. The quality side of
bf16 (test Dice against fp32) comes from the parity runs, not from here. Written to
``<results-root>/<name>/metrics.json`` (``runs/bench``).
"""

from __future__ import annotations

import argparse
import sys

from common.cli import (
    OneLineParser,
    RunError,
    add_common_args,
    fill_common_defaults,
    positive_int,
    run_command,
    run_name,
)

PROG = "python -m lab.medical_cnn.bench"


def measure(
    model: str, device: str, precision: str, patch: int, batch_size: int, base_channels: int, steps: int
) -> dict:
    """Time ``steps`` steps of :func:`medical_cnn.segment.train_step`'s arithmetic (forward in ``precision``,
    Dice + cross-entropy loss, Adam) for ``model`` (``unet`` or ``unet-noskip``)."""
    import torch

    from common.precision import autocast
    from lab.speed import measure_step, resident_mib
    from medical_cnn.unet import UNet
    from medical_cnn.utils import DiceCELoss

    torch.manual_seed(0)
    idle_rss, dev = resident_mib(), torch.device(device)
    net = UNet(1, 1, base_channels=base_channels, skip_connections=model == "unet").to(dev)
    optimizer, loss_fn = torch.optim.Adam(net.parameters(), lr=1e-3), DiceCELoss()
    x = torch.rand(batch_size, 1, patch, patch, device=dev)
    y = (torch.rand(batch_size, 1, patch, patch, device=dev) > 0.9).float()

    def step() -> None:
        with autocast(dev, precision):
            logits = net(x)
        loss = loss_fn(logits.float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return measure_step(step, dev, precision, batch_size, steps, idle_rss)


def run(args: argparse.Namespace) -> dict:
    import torch

    from common.runs import run_folder, save_json
    from lab.speed import bench_devices, bench_precisions, throughput_rows

    if args.resume:
        raise RunError("a benchmark has nothing to resume; run it again with --overwrite")
    cases = [
        {"model": m, "device": str(d), "precision": p}
        for d in bench_devices(args.device)
        for m in ("unet", "unet-noskip")
        for p in bench_precisions(d)
    ]
    settings = {k: getattr(args, k) for k in ("patch_size", "batch_size", "base_channels", "steps")}
    with run_folder(args.results_root, args.name, {"args": vars(args)}, overwrite=args.overwrite) as run_dir:
        print(
            f"DRIVE U-Net training throughput, {args.patch_size}x{args.patch_size} patches, batch {args.batch_size}, "
            f"base channels {args.base_channels}, {args.steps} timed steps, {torch.get_num_threads()} CPU threads"
        )
        rows = throughput_rows(
            measure,
            cases,
            "patch",
            args.patch_size,
            args.batch_size,
            args.base_channels,
            args.steps,
            rounds=1 if args.quick else 3,
        )
        save_json(run_dir / "metrics.json", {"throughput": rows, "settings": settings})
    print(f"bench: {len([r for r in rows if r['samples_per_s']])} of {len(rows)} cases measured -> {run_dir}")
    return {"throughput": rows, "settings": settings}


def main(argv: list[str] | None = None) -> dict:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--patch-size", type=positive_int, default=64, help="training patch side, a multiple of 16 (default: 64)"
    )
    p.add_argument("--batch-size", type=positive_int, default=8, help="patches per step (default: 8)")
    p.add_argument("--base-channels", type=positive_int, default=8, help="U-Net width of the first block (default: 8)")
    p.add_argument("--steps", type=positive_int, default=20, help="timed training steps per case (default: 20)")
    add_common_args(p)
    args = fill_common_defaults(p.parse_args(argv))
    if args.quick:
        args.patch_size, args.base_channels, args.steps = 32, 4, 2
    if args.patch_size % 16:
        p.error(f"--patch-size must be a multiple of 16 (the U-Net pools 4 times), got {args.patch_size}")
    args.name = run_name(args, "bench")
    return run_command(PROG, lambda: run(args))


if __name__ == "__main__":
    main()
    sys.exit(0)
