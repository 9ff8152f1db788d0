"""Training loops: supervised classification, autoencoding (reconstruction or denoising)
and segmentation, plus the noise model and the Dice loss.

The three public loops share :func:`fit`, which owns the epoch loop, the progress bar,
the history, ``--resume`` checkpoints and the best-model weights; each loop only says
how to compute a batch loss and how to evaluate on the test set.

Files written into ``run_dir``: ``checkpoint.pt`` (model, optimiser, scheduler, history;
rewritten every epoch) and ``best.pth`` (the weights with the best monitored test score).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from common.metrics import dice, iou
from common.runs import load_checkpoint, save_checkpoint

TASKS = ("reconstruction", "denoising")


def _images(batch) -> torch.Tensor:
    """Loaders yield ``(x, y)`` pairs or bare images; autoencoders only need ``x``."""
    return batch[0] if isinstance(batch, (list, tuple)) else batch


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable,
    batch_loss: Callable[[object], torch.Tensor],
    evaluate: Callable[[], dict[str, float]],
    epochs: int,
    run_dir: str | Path,
    monitor: str,
    higher_is_better: bool,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    resume: bool = False,
    on_epoch_end: Callable[[int], None] | None = None,
    desc: str = "train",
) -> dict[str, list[float]]:
    """Train for ``epochs`` epochs; return the history ``{"train_loss": [...], <evaluate keys>: [...], "epoch_seconds": [...]}``.

    ``batch_loss(batch)`` returns the loss of one training batch; ``evaluate()`` returns test
    metrics after every epoch, and ``history[monitor]`` decides which weights go to ``best.pth``.
    ``scheduler`` is stepped after every batch (e.g. ``OneCycleLR``). With ``resume`` the run
    continues from ``run_dir/checkpoint.pt`` when it exists.
    """
    run_dir = Path(run_dir)
    ckpt_path = run_dir / "checkpoint.pt"
    history: dict[str, list[float]] = {"train_loss": [], "epoch_seconds": []}
    best = -float("inf") if higher_is_better else float("inf")
    start = 0
    if resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        history, best, start = state["history"], state["best"], state["epoch"]
        tqdm.write(f"resuming from {ckpt_path} after epoch {start}")
    for epoch in range(start, epochs):
        model.train()
        t0, total, count = time.perf_counter(), 0.0, 0
        bar = tqdm(train_loader, desc=f"{desc} {epoch + 1}/{epochs}", leave=False)
        for batch in bar:
            loss = batch_loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            n = len(_images(batch))
            total, count = total + loss.item() * n, count + n
            bar.set_postfix(loss=f"{total / count:.4f}")
        history["epoch_seconds"].append(time.perf_counter() - t0)
        history["train_loss"].append(total / count)
        model.eval()
        with torch.no_grad():
            for key, value in evaluate().items():
                history.setdefault(key, []).append(value)
        score = history[monitor][-1]
        if (score > best) if higher_is_better else (score < best):
            best = score
            save_checkpoint(run_dir / "best.pth", model.state_dict())
        tqdm.write(f"{desc} epoch {epoch + 1}/{epochs}: train loss {history['train_loss'][-1]:.4f}, "
                   + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items() if k not in ("train_loss", "epoch_seconds")))  # fmt: skip
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1)
        save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                    "scheduler": scheduler.state_dict() if scheduler is not None else {},
                                    "history": history, "best": best, "epoch": epoch + 1})  # fmt: skip
    return history


# ------------------------------------------------------------- supervised
def evaluate_accuracy(model: nn.Module, loader: Iterable, device: torch.device) -> float:
    """Top-1 accuracy of ``model`` over ``loader`` (pairs of images and class indices)."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            pred = model(x.to(device)).argmax(dim=1).cpu()
            correct += int((pred == y).sum())
            total += len(y)
    return correct / max(total, 1)


def train_supervised(
    model: nn.Module,
    train_loader: Iterable,
    test_loader: Iterable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device,
    run_dir: str | Path,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    label_smoothing: float = 0.0,
    resume: bool = False,
) -> dict[str, list[float]]:
    """Cross-entropy training. Returns ``{"train_loss": [...], "test_acc": [...], "epoch_seconds": [...]}``
    (one value per epoch) and keeps the weights with the best test accuracy in ``run_dir/best.pth``."""

    def batch_loss(batch) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(model(x.to(device)), y.to(device), label_smoothing=label_smoothing)

    def evaluate() -> dict[str, float]:
        return {"test_acc": evaluate_accuracy(model, test_loader, device)}

    return fit(model, optimizer, train_loader, batch_loss, evaluate, epochs, run_dir, "test_acc", True,
               scheduler=scheduler, resume=resume, desc="supervised")  # fmt: skip


