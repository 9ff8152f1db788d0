"""Experiment ``segment``: DRIVE retina-vessel segmentation studies with the U-Net of ``unet.py``.

    python main.py segment --data-dir DRIVE --study skip        # or lr, augment, pretrained

Each study trains a few variants (:func:`study_variants`) with the same loop
(:func:`train_segmenter`): Adam and DiceCE loss on random augmented patches, validation Dice on
whole held-out training images, which picks the weights scored on the 20 test images.
Every score is computed inside the field-of-view mask (:func:`score_segmentation`).
The pretrained study compares smp's ResNet-18 U-Net from scratch with the same network whose encoder
starts from ImageNet weights (``--encoder-weights imagenet|PATH``, :mod:`common.pretrained`); without
them the pretrained variant is recorded as ``skipped`` with the reason and only the scratch one trains.
Writes ``metrics.json`` (``variants``: one entry per variant with ``status``, ``history``,
``test``), ``curves.png``, ``predictions.png`` (``augmentations.png`` for ``--study augment``)
and one checkpoint per variant (``<variant>.pt``) that ``--resume`` continues.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm import tqdm

from common.checkpoint import Progress, load_progress, save_progress
from common.cli import DataError, Diverged
from common.guard import DivergenceGuard
from common.metrics import dice
from common.precision import autocast, resolve_precision
from common.pretrained import resnet18_weights
from common.runs import append_log, save_figure, seed_everything
from medical_cnn.augment import AUGMENTATIONS, augment, sample_patches
from medical_cnn.data_io import load_drive, preprocess_fundus
from medical_cnn.unet import UNet
from medical_cnn.utils import DiceCELoss

# Arguments a --resume must repeat: they define the models, the data split or the training schedule's meaning.
FIXED_ON_RESUME = (
    "seed",
    "study",
    "base_channels",
    "patch_size",
    "batch_size",
    "lr",
    "lrs",
    "lr_schedule",
    "augmentation",
    "val_images",
    "encoder_weights",
)
# bf16 training keeps fp32's test Dice on DRIVE (results/medical_cnn/segment-parity-fp32 and -bf16),
# so --precision auto takes it.
BF16_OK = True


# --------------------------------------------------------------------------- models
def build_segmenter(kind: str, args: argparse.Namespace) -> nn.Module:
    """``unet``/``unet-noskip``: this folder's U-Net; ``smp``: smp's U-Net with a ResNet-18 encoder (random init)."""
    if kind == "smp":
        return smp.Unet(encoder_name="resnet18", encoder_weights=None, in_channels=1, classes=1)
    return UNet(1, 1, base_channels=args.base_channels, skip_connections=kind == "unet")


def load_encoder_weights(model: smp.Unet, backbone: dict[str, torch.Tensor]) -> None:
    """Copy ResNet-18 backbone weights (:func:`common.pretrained.resnet18_weights`, no ``fc.*``) into the
    one-channel encoder of ``model``.

    The first convolution ``(64, 3, 7, 7)`` is summed over its input channels to ``(64, 1, 7, 7)``,
    which is what smp does with its own ImageNet weights for grey-scale input.
    """
    model.encoder.load_state_dict({**backbone, "conv1.weight": backbone["conv1.weight"].sum(1, keepdim=True)})


# --------------------------------------------------------------------------- prediction and scoring
def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad ``(B, C, H, W)`` at the bottom and right so H and W are multiples of ``multiple``."""
    return F.pad(x, (0, -x.shape[-1] % multiple, 0, -x.shape[-2] % multiple))


@torch.no_grad()
def predict_full(model: nn.Module, images: torch.Tensor, multiple: int, device: torch.device) -> torch.Tensor:
    """Vessel probabilities for whole images ``(N, 1, H, W)`` -> ``(N, H, W)``, one image at a time."""
    model.eval()
    height, width = images.shape[-2:]
    probs = [
        torch.sigmoid(model(pad_to_multiple(img[None], multiple).to(device)))[0, 0, :height, :width].cpu()
        for img in images
    ]
    return torch.stack(probs)


def score_segmentation(
    probs: torch.Tensor, vessels: torch.Tensor, fov: torch.Tensor, threshold: float, with_auc: bool
) -> dict:
    """Dice (F1) inside the field of view: per image (mean, std) and over all FOV pixels pooled; optional ROC AUC.

    ``probs`` ``(N, H, W)`` in [0, 1], ``vessels`` and ``fov`` bool ``(N, H, W)``; pixels outside the
    field of view count neither as hits nor as false alarms.
    """
    pred = probs > threshold
    per_image = [dice(p[m], v[m]) for p, v, m in zip(pred, vessels, fov)]
    scores = {
        "dice_mean": float(np.mean(per_image)),
        "dice_std": float(np.std(per_image)),
        "dice_pooled": dice(pred[fov], vessels[fov]),
        "dice_per_image": per_image,
    }
    if with_auc:
        scores["auc"] = float(roc_auc_score(vessels[fov].numpy(), probs[fov].numpy()))
    return scores


