"""The course's helper functions: evaluation (accuracy, autoencoder MSE, Dice/IoU), the soft Dice
loss, and the bookkeeping every training loop shares (run folder, resumable checkpoints, metrics).

The training loops themselves are in the experiment modules, in plain sight:
:func:`autoencoders.cifar.train` (classification, also used for STL-10),
:func:`autoencoders.mnist_ae.train` (reconstruction and denoising, also used for the STL-10
autoencoder) and :func:`autoencoders.segment.train`.

Model selection: every task holds out a validation split (a seeded random part of the training
data, or for the brain-tumour set contiguous blocks of file numbers); the loops score it after
every epoch and keep the weights of the best validation score. The test split is scored once, at
the end, with those weights: that is the headline number. Only the CIFAR-10 loop also scores the
test split every epoch and keeps ``best_test.pth``, as the course asks (its number is
test-selected, hence optimistic).

Checkpoints: after every epoch a loop writes ``checkpoint<tag>.pt`` (:mod:`common.checkpoint`'s
layout, the history under ``extra``) and, when the validation score improved, ``best<tag>.pth``
(weights only, for ``--init-from``); ``--resume`` restores all of it, so an interrupted run
continues exactly where it stopped.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from common.metrics import accuracy, dice, iou
from common.noise import add_noise
from common.precision import fp32_only, resolve_precision
from common.runs import append_log, save_json
from common.runs import open_run as open_run_folder

TASKS = ("reconstruction", "denoising")


@dataclass
class Fit:
    """How a training loop of this package optimises and where it keeps its files, in one argument."""

    optimizer: torch.optim.Optimizer
    epochs: int
    device: torch.device
    run_dir: Path
    scheduler: Any = None  # stepped after every batch (one-cycle); None: the optimizer's rate throughout
    resume: bool = False  # continue from run_dir/checkpoint<tag>.pt
    tag: str = ""  # suffix of the checkpoint, weights and log files, for a run folder holding several models
    precision: str = "fp32"  # of the forward pass (common.precision)


# Arguments a --resume must repeat: they change the data, the model or the optimisation.
FIXED_ON_RESUME = (
    "seed",
    "batch_size",
    "lr",
    "weight_decay",
    "noise_std",
    "synthetic",
    "size",
    "weights",
    "val_fraction",
    "guard",
    "no_pretrained",
    "max_unlabeled",
    "classifier_lr",
    "classifier_epochs",
    "augment",
    "init_from",
)
SCHEDULED = (
    "cifar",
    "stl10-cnn",
    "stl10-resnet",
    "stl10-ae",
)  # one-cycle schedule over all epochs: --epochs is fixed too


def fixed_on_resume(task: str) -> tuple[str, ...]:
    """The arguments a ``--resume`` of ``task`` must repeat."""
    return FIXED_ON_RESUME + (("epochs",) if task in SCHEDULED else ())


def images(batch) -> torch.Tensor:
    """Loaders yield ``(x, y)`` pairs or bare images; autoencoders only need ``x``."""
    return batch[0] if isinstance(batch, (list, tuple)) else batch


# -------------------------------------------------------------- evaluation
def evaluate_accuracy(model: nn.Module, loader: Iterable, device: torch.device) -> float:
    """Top-1 accuracy of ``model`` over ``loader`` (pairs of images and class indices)."""
    # BEGIN SOLUTION
    model.eval()
    preds, targets = [], []
    with torch.no_grad():
        for x, y in loader:
            preds.append(model(x.to(device)).argmax(dim=1).cpu())
            targets.append(y)
    return accuracy(torch.cat(preds), torch.cat(targets)) if preds else 0.0
    # END SOLUTION


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
            clean = images(batch)
            inputs = add_noise(clean, noise_std, generator, clamp=(0, 1)) if task == "denoising" else clean
            out = model(inputs.to(device)).cpu()
            total += float(F.mse_loss(out, clean, reduction="sum"))
            count += clean.numel()
    return total / max(count, 1)


def dice_loss(probs: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Soft Dice loss over the whole batch: ``1 - (2*sum(p*t) + eps) / (sum(p^2) + sum(t^2) + eps)``.

    ``probs`` are foreground probabilities and ``target`` the binary masks, same shape
    (e.g. ``(B, 1, H, W)``); the sums run over every element. Returns a scalar.
    """
    # BEGIN SOLUTION
    if probs.shape != target.shape:
        raise ValueError(
            f"probs and target must have the same shape, got {tuple(probs.shape)} and {tuple(target.shape)}"
        )
    intersection = (probs * target).sum()
    return 1 - (2 * intersection + eps) / ((probs**2).sum() + (target**2).sum() + eps)
    # END SOLUTION