# ----------------------------------------------------------- unsupervised
def add_noise(x: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` plus Gaussian noise of standard deviation ``std``, clamped to ``[0, 1]`` (any shape)."""
    if std < 0:
        raise ValueError(f"noise std must be non-negative, got {std}")
    device = generator.device if generator is not None else x.device
    noise = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)
    return (x + std * noise).clamp(0.0, 1.0)


def autoencoder_test_mse(
    model: nn.Module, loader: Iterable, device: torch.device, task: str, noise_std: float, seed: int = 0
) -> float:
    """Mean squared error per pixel between the output and the clean image over ``loader``.

    For ``"denoising"`` the input is the image with noise drawn from a generator seeded with
    ``seed``, so every evaluation (and every model) sees the same noisy test set.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    total = count = 0.0
    with torch.no_grad():
        for batch in loader:
            clean = _images(batch)
            inputs = add_noise(clean, noise_std, generator) if task == "denoising" else clean
            out = model(inputs.to(device)).cpu()
            total += float(F.mse_loss(out, clean, reduction="sum"))
            count += clean.numel()
    return total / max(count, 1)


def train_unsupervised(
    model: nn.Module,
    train_loader: Iterable,
    test_loader: Iterable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device,
    run_dir: str | Path,
    task: str = "reconstruction",
    noise_std: float = 0.3,
    resume: bool = False,
) -> dict[str, list[float]]:
    """Autoencoder training with the MSE loss against the clean image.

    ``task="reconstruction"`` feeds the clean image; ``task="denoising"`` feeds
    :func:`add_noise` of it. Returns ``{"train_loss", "test_mse", "epoch_seconds"}`` histories
    and keeps the weights with the lowest test MSE in ``run_dir/best.pth``.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")

    def batch_loss(batch) -> torch.Tensor:
        clean = _images(batch).to(device)
        inputs = add_noise(clean, noise_std) if task == "denoising" else clean
        return F.mse_loss(model(inputs), clean)

    def evaluate() -> dict[str, float]:
        return {"test_mse": autoencoder_test_mse(model, test_loader, device, task, noise_std)}

    return fit(model, optimizer, train_loader, batch_loss, evaluate, epochs, run_dir, "test_mse", False,
               resume=resume, desc=task)  # fmt: skip


# ----------------------------------------------------------- segmentation
def dice_loss(probs: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Soft Dice loss over the whole batch: ``1 - (2*sum(p*t) + eps) / (sum(p^2) + sum(t^2) + eps)``.

    ``probs`` are foreground probabilities and ``target`` the binary masks, same shape
    (e.g. ``(B, 1, H, W)``); the sums run over every element. Returns a scalar.
    """
    if probs.shape != target.shape:
        raise ValueError(f"probs and target must have the same shape, got {tuple(probs.shape)} and {tuple(target.shape)}")
    intersection = (probs * target).sum()
    return 1 - (2 * intersection + eps) / ((probs**2).sum() + (target**2).sum() + eps)


def evaluate_segmentation(model: nn.Module, loader: Iterable, device: torch.device) -> dict[str, float]:
    """Test Dice loss (averaged over batches) and mean per-image Dice and IoU of the thresholded masks."""
    model.eval()
    losses, dices, ious = [], [], []
    with torch.no_grad():
        for x, t in loader:
            p = torch.sigmoid(model(x.to(device))).cpu()
            losses.append(float(dice_loss(p, t)))
            dices.append(dice(p, t, per_image=True))
            ious.append(iou(p, t, per_image=True))
    return {"test_loss": float(np.mean(losses)), "test_dice": float(torch.cat(dices).mean()),
            "test_iou": float(torch.cat(ious).mean())}  # fmt: skip


def train_segmentation(
    model: nn.Module,
    train_loader: Iterable,
    test_loader: Iterable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device,
    run_dir: str | Path,
    sample_images: torch.Tensor,
    sample_every: int = 2,
    resume: bool = False,
) -> dict[str, list[float]]:
    """Segmentation training with :func:`dice_loss` on ``sigmoid(logits)``.

    Every ``sample_every`` epochs (and after the last) the predicted probabilities for the fixed
    ``sample_images`` ``(S, 1, H, W)`` are written to ``run_dir/samples/epoch_XXX.npy`` for the
    progress figure. Returns ``{"train_loss", "test_loss", "test_dice", "test_iou", "epoch_seconds"}``
    histories; ``best.pth`` keeps the weights with the best test Dice.
    """
    samples_dir = Path(run_dir) / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)

    def batch_loss(batch) -> torch.Tensor:
        x, t = batch
        return dice_loss(torch.sigmoid(model(x.to(device))), t.to(device))

    def evaluate() -> dict[str, float]:
        return evaluate_segmentation(model, test_loader, device)

    def keep_samples(epoch: int) -> None:
        if epoch % sample_every == 0 or epoch == epochs:
            model.eval()
            with torch.no_grad():
                probs = torch.sigmoid(model(sample_images.to(device))).cpu().numpy()
            np.save(samples_dir / f"epoch_{epoch:03d}.npy", probs.astype(np.float16))

    return fit(model, optimizer, train_loader, batch_loss, evaluate, epochs, run_dir, "test_dice", True,
               resume=resume, on_epoch_end=keep_samples, desc="segment")  # fmt: skip
