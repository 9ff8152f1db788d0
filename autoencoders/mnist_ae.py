"""Part 1: linear vs convolutional autoencoders on MNIST, for reconstruction and denoising
(``python main.py mnist``).

:func:`train_one_epoch` and :func:`train` are the autoencoder training loop (MSE against the
clean image); the STL-10 autoencoder (:mod:`autoencoders.stl10`) is trained with them too.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from autoencoders import datasets, helper, models, plots
from common.checkpoint import load_progress, save_progress
from common.guard import DivergenceGuard
from common.noise import add_noise
from common.runs import save_checkpoint, save_json, seed_everything

MODELS = (("linear", models.LinearAutoEncoder), ("conv", models.AutoEncoder_CNN))


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    fit: helper.Fit,
    task: str,
    noise_std: float,
    desc: str = "train",
    guard: DivergenceGuard | None = None,
) -> float:
    """One pass over ``loader``; ``task="denoising"`` feeds the image with Gaussian noise (clamped to
    [0, 1]), ``"reconstruction"`` the clean image; the loss is the MSE against the clean image."""
    model.train()
    total, count = 0.0, 0
    for batch in helper.bar(loader, desc):
        clean = helper.images(batch).to(fit.device)
        inputs = add_noise(clean, noise_std, clamp=(0, 1)) if task == "denoising" else clean
        loss = F.mse_loss(model(inputs), clean)
        fit.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        fit.optimizer.step()
        total, count = (
            total + (guard.check(loss) if guard is not None else loss.item()) * len(clean),
            count + len(clean),
        )
    return total / max(count, 1)


def train(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable,
    fit: helper.Fit,
    task: str = "reconstruction",
    noise_std: float = 0.3,
) -> dict[str, list[float]]:
    """Train for ``fit.epochs`` epochs; returns the histories ``{"train_loss", "val_mse", "epoch_seconds"}``.

    ``run_dir/best<tag>.pth`` keeps the weights with the lowest validation MSE and
    ``run_dir/checkpoint<tag>.pt`` the state after the last epoch (``fit.resume`` continues from it).
    ``model`` ends with the validation-selected weights.
    """
    if task not in helper.TASKS:
        raise ValueError(f"task must be one of {helper.TASKS}, got {task!r}")
    run_dir, tag = Path(fit.run_dir), fit.tag
    ckpt_path, generator = run_dir / f"checkpoint{tag}.pt", getattr(train_loader, "generator", None)
    generators = {"loader": generator} if generator is not None else None
    progress = load_progress(ckpt_path, model, fit.optimizer, None, generators, resume=fit.resume)
    history = progress.extra.setdefault("history", {})
    guard = DivergenceGuard(f"{type(model).__name__} ({task})")  # stops a diverged run (common.cli.Diverged)
    for epoch in range(progress.step, fit.epochs):
        t0 = time.perf_counter()
        loss = train_one_epoch(model, train_loader, fit, task, noise_std, f"{task} {epoch + 1}/{fit.epochs}", guard)
        seconds = time.perf_counter() - t0
        mse = helper.autoencoder_test_mse(model, val_loader, fit.device, task, noise_std)
        helper.record_epoch(history, run_dir, tag, epoch + 1, train_loss=loss, val_mse=mse, epoch_seconds=seconds)
        if progress.improves(mse, higher_is_better=False):
            progress.keep_best(model, mse, epoch + 1)
            save_checkpoint(run_dir / f"best{tag}.pth", model.state_dict())
        progress.step = epoch + 1
        helper.report_epoch(epoch + 1, tag, history)
        save_progress(ckpt_path, progress, model, fit.optimizer, None, generators)
    model.load_state_dict(progress.best_model)
    return history


def train_all(args: argparse.Namespace, device: torch.device, run_dir: Path, data: tuple) -> tuple[list, dict, dict]:
    """Both models on both tasks, each from the same seed and the same batch order; returns
    the table rows, the histories and the trained models (the validation-selected weights, whose
    test MSE, scored once, is the table's ``test_mse``)."""
    train_x, train_y, test_x, test_y = data
    train_x, train_y, val_x, val_y = datasets.hold_out(train_x, train_y, args.val_fraction, args.seed)
    val_loader, test_loader = datasets.TensorBatches(val_x, val_y, 1000), datasets.TensorBatches(test_x, test_y, 1000)
    table, histories, trained = [], {}, {}
    for task in helper.TASKS:
        for name, cls in MODELS:
            seed_everything(args.seed)
            g = torch.Generator().manual_seed(args.seed)
            train_loader = datasets.TensorBatches(train_x, train_y, args.batch_size, shuffle=True, generator=g)
            model = cls().to(device)
            optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
            fit = helper.Fit(optimizer, args.epochs, device, run_dir, resume=args.resume, tag=f"_{name}_{task}")
            history = train(model, train_loader, val_loader, fit, task=task, noise_std=args.noise_std)
            model.eval()  # train() ends with the validation-selected weights: the figures and the table show them
            histories[f"{name}_{task}"], trained[(name, task)] = history, model
            table.append(
                {
                    "model": cls.__name__,
                    "task": task,
                    "parameters": models.count_parameters(model),
                    "test_mse": helper.autoencoder_test_mse(model, test_loader, device, task, args.noise_std),
                    "val_mse": min(history["val_mse"]),
                    "best_epoch": helper.best_epoch(history, "val_mse", False),
                    "train_seconds": sum(history["epoch_seconds"]),
                }
            )
    return table, histories, trained


def save_figures(run_dir: Path, trained: dict, test_x: torch.Tensor, noise_std: float, device: torch.device) -> None:
    """reconstruction.png and denoising.png: ten test digits through every trained model."""
    clean = test_x[:10].float() / 255
    noisy = add_noise(clean, noise_std, torch.Generator().manual_seed(0), clamp=(0, 1))
    with torch.no_grad():
        out = {
            key: model((noisy if key[1] == "denoising" else clean).to(device)).cpu() for key, model in trained.items()
        }
    rows = {"original": clean, "linear": out[("linear", "reconstruction")], "conv": out[("conv", "reconstruction")]}
    plots.save(plots.image_rows_figure(rows, "MNIST reconstruction"), run_dir / "reconstruction.png")
    rows = {
        "clean": clean,
        f"noisy (std {noise_std})": noisy,
        "linear": out[("linear", "denoising")],
        "conv": out[("conv", "denoising")],
    }
    plots.save(plots.image_rows_figure(rows, "MNIST denoising"), run_dir / "denoising.png")


def run(args: argparse.Namespace, device: torch.device) -> None:
    loaded = datasets.load_mnist(args.data_dir, args.download)
    data = datasets.splits(loaded, args.quick, quick_train=512, quick_test=256)
    n_val = len(datasets.split_indices(len(data[1]), args.val_fraction, args.seed)[1])
    sizes = dict(train_images=len(data[1]) - n_val, val_images=n_val, test_images=len(data[3]))
    with helper.open_run(args, device, loaded["source"], **sizes) as run_dir:
        table, histories, trained = train_all(args, device, run_dir, data)
        save_figures(run_dir, trained, data[2], args.noise_std, device)
        for key, history in histories.items():
            plots.save(plots.history_figure(history, key), run_dir / f"history_{key}.png")
        save_json(run_dir / "metrics.json", {"table": table, "histories": histories})
    for row in table:
        print(
            f"{row['model']:>18} {row['task']:>14}: {row['parameters']:>7,} parameters, test MSE {row['test_mse']:.5f}"
        )
    mse = {(r["model"], r["task"]): r["test_mse"] for r in table}
    lin, conv = "LinearAutoEncoder", "AutoEncoder_CNN"
    print(
        f"{run_dir}: test MSE (weights chosen on validation) reconstruction linear {mse[lin, 'reconstruction']:.5f} / "
        f"conv {mse[conv, 'reconstruction']:.5f}, denoising linear {mse[lin, 'denoising']:.5f} / "
        f"conv {mse[conv, 'denoising']:.5f}"
    )
