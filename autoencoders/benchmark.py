"""Checks the Part 1 runs against the assignment's targets and prints the figures.

    python benchmark.py --data-dir DIR                  # train cifar and mnist (default options), then check
    python benchmark.py --report-only [--results-root runs]   # check existing runs, train nothing

What it measures, from the run folders ``<results-root>/cifar`` and ``<results-root>/mnist``:

- CIFAR-10 (:func:`cifar_passes`): the test accuracy of the weights chosen on the validation split
  (``test_acc``; the final epoch's for runs made before the validation split) on the test set the run
  used (the full 10,000 images with the standard data) must be at least ``CIFAR_TARGET`` (72 %), with
  fewer than 500,000 parameters; it also prints the training time (sum and fastest epoch).
- MNIST (:func:`mnist_passes`): for reconstruction and for denoising, the convolutional
  autoencoder must reach a lower test MSE than the linear one, with fewer parameters.

The exit status is 0 when every target is met, 1 otherwise (or when a run is missing).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.runs import load_json

CIFAR_TARGET = 0.72
PARAMETER_BUDGET = 500_000


def headline_acc(metrics: dict) -> float:
    """The test accuracy of the validation-selected weights; runs of the earlier code only have the final epoch's."""
    return metrics.get("test_acc", metrics["final_test_acc"])


def cifar_passes(metrics: dict) -> bool:
    """The CIFAR-10 target: test accuracy (validation-selected weights) >= ``CIFAR_TARGET`` with < 500,000 parameters."""
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
        print(f"  {what} {headline_acc(m):.4f} (test-selected, course protocol, optimistic: {m['best_test_acc']:.4f}) "
              f"after {len(seconds)} epochs, "
              f"{m['parameters']:,} parameters, {sum(seconds):.0f} s of training "
              f"(fastest epoch {min(seconds):.0f} s)  [{'PASS' if passed else 'FAIL'}: >= {CIFAR_TARGET:.0%}, < 500k]")  # fmt: skip
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
            print(f"  {task:>14}: linear {lin['test_mse']:.5f} ({lin['parameters']:,} params), "
                  f"conv {conv['test_mse']:.5f} ({conv['parameters']:,} params)  [{'PASS' if passed else 'FAIL'}]")  # fmt: skip
    else:
        ok = False
        print(f"MNIST: no run in {mnist}")
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="benchmark.py", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="data", help="holds CIFAR10/ (or train/, test/) and MNIST/raw/ (default: data)")
    parser.add_argument("--results-root", default="runs", help="where the cifar and mnist run folders are (default: runs)")
    parser.add_argument("--device", default="auto", help="passed to main.py (default: auto)")
    parser.add_argument("--report-only", action="store_true", help="check existing runs, train nothing")
    args = parser.parse_args(argv)
    if not args.report_only:
        from autoencoders import main as tasks

        for task in ("cifar", "mnist"):
            tasks.main([task, "--data-dir", args.data_dir, "--results-root", args.results_root, "--device", args.device])
    sys.exit(0 if report(Path(args.results_root)) else 1)


if __name__ == "__main__":
    main()