# --------------------------------------------------------------------------- training
@dataclass
class Step:
    """What a training step of one variant uses besides the model: its optimizer and loss, the patch generator
    (seeded, checkpointed), and where and in which precision the forward pass runs."""

    optimizer: torch.optim.Optimizer
    loss_fn: nn.Module
    generator: torch.Generator
    device: torch.device
    precision: str = "fp32"


def train_step(
    model: nn.Module, step: Step, patches: dict, augmentation: str, args: argparse.Namespace
) -> torch.Tensor:
    """One Adam step on a batch of random augmented patches of ``patches`` (``x``, ``y``), the forward pass in
    ``step.precision`` and the loss in float32; returns the loss (not stepped when non-finite)."""
    model.train()
    batch = sample_patches(patches["x"], patches["y"], args.patch_size, args.batch_size, step.generator)
    x, y = augment(*batch, augmentation, step.generator)
    with autocast(step.device, step.precision):
        logits = model(x.to(step.device))
    loss = step.loss_fn(logits.float(), y.to(step.device))
    if torch.isfinite(loss):
        step.optimizer.zero_grad()
        loss.backward()
        step.optimizer.step()
    return loss


def pad_multiple(model: nn.Module) -> int:
    """Whole images are zero-padded to a multiple of this before prediction: 32 for smp's ResNet encoder (five
    halvings), 16 for the U-Net (four)."""
    return 32 if isinstance(model, smp.Unet) else 16


def validate(model: nn.Module, val: dict, multiple: int, args: argparse.Namespace, device: torch.device) -> float:
    """Mean Dice inside the field of view on the whole held-out training images."""
    return score_segmentation(
        predict_full(model, val["x"], multiple, device), val["y"], val["fov"], args.threshold, with_auc=False
    )["dice_mean"]