def segmentation_scores(model: nn.Module, loader: Iterable, device: torch.device) -> dict:
    """Over ``loader`` (in its order): the Dice loss averaged over batches, and the per-image Dice and
    IoU of the thresholded masks as ``(N,)`` tensors (``"dice"``, ``"iou"``)."""
    model.eval()
    losses, dices, ious = [], [], []
    with torch.no_grad():
        for x, t in loader:
            p = torch.sigmoid(model(x.to(device))).cpu()
            losses.append(float(dice_loss(p, t)))
            dices.append(dice(p, t, per_image=True))
            ious.append(iou(p, t, per_image=True))
    return {"loss": float(np.mean(losses)), "dice": torch.cat(dices), "iou": torch.cat(ious)}


def evaluate_segmentation(
    model: nn.Module, loader: Iterable, device: torch.device, split: str = "val"
) -> dict[str, float]:
    """``{split}_loss`` (Dice loss averaged over batches) and the mean per-image ``{split}_dice``
    and ``{split}_iou``."""
    s = segmentation_scores(model, loader, device)
    return {
        f"{split}_loss": s["loss"],
        f"{split}_dice": float(s["dice"].mean()),
        f"{split}_iou": float(s["iou"].mean()),
    }


def per_type_scores(
    dices: torch.Tensor, ious: torch.Tensor, labels: list[int], names: dict[int, str]
) -> dict[str, dict]:
    """Mean Dice and IoU over all images (``"overall"``) and per type: ``{name: {"dice", "iou", "slices"}}``.
    ``labels[i]`` is the type of image ``i``; types missing from ``names`` are only counted overall."""
    labels_t = torch.as_tensor(labels)
    out = {"overall": {"dice": float(dices.mean()), "iou": float(ious.mean()), "slices": len(labels)}}
    for label, name in names.items():
        sel = labels_t == label
        if sel.any():
            out[name] = {"dice": float(dices[sel].mean()), "iou": float(ious[sel].mean()), "slices": int(sel.sum())}
    return out


# ------------------------------------------------------ training plumbing
def one_cycle(optimizer: torch.optim.Optimizer, lr: float, total_steps: int):
    """One-cycle schedule over the whole run; a smoke run too short for its two phases keeps ``lr`` constant."""
    if total_steps < 20:
        return None
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=total_steps, pct_start=0.25)


def bar(loader: Iterable, desc: str) -> Iterable:
    """A progress bar over one epoch's batches that disappears when the epoch ends."""
    return tqdm(loader, desc=desc, leave=False, disable=None)  # no bar when stderr is not a terminal (logs, tests)


def report_epoch(epoch: int, tag: str, history: dict) -> None:
    """Print the epoch's scores, one line."""
    shown = ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items() if k != "epoch_seconds")
    tqdm.write(f"epoch {epoch}{tag.replace('_', ' ')}: {shown}")


def best_epoch(history: dict, monitor: str, higher_is_better: bool) -> int:
    """The 1-based epoch whose ``history[monitor]`` the loop kept (the first of equal scores)."""
    scores = np.asarray(history[monitor])
    return int(np.argmax(scores) if higher_is_better else np.argmin(scores)) + 1


def record_epoch(history: dict[str, list[float]], run_dir: str | Path, tag: str, epoch: int, **values: float) -> None:
    """Append one epoch's ``values`` to ``history`` and as a row to ``run_dir/log<tag>.csv``."""
    for key, value in values.items():
        history.setdefault(key, []).append(value)
    append_log(run_dir, {"epoch": epoch, **values}, f"log{tag}.csv")


# The tasks with a bf16 training path whose bf16 quality matches fp32 (results/autoencoders/cifar-bf16).
BF16_TASKS = ("cifar",)


def run_precision(args: argparse.Namespace, device: torch.device) -> str:
    """The arithmetic of this task's forward passes (:mod:`common.precision`): bf16 is offered for the
    CIFAR-10 classifier only, the other tasks train in fp32. Raises ``ValueError`` for an unavailable one."""
    if args.task in BF16_TASKS:
        return resolve_precision(args.precision, device, bf16_ok=True)
    return fp32_only(args.precision, f"the {args.task} task")


def open_run(args: argparse.Namespace, device: torch.device, dataset: str, **extra):
    """The run folder (:func:`common.runs.open_run`) of this command, with config.json holding the arguments
    under ``"args"``, the dataset, the device, the precision and ``extra``."""
    return open_run_folder(
        args,
        fixed_on_resume(args.task),
        dataset=dataset,
        device=str(device),
        precision=run_precision(args, device),
        **extra,
    )


def finish_run(run_dir: Path, history: dict, title: str, **metrics) -> None:
    """metrics.json (``metrics`` plus the per-epoch ``history``) and history.png."""
    from autoencoders import plots

    save_json(Path(run_dir) / "metrics.json", {**metrics, "history": history})
    plots.save(plots.history_figure(history, title), Path(run_dir) / "history.png")
