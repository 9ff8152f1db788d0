"""The course's helper functions: evaluation (accuracy, autoencoder MSE, Dice/IoU), the soft Dice
loss, and the bookkeeping every training loop shares (run folder, resumable checkpoints, metrics).

The training loops themselves are in the experiment modules, in plain sight:
:func:`autoencoders.cifar.train` (classification, also used for STL-10),
:func:`autoencoders.mnist_ae.train` (reconstruction and denoising, also used for the STL-10
autoencoder) and :func:`autoencoders.segment.train`.

Model selection: every task holds out a validation split (a seeded random part of the training
data, or for the brain-tumour set contiguous blocks of file numbers); the loops score it after
every epoch and keep the weights of the best validation score. The test split is scored once, at
the end, with those weights (:func:`load_best`): that is the headline number. Only the CIFAR-10
loop also scores the test split every epoch and keeps ``best_test.pth``, as the course asks
(:func:`keep_best_test`; its number is test-selected, hence optimistic).

Checkpoints: after every epoch a loop calls :func:`save_progress`, which writes
``checkpoint<tag>.pt`` (model, optimiser, scheduler, history, random-number states) and, when
the monitored validation score improved, ``best<tag>.pth`` (weights only). :func:`load_progress`
restores all of it for ``--resume``, so an interrupted run continues exactly where it stopped.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from common.metrics import accuracy, dice, iou
from common.noise import add_noise
from common.precision import fp32_only, resolve_precision
from common.runs import load_checkpoint, run_folder, save_checkpoint, save_json

TASKS = ("reconstruction", "denoising")


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


def autoencoder_test_mse(model: nn.Module, loader: Iterable, device: torch.device, task: str, noise_std: float,
                         seed: int = 0) -> float:  # fmt: skip
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
        raise ValueError(f"probs and target must have the same shape, got {tuple(probs.shape)} and {tuple(target.shape)}")
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


def evaluate_segmentation(model: nn.Module, loader: Iterable, device: torch.device, split: str = "val") -> dict[str, float]:
    """``{split}_loss`` (Dice loss averaged over batches) and the mean per-image ``{split}_dice`` and ``{split}_iou``."""
    s = segmentation_scores(model, loader, device)
    return {f"{split}_loss": s["loss"], f"{split}_dice": float(s["dice"].mean()), f"{split}_iou": float(s["iou"].mean())}


def per_type_scores(dices: torch.Tensor, ious: torch.Tensor, labels: list[int], names: dict[int, str]) -> dict[str, dict]:
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


def load_progress(run_dir: Path, tag: str, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler,
                  generator: torch.Generator | None, resume: bool) -> tuple[dict, float | None, int]:  # fmt: skip
    """``(history, best score, epochs done)``: empty for a new run; with ``resume`` and a
    ``checkpoint<tag>.pt``, everything restored from it (weights, optimiser, scheduler, the global
    torch and the loader's random-number states), so training continues as if never stopped."""
    path = Path(run_dir) / f"checkpoint{tag}.pt"
    if not (resume and path.exists()):
        return {}, None, 0
    state = load_checkpoint(path)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if "rng" in state:  # checkpoints of the earlier code have no random-number states
        torch.set_rng_state(state["rng"])
    if state.get("cuda_rng") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    if generator is not None and len(state.get("generator", ())):
        generator.set_state(state["generator"])
    tqdm.write(f"resuming {path} after epoch {state['epoch']}")
    return state["history"], state["best"], state["epoch"]


def save_progress(run_dir: Path, tag: str, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler,
                  generator: torch.Generator | None, history: dict, best: float | None, monitor: str,
                  higher_is_better: bool) -> float:  # fmt: skip
    """End of an epoch: print it, keep ``best<tag>.pth`` if ``history[monitor]`` improved, write
    ``checkpoint<tag>.pt``; returns the best score so far. ``monitor`` is a validation score: the
    test split never chooses the kept weights (see :func:`load_best`)."""
    score = history[monitor][-1]
    if best is None or (score > best if higher_is_better else score < best):
        best = score
        save_checkpoint(Path(run_dir) / f"best{tag}.pth", model.state_dict())
    shown = ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items() if k != "epoch_seconds")
    tqdm.write(f"epoch {epoch}{tag.replace('_', ' ')}: {shown}")
    save_checkpoint(Path(run_dir) / f"checkpoint{tag}.pt", {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else {}, "history": history, "best": best,
        "epoch": epoch, "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generator": generator.get_state() if generator is not None else torch.empty(0, dtype=torch.uint8)})  # fmt: skip
    return best


def keep_best_test(run_dir: Path, tag: str, model: nn.Module, history: dict, key: str = "test_acc") -> None:
    """The course's CIFAR-10 protocol: ``best_test<tag>.pth`` keeps the weights of the best ``history[key]``
    so far (a TEST score, so the number it stands for is optimistic; the headline uses :func:`load_best`)."""
    scores = history[key]
    if len(scores) == 1 or scores[-1] > max(scores[:-1]):
        save_checkpoint(Path(run_dir) / f"best_test{tag}.pth", model.state_dict())


def load_best(model: nn.Module, run_dir: Path, tag: str = "") -> nn.Module:
    """Load the validation-selected weights ``best<tag>.pth`` into ``model``; returns it in eval mode."""
    model.load_state_dict(load_checkpoint(Path(run_dir) / f"best{tag}.pth"))
    return model.eval()


def best_epoch(history: dict, monitor: str, higher_is_better: bool) -> int:
    """The 1-based epoch whose ``history[monitor]`` :func:`save_progress` kept (the first of equal scores)."""
    scores = np.asarray(history[monitor])
    return int(np.argmax(scores) if higher_is_better else np.argmin(scores)) + 1


def append(history: dict[str, list[float]], **values: float) -> None:
    for key, value in values.items():
        history.setdefault(key, []).append(value)


# The tasks with a bf16 training path whose bf16 quality matches fp32 (results/autoencoders/cifar-bf16).
BF16_TASKS = ("cifar",)


def run_precision(args: argparse.Namespace, device: torch.device) -> str:
    """The arithmetic of this task's forward passes (:mod:`common.precision`): bf16 is offered for the
    CIFAR-10 classifier only, the other tasks train in fp32. Raises ``ValueError`` for an unavailable one."""
    if args.task in BF16_TASKS:
        return resolve_precision(args.precision, device, bf16_ok=True)
    return fp32_only(args.precision, f"the {args.task} task")


def open_run(args: argparse.Namespace, device: torch.device, dataset: str, **extra):
    """The run folder context manager (:func:`common.runs.run_folder`) of this command, with
    config.json holding the arguments under ``"args"``, the dataset, the device, the precision and ``extra``."""
    from autoencoders.main import fixed_on_resume

    config = {"args": vars(args), "dataset": dataset, "device": str(device), "precision": run_precision(args, device),
              **extra}
    return run_folder(args.results_root, args.name, config, resume=args.resume, overwrite=args.overwrite,
                      fixed_on_resume=fixed_on_resume(args.task))  # fmt: skip


def finish_run(run_dir: Path, history: dict, title: str, **metrics) -> None:
    """metrics.json (``metrics`` plus the per-epoch ``history``) and history.png."""
    from autoencoders import plots

    save_json(Path(run_dir) / "metrics.json", {**metrics, "history": history})
    plots.save(plots.history_figure(history, title), Path(run_dir) / "history.png")