def lr_schedule(optimizer: torch.optim.Optimizer, args: argparse.Namespace) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-iteration rate factor: 1 (constant) or a half cosine from 1 to 0 over ``args.iters`` (cosine).
    The factor is a function of the iteration only, so a resumed run with a longer ``--iters`` stretches it."""
    if args.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda it: 0.5 * (1 + math.cos(math.pi * min(it, args.iters) / args.iters))
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0)


def train_segmenter(
    variant: dict, model: nn.Module, sets: dict, args: argparse.Namespace, device: torch.device, ckpt_path: Path
) -> dict:
    """Adam at ``variant["lr"]`` + DiceCE loss on random patches (``variant["augmentation"]``) for ``args.iters``
    iterations; every ``--eval-every`` iterations the validation Dice is recorded, the best weights kept and a
    checkpoint written. A non-finite or exploding loss (:class:`common.guard.DivergenceGuard`) stops the run and
    marks it ``diverged``; the caller goes on with the next variant.

    ``--lr-schedule cosine`` lowers the rate along a half cosine to 0 at the last iteration: late small steps
    settle the weights that a constant rate keeps moving around, which is what a longer schedule needs."""
    name = variant["name"]
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=variant["lr"])
    schedule = lr_schedule(optimizer, args)
    precision = resolve_precision(args.precision, device, BF16_OK)  # main.py has checked it
    step = Step(optimizer, DiceCELoss(), torch.Generator().manual_seed(args.seed), device, precision)
    generators = {"patches": step.generator}
    progress = load_progress(ckpt_path, model, optimizer, schedule, generators, resume=args.resume, device=device)
    state = progress.extra.setdefault(
        "state", {"status": "ok", "history": {"iteration": [], "train_loss": [], "val_dice": []}}
    )

    def save() -> None:
        save_progress(ckpt_path, progress, model, optimizer, schedule, generators)

    start, running, guard = time.time(), [], DivergenceGuard(name)
    first = progress.step if state["status"] == "ok" else args.iters  # a resumed diverged run stays diverged
    bar = tqdm(range(first, args.iters), desc=f"train {name}", initial=first, total=args.iters, disable=None)
    for it in bar:
        loss = train_step(model, step, sets["fit"], variant["augmentation"], args)
        try:
            guard.check(loss, it)
        except Diverged as e:
            state.update(status="diverged", diverged_at=it)
            print(f"{e}; recorded as diverged")
            save()
            break
        schedule.step()
        running.append(loss.item())
        if (it + 1) % args.eval_every == 0 or it + 1 == args.iters:
            val_dice = validate(model, sets["val"], pad_multiple(model), args, device)
            for key, value in (("iteration", it + 1), ("train_loss", float(np.mean(running))), ("val_dice", val_dice)):
                state["history"][key].append(value)
            append_log(ckpt_path.parent, {k: v[-1] for k, v in state["history"].items()}, f"log_{name}.csv")
            running = []
            if progress.improves(val_dice):
                progress.keep_best(model, val_dice, it + 1)
            progress.step = it + 1
            bar.set_postfix(loss=state["history"]["train_loss"][-1], val_dice=round(val_dice, 4))
            save()
    return test_segmenter(model, progress, variant, sets["test"], args, time.time() - start)


def test_segmenter(
    model: nn.Module, progress: Progress, variant: dict, test: dict, args: argparse.Namespace, seconds: float
) -> dict:
    """The record of one variant; the best validation weights scored on the test images (``test`` is None
    when no evaluation happened, e.g. a run that diverged before its first one)."""
    state = progress.extra["state"]
    result = {
        "status": state["status"],
        "lr": variant["lr"],
        "lr_schedule": args.lr_schedule,
        "augmentation": variant["augmentation"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "iterations_done": progress.step,
        "best_iteration": progress.best_step,
        "best_val_dice": -1.0 if progress.best_score is None else progress.best_score,
        "train_seconds_this_session": seconds,
        "history": state["history"],
        "diverged_at": state.get("diverged_at"),
        "test": None,
    }
    if progress.best_model is not None:
        model.load_state_dict(progress.best_model)
        device = next(model.parameters()).device
        probs = predict_full(model, test["x"], pad_multiple(model), device)
        result["test"] = score_segmentation(probs, test["y"], test["fov"], args.threshold, with_auc=True)
        result["example"] = probs[0]
    return result


# --------------------------------------------------------------------------- setup
def study_variants(args: argparse.Namespace) -> list[dict]:
    """The runs one study compares: name, model kind, learning rate, augmentation."""
    base = {"kind": "unet", "lr": args.lr, "augmentation": args.augmentation}
    if args.study == "skip":
        return [{**base, "name": "unet-skip"}, {**base, "name": "unet-noskip", "kind": "unet-noskip"}]
    if args.study == "lr":
        return [{**base, "name": f"lr-{lr:g}", "lr": lr} for lr in args.lrs]
    if args.study == "augment":
        return [{**base, "name": f"aug-{aug}", "augmentation": aug} for aug in AUGMENTATIONS]
    return [
        {**base, "name": "smp-scratch", "kind": "smp"},
        {**base, "name": "smp-pretrained", "kind": "smp", "pretrained": True},
    ]


def load_data(args: argparse.Namespace) -> tuple[dict, dict]:
    """Pre-processed tensors for the fit / validation (held-out training images) / test sets, and their description.

    The pretrained study also resolves ``--encoder-weights`` here (``sets["encoder"]``, a
    :class:`common.pretrained.PretrainedWeights`), so a bad file stops the run before its folder exists.
    """
    train, test = load_drive(args.data_dir, "training"), load_drive(args.data_dir, "test")
    if len(train.names) < 2:
        raise DataError(
            f"DRIVE training set in {args.data_dir} has {len(train.names)} image(s); "
            "at least 2 are needed (fit + validation)"
        )
    n_val = min(max(1, args.val_images), len(train.names) - 1)
    order = np.random.default_rng(args.seed).permutation(len(train.names))
    parts = {
        "fit": (train, order[n_val:]),
        "val": (train, order[:n_val]),
        "test": (test, np.arange(len(test.names))[: 2 if args.quick else None]),
    }
    sets, described = {}, {}
    for part, (split, idx) in parts.items():
        idx = np.sort(idx)
        sets[part] = {
            "x": torch.from_numpy(preprocess_fundus(split.images[idx], split.fov[idx])),
            "y": torch.from_numpy(split.vessels[idx]),
            "fov": torch.from_numpy(split.fov[idx]),
            "rgb": split.images[idx],
            "names": [split.names[i] for i in idx],
        }
        described[part] = sets[part]["names"]
    sets["fit"]["y"] = sets["fit"]["y"][:, None].float()  # (N, 1, H, W) targets for patch sampling
    description = {"name": "DRIVE", "root": str(args.data_dir), "images": described}
    if args.study == "pretrained":
        sets["encoder"] = resnet18_weights(args.encoder_weights, "--encoder-weights")
        description["encoder_weights"] = sets["encoder"].source
    return sets, description


# --------------------------------------------------------------------------- outputs
def augmentation_figure(sets: dict, args: argparse.Namespace, path: Path) -> None:
    """Four example patches under each strategy, the vessel mask outlined in red."""
    generator = torch.Generator().manual_seed(args.seed)
    x, y = sample_patches(sets["fit"]["x"], sets["fit"]["y"], args.patch_size, 16, generator)
    inside = (x != 0).float().mean((1, 2, 3)) > 0.9  # show patches within the field of view, first
    order = torch.argsort(inside.float(), descending=True, stable=True)[:4]
    x, y = x[order], y[order]
    fig, axes = plt.subplots(len(AUGMENTATIONS), 4, figsize=(9, 2.3 * len(AUGMENTATIONS)), squeeze=False)
    for row, strategy in enumerate(AUGMENTATIONS):
        xa, ya = augment(x, y, strategy, torch.Generator().manual_seed(args.seed + row))
        for col in range(4):
            ax = axes[row, col]
            ax.imshow(xa[col, 0], cmap="gray", vmin=-2.5, vmax=2.5)
            ax.contour(ya[col, 0], levels=[0.5], colors="red", linewidths=0.5)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(strategy)
    fig.suptitle("DRIVE training patches under each augmentation (red: vessel mask)")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def curves_figure(results: dict, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, res in results.items():
        if res.get("history"):
            axes[0].plot(res["history"]["iteration"], res["history"]["train_loss"], label=name)
            axes[1].plot(res["history"]["iteration"], res["history"]["val_dice"], label=name)
    axes[0].set(xlabel="iteration", ylabel="DiceCE loss (train patches)", yscale="log", title="DRIVE: training loss")
    axes[1].set(xlabel="iteration", ylabel="Dice in FOV", title="DRIVE: validation Dice (held-out training images)")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def predictions_figure(test: dict, examples: dict, results: dict, threshold: float, path: Path) -> None:
    """The first test image, its manual mask and each variant's thresholded prediction inside the FOV."""
    fig, axes = plt.subplots(1, 2 + len(examples), figsize=(3.6 * (2 + len(examples)), 4.3))
    axes[0].imshow(test["rgb"][0])
    axes[0].set_title(f"DRIVE test {test['names'][0]}")
    axes[1].imshow(test["y"][0], cmap="gray")
    axes[1].set_title("1st manual")
    for ax, (name, probs) in zip(axes[2:], examples.items()):
        ax.imshow((probs > threshold) & test["fov"][0], cmap="gray")
        ax.set_title(f"{name}: Dice {results[name]['test']['dice_per_image'][0]:.3f}")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def run(args: argparse.Namespace, sets: dict, run_dir: Path, device: torch.device) -> dict:
    """Train and score every variant of the study (a failed variant does not stop the others), then draw the figures."""
    if args.study == "augment":
        augmentation_figure(sets, args, run_dir / "augmentations.png")
    results, examples = {}, {}
    for variant in study_variants(args):
        name = variant["name"]
        weights = sets["encoder"] if variant.get("pretrained") else None
        if weights is not None and not weights.available:
            results[name] = {"status": "skipped", "reason": weights.reason, "encoder_weights": weights.source}
            print(f"{name}: SKIPPED ({weights.reason})")
            continue
        seed_everything(args.seed)
        model = build_segmenter(variant["kind"], args)
        if weights is not None:
            load_encoder_weights(model, weights.state_dict)
            print(f"{name}: encoder weights {weights.source}")
        result = train_segmenter(variant, model, sets, args, device, run_dir / f"{name}.pt")
        if "example" in result:
            examples[name] = result.pop("example")
        results[name] = {"model": variant["kind"], **result}
        if variant["kind"] == "smp":
            results[name]["encoder_weights"] = (
                weights.source if weights is not None else "RANDOM initialisation (trained from scratch)"
            )
        test = result["test"]
        summary = (
            f"test Dice in FOV {test['dice_mean']:.4f} (pooled {test['dice_pooled']:.4f}, AUC {test['auc']:.4f})"
            if test
            else "no test score"
        )
        print(f"{name}: {result['status']}, {summary} [DRIVE]")
    trained = [v for v in results.values() if v["status"] != "skipped"]
    if trained and all(v["status"] == "diverged" for v in trained):  # nothing to score: the command itself diverged
        raise Diverged(
            f"every variant of the {args.study} study diverged",
            {"dataset": "DRIVE", "study": args.study, "variants": results},
        )
    curves_figure(results, run_dir / "curves.png")
    if examples:
        predictions_figure(sets["test"], examples, results, args.threshold, run_dir / "predictions.png")
    return {"dataset": "DRIVE", "study": args.study, "variants": results}


def headline(metrics: dict) -> str:
    scored = [f"{name} {v['test']['dice_mean']:.4f}" for name, v in metrics["variants"].items() if v.get("test")]
    skipped = [f"; {name} SKIPPED (see above)" for name, v in metrics["variants"].items() if v["status"] == "skipped"]
    return (
        f"DRIVE {metrics['study']} study, test Dice in FOV: " + (", ".join(scored) or "none scored") + "".join(skipped)
    )
