"""benchmark.py: the target checks give the right verdict on fixture metrics."""

import json

import pytest

from lab.autoencoders import benchmark


def cifar_metrics(acc, params=420_330):
    return {
        "final_test_acc": acc,
        "best_test_acc": acc,
        "parameters": params,
        "train_images": 20000,
        "test_images": 10000,
        "history": {"epoch_seconds": [30.0, 31.0], "test_acc": [acc - 0.1, acc], "train_loss": [1.0, 0.8]},
    }


def mnist_table(lin_rec=0.026, conv_rec=0.0017, lin_den=0.031, conv_den=0.0086, conv_params=14_425):
    rows = []
    for model, params, rec, den in (
        ("LinearAutoEncoder", 223_391, lin_rec, lin_den),
        ("AutoEncoder_CNN", conv_params, conv_rec, conv_den),
    ):
        rows += [
            {"model": model, "task": "reconstruction", "parameters": params, "test_mse": rec},
            {"model": model, "task": "denoising", "parameters": params, "test_mse": den},
        ]
    return rows


@pytest.mark.parametrize(
    "acc, params, verdict",
    [(0.72, 420_330, True), (0.8587, 420_330, True), (0.7199, 420_330, False), (0.9, 500_000, False)],
)
def test_cifar_target(acc, params, verdict):
    assert benchmark.cifar_passes(cifar_metrics(acc, params)) is verdict


def test_cifar_target_uses_the_validation_selected_accuracy():
    m = {**cifar_metrics(0.75), "test_acc": 0.71}  # the final epoch passes, the validation-selected weights do not
    assert benchmark.cifar_passes(m) is False and benchmark.cifar_passes({**m, "test_acc": 0.73}) is True


def test_mnist_target_per_task():
    assert benchmark.mnist_passes(mnist_table()) == {"reconstruction": True, "denoising": True}
    assert benchmark.mnist_passes(mnist_table(conv_den=0.04)) == {"reconstruction": True, "denoising": False}
    assert benchmark.mnist_passes(mnist_table(conv_rec=0.026)) == {
        "reconstruction": False,
        "denoising": True,
    }  # a tie fails
    assert benchmark.mnist_passes(mnist_table(conv_params=300_000)) == {"reconstruction": False, "denoising": False}


def write_runs(root, acc, table):
    for name, metrics in (("cifar", cifar_metrics(acc)), ("mnist", {"table": table, "histories": {}})):
        (root / name).mkdir(parents=True)
        (root / name / "metrics.json").write_text(json.dumps(metrics))
        (root / name / "config.json").write_text(json.dumps({"args": {}, "dataset": "fixture", "device": "cpu"}))


@pytest.mark.parametrize(
    "acc, table, code", [(0.86, mnist_table(), 0), (0.5, mnist_table(), 1), (0.86, mnist_table(conv_den=1.0), 1)]
)
def test_report_only_exit_status(tmp_path, capsys, acc, table, code):
    write_runs(tmp_path, acc, table)
    with pytest.raises(SystemExit) as e:
        benchmark.main(["--report-only", "--results-root", str(tmp_path)])
    assert e.value.code == code
    out = capsys.readouterr().out
    assert ("FAIL" in out) is (code == 1) and f"{acc:.4f}" in out


def test_missing_runs_fail(tmp_path, capsys):
    assert benchmark.report(tmp_path) is False
    assert "no run" in capsys.readouterr().out


def test_throughput_rows_for_each_precision(tmp_path, monkeypatch):
    import torch

    from common.precision import fast_bf16
    from lab import speed

    monkeypatch.setattr(speed, "isolated", lambda fn, *args: fn(*args))  # a fresh process per case costs seconds
    rows = benchmark.throughput(tmp_path, "cpu", batch_size=4, steps=1, rounds=1)
    expected = ["fp32", "bf16"] if fast_bf16(torch.device("cpu")) else ["fp32"]
    assert [r["precision"] for r in rows] == expected and all(r["samples_per_s"] > 0 for r in rows)
    assert rows[0]["gflop_per_sample"] > 0.1  # a real CNN step, not an empty one
    assert json.loads((tmp_path / "throughput" / "metrics.json").read_text())["throughput"] == rows
