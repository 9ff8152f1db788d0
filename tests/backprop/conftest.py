"""Fixture results folders for backprop's report and README blocks, written by hand (no training)."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SIGMAS = ["0.01", "0.1", "0.2"]


def write_run(folder: Path, config: dict, metrics: dict, figures: tuple[str, ...] = ()) -> None:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    for name in figures:
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 1200, 3), dtype=np.uint8)).save(folder / name)


def base_args(command: str, **extra) -> dict:
    return {
        "command": command,
        "seed": 0,
        "device": "auto",
        "results_root": "runs",
        "name": None,
        "quick": False,
        "resume": False,
        "overwrite": False,
        **extra,
    }


IMAGE_ARGS = dict(
    data_dir="/somewhere/data/images/Train400",
    test_dir="/somewhere/data/images/BSD68",
    val_count=20,
    val_crop=128,
    patch_size=40,
    batch_size=16,
    steps=2500,
    lr=0.001,
    eval_every=250,
    depth=6,
)


RUN_INFO = {"device": "cpu", "torch": "2.x", "started": "2026-11-30 08:00:00"}


ARGV = {
    "argv": [
        "python",
        "main.py",
        "wiener",
        "--data-dir",
        "../data/images/Train400",
        "--test-dir",
        "../data/images/Set12",
    ]
}


IMAGES = {"name": "image folders", "n_train": 380, "n_val": 20, "n_test": 68}


def write_gradcheck(root):
    write_run(
        root / "gradcheck",
        {**ARGV, "args": base_args("gradcheck"), "dataset": {"name": "random float64 tensors"}, **RUN_INFO},
        {
            "gradcheck": {"LinearFunction": True, "ReLUFunction": True},
            "first_layer_manual_vs_autograd": {
                "max_abs_diff_weight": 3.5e-18,
                "max_abs_diff_bias": 2.6e-18,
                "match": True,
            },
        },
    )


def write_inpaint(root):
    write_run(
        root / "inpaint",
        {
            **ARGV,
            "args": base_args(
                "inpaint",
                data_dir="/somewhere/data",
                download=False,
                hidden=[512, 512],
                epochs=10,
                batch_size=64,
                lr=0.05,
                val_count=5000,
            ),
            "dataset": {"name": "MNIST", "n_train": 55000, "n_val": 5000, "n_test": 10000},
            **RUN_INFO,
        },
        {
            "test_psnr": 18.6712,
            "test_psnr_hidden_half": 15.66,
            "test_psnr_measurement": 12.51,
            "test_psnr_mean_digit_fill": 14.66,
            "best_val_psnr": 18.63,
            "best_epoch": 10,
            "train_seconds": 50.0,
            "history": [{"epoch": 1, "loss": 9.0, "val_psnr": 17.0}, {"epoch": 2, "loss": 8.0, "val_psnr": 18.63}],
        },
        ("inpainting.png",),
    )


def write_ablation(root):
    models = [
        {
            "model": f"{c}ch_{b}",
            "channels": c,
            "bias": b == "bias",
            "parameters": 1000 * c,
            "test_psnr": dict(zip(SIGMAS, [37.0 + i, 27.0 + i / 10, 19.0 + 2 * i])),
            "best_val_psnr": 30.0 + i,
            "best_step": 2500,
            "history": [{"step": 2500, "loss": 0.001, "val_psnr": 30.0 + i}],
            "train_seconds": 300.0,
        }
        for i, (c, b) in enumerate([(32, "bias"), (32, "nobias"), (64, "bias"), (64, "nobias")])
    ]
    write_run(
        root / "ablation",
        {
            **ARGV,
            "args": base_args(
                "ablation", channels=[32, 64], train_sigma=[0.0, 0.1], test_sigmas=[0.01, 0.1, 0.2], **IMAGE_ARGS
            ),
            "dataset": IMAGES,
            **RUN_INFO,
        },
        {
            "noisy_psnr": dict(zip(SIGMAS, [40.0, 20.0, 13.98])),
            "models": models,
            "chosen_on_validation": "64ch_nobias",
            "validation_sigmas": [0.01, 0.1],
            "train_sigma": [0.0, 0.1],
        },
        ("denoising_examples.png", "validation_curves.png"),
    )


def write_wiener(root):
    methods = {"blurred+noisy input": 23.89, "Wiener": 28.16, "net": 25.12, "Wiener+net": 29.9712}
    write_run(
        root / "wiener",
        {
            **ARGV,
            "args": base_args(
                "wiener",
                kernel="motion",
                kernel_size=9,
                sigmas=[0.005, 0.01, 0.02],
                channels=32,
                **{**IMAGE_ARGS, "test_dir": "/somewhere/data/images/Set12"},
            ),
            "dataset": IMAGES,
            **RUN_INFO,
        },
        {
            "test_psnr": {m: {"0.005": v, "0.01": v - 1, "0.02": v - 2} for m, v in methods.items()},
            "snr": {"0.005": 178.0, "0.01": 56.2, "0.02": 23.7},
            "kernel": [[1.0]],
            "networks": {},
        },
        ("deblurring_grid.png",),
    )


@pytest.fixture
def results(tmp_path):
    """A results/backprop folder with one run of each command."""
    root = tmp_path / "backprop"
    for write in (write_gradcheck, write_inpaint, write_ablation, write_wiener):
        write(root)
    return root
