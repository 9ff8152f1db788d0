"""Benchmarks of the issue, on real data: trains (unless ``--report-only``) and prints the figures.

    flock /tmp/heavy.lock python benchmark.py --data-dir ../../shared/data

- CIFAR-10: test accuracy on the full test set after training on the given training set,
  parameter count (< 500,000) and training time; target at least 72 %.
- MNIST: test MSE and parameters of the linear and the convolutional autoencoder for
  reconstruction and denoising; target: the convolutional one lower in both, with fewer parameters.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autoencoders import main as tasks
from common.runs import load_json

CIFAR_TARGET = 0.72


def report(results_root: Path) -> bool:
    """Print the benchmark figures from the run folders; return whether every target is met."""
    ok = True
    cifar = results_root / "cifar"
    if (cifar / "metrics.json").exists():
        m, c = load_json(cifar / "metrics.json"), load_json(cifar / "config.json")
        seconds = m["history"]["epoch_seconds"]
        passed = m["final_test_acc"] >= CIFAR_TARGET and m["parameters"] < 500_000
        ok &= passed
        print(f"CIFAR-10 ({c['dataset']}, {m['train_images']} train / {m['test_images']} test images, device {c['device']}):")
        print(f"  final test accuracy {m['final_test_acc']:.4f} (best {m['best_test_acc']:.4f}) after {len(seconds)} epochs, "
              f"{m['parameters']:,} parameters, {sum(seconds):.0f} s of training "
              f"(fastest epoch {min(seconds):.0f} s)  [{'PASS' if passed else 'FAIL'}: >= {CIFAR_TARGET:.0%}, < 500k]")  # fmt: skip
    else:
        ok = False
        print(f"CIFAR-10: no run in {cifar}")
    mnist = results_root / "mnist"
    if (mnist / "metrics.json").exists():
        rows = {(r["model"], r["task"]): r for r in load_json(mnist / "metrics.json")["table"]}
        print(f"MNIST ({load_json(mnist / 'config.json')['dataset']}):")
        for task in ("reconstruction", "denoising"):
            lin, conv = rows[("LinearAutoEncoder", task)], rows[("AutoEncoder_CNN", task)]
            passed = conv["test_mse"] < lin["test_mse"] and conv["parameters"] < lin["parameters"]
            ok &= passed
            print(f"  {task:>14}: linear {lin['test_mse']:.5f} ({lin['parameters']:,} params), "
                  f"conv {conv['test_mse']:.5f} ({conv['parameters']:,} params)  [{'PASS' if passed else 'FAIL'}]")  # fmt: skip
    else:
        ok = False
        print(f"MNIST: no run in {mnist}")
    return ok


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data-dir", default=str(tasks.HERE / "data"), help="holds CIFAR10/ (or train/, test/) and MNIST/raw/")
    parser.add_argument("--results-root", default=str(tasks.HERE / "runs"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--report-only", action="store_true", help="print the figures of existing runs, train nothing")
    args = parser.parse_args(argv)
    if not args.report_only:
        for task in ("cifar", "mnist"):
            tasks.main([task, "--data-dir", args.data_dir, "--results-root", args.results_root, "--device", args.device])
    sys.exit(0 if report(Path(args.results_root)) else 1)


if __name__ == "__main__":
    main()
