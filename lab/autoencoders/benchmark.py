"""Checks the Part 1 runs against the assignment's targets and prints the figures.

    cd autoencoders && python -m lab.autoencoders.benchmark --data-dir DIR   # train cifar and mnist, then check
    cd autoencoders && python -m lab.autoencoders.benchmark --report-only    # check the runs in runs/, train nothing

What it measures, from the run folders ``<results-root>/cifar`` and ``<results-root>/mnist``:

- CIFAR-10 (:func:`cifar_passes`): the test accuracy of the weights chosen on the validation split
  (``test_acc``) must be at least ``CIFAR_TARGET`` with fewer than 500,000 parameters; it also
  prints the training time (sum and fastest epoch).
- MNIST (:func:`mnist_passes`): for reconstruction and for denoising, the convolutional
  autoencoder must reach a lower test MSE than the linear one, with fewer parameters.

The exit status is 0 when every target is met, 1 otherwise (or when a run is missing).

``--throughput`` measures the CIFAR-10 CNN's training step instead, in fp32 and (where the device
has fast bf16) bf16, each case in a fresh process (``lab.speed``): images per second, FLOPs
per image, achieved GFLOP/s against the machine's peak, peak memory; written to
``<results-root>/throughput/metrics.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.cli import positive_int
from common.runs import load_json

CIFAR_TARGET = 0.72
PARAMETER_BUDGET = 500_000


def headline_acc(metrics: dict) -> float:
    """The test accuracy of the validation-selected weights; runs of the earlier code only have the final epoch's."""
    return metrics.get("test_acc", metrics["final_test_acc"])


def cifar_passes(metrics: dict) -> bool:
    """The CIFAR-10 target: test accuracy (validation-selected weights) >= ``CIFAR_TARGET``
    with < 500,000 parameters."""
    return headline_acc(metrics) >= CIFAR_TARGET and metrics["parameters"] < PARAMETER_BUDGET


def mnist_passes(table: list[dict]) -> dict[str, bool]:
    """Per task: the convolutional autoencoder has a lower test MSE and fewer parameters than the linear one."""
    rows = {(r["model"], r["task"]): r for r in table}
    verdict = {}
    for task in ("reconstruction", "denoising"):
        lin, conv = rows[("LinearAutoEncoder", task)], rows[("AutoEncoder_CNN", task)]
        verdict[task] = conv["test_mse"] < lin["test_mse"] and conv["parameters"] < lin["parameters"]
    return verdict


def _dataset(run: Path) -> str:
    config = load_json(run / "config.json")
    return f"{config.get('dataset', '?')}, device {config.get('device', '?')}"


def report(results_root: Path) -> bool:
    """Print the figures of the cifar and mnist runs in ``results_root``; return whether every target is met."""
    ok = True
    cifar = results_root / "cifar"
    if (cifar / "metrics.json").exists():
        m = load_json(cifar / "metrics.json")
        seconds, passed = m["history"]["epoch_seconds"], cifar_passes(m)
        ok &= passed
        print(f"CIFAR-10 ({_dataset(cifar)}; {m['train_images']} train / {m['test_images']} test images):")
        what = "test accuracy (weights chosen on validation)" if "test_acc" in m else "final test accuracy"
        print(
            f"  {what} {headline_acc(m):.4f} (test-selected, course protocol, optimistic: {m['best_test_acc']:.4f}) "
            f"after {len(seconds)} epochs, "
            f"{m['parameters']:,} parameters, {sum(seconds):.0f} s of training "
            f"(fastest epoch {min(seconds):.0f} s)  [{'PASS' if passed else 'FAIL'}: >= {CIFAR_TARGET:.0%}, < 500k]"
        )
    else:
        ok = False
        print(f"CIFAR-10: no run in {cifar}")
    mnist = results_root / "mnist"
    if (mnist / "metrics.json").exists():
        table = load_json(mnist / "metrics.json")["table"]
        rows = {(r["model"], r["task"]): r for r in table}
        print(f"MNIST ({_dataset(mnist)}):")
        for task, passed in mnist_passes(table).items():
            ok &= passed
            lin, conv = rows[("LinearAutoEncoder", task)], rows[("AutoEncoder_CNN", task)]
            print(
                f"  {task:>14}: linear {lin['test_mse']:.5f} ({lin['parameters']:,} params), "
                f"conv {conv['test_mse']:.5f} ({conv['parameters']:,} params)  [{'PASS' if passed else 'FAIL'}]"
            )
    else:
        ok = False
        print(f"MNIST: no run in {mnist}")
    return ok


def measure(model: str, device: str, precision: str, batch_size: int, steps: int) -> dict:
    """Time ``steps`` steps of the CIFAR-10 training loop's arithmetic (channels-last batch, forward in
    ``precision``, label-smoothed cross-entropy, SGD with Nesterov momentum) on random images."""
    import torch
    import torch.nn.functional as F

    from autoencoders.models import CifarCNN
    from common.precision import autocast
    from lab.speed import measure_step, resident_mib

    torch.manual_seed(0)
    idle_rss, dev = resident_mib(), torch.device(device)
    net = CifarCNN().to(dev, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(batch_size, 3, 32, 32, device=dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch_size,), device=dev)

    def step() -> None:
        with autocast(dev, precision):
            logits = net(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return measure_step(step, dev, precision, batch_size, steps, idle_rss)


def throughput(results_root: Path, device: str, batch_size: int, steps: int, rounds: int = 3) -> list[dict]:
    """The CifarCNN rows of :func:`lab.speed.throughput_rows`, also written to ``results_root/throughput``."""
    from common.runs import save_json
    from lab.speed import bench_devices, bench_precisions, throughput_rows

    cases = [
        {"model": "CifarCNN", "device": str(d), "precision": p}
        for d in bench_devices(device)
        for p in bench_precisions(d)
    ]
    print(f"CIFAR-10 CNN training throughput, batch {batch_size}, {steps} timed steps")
    rows = throughput_rows(measure, cases, "image", batch_size, steps, rounds=rounds)
    save_json(
        results_root / "throughput" / "metrics.json",
        {"throughput": rows, "settings": {"batch_size": batch_size, "steps": steps}},
    )
    save_json(
        results_root / "throughput" / "config.json",
        {"argv": ["python", "-m", "lab.autoencoders.benchmark", *sys.argv[1:]]},
    )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lab.autoencoders.benchmark", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir", default="data", help="holds CIFAR10/ (or train/, test/) and MNIST/raw/ (default: data)"
    )
    parser.add_argument(
        "--results-root", default="runs", help="where the cifar and mnist run folders are (default: runs)"
    )
    parser.add_argument("--device", default="auto", help="passed to main.py (default: auto)")
    parser.add_argument("--report-only", action="store_true", help="check existing runs, train nothing")
    parser.add_argument("--throughput", action="store_true", help="measure the CIFAR-10 CNN's training speed instead")
    parser.add_argument(
        "--steps", type=positive_int, default=10, help="timed training steps per case with --throughput (default: 10)"
    )
    args = parser.parse_args(argv)
    if args.throughput:
        throughput(Path(args.results_root), args.device, 128, args.steps)
        return
    if not args.report_only:
        from autoencoders import main as tasks

        for task in ("cifar", "mnist"):
            tasks.main(
                [task, "--data-dir", args.data_dir, "--results-root", args.results_root, "--device", args.device]
            )
    sys.exit(0 if report(Path(args.results_root)) else 1)


if __name__ == "__main__":
    main()
