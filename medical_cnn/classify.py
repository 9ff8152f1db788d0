"""Experiment ``classify``: the hand-written MLP against MobileNet on a MedMNIST ``.npz`` file.

    python main.py classify --data-dir DIR --dataset pneumoniamnist     # DIR/pneumoniamnist.npz

Both models get the same training (:func:`train_classifier`): Adam, random shifts of up to
``--shift`` pixels, cross-entropy weighted by inverse class frequency (``--balanced``).
The epoch with the best validation accuracy is scored on the test split (accuracy, ROC AUC).
Writes ``metrics.json`` (``mlp`` and ``mobilenet``: ``test_acc``, ``test_auc``, ``history`` ...),
``curves.png`` and one checkpoint per model (``mlp.pt``, ``mobilenet.pt``) that ``--resume`` continues.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm import tqdm

from common.checkpoint import load_progress, save_progress
from common.guard import DivergenceGuard
from common.metrics import accuracy
from common.runs import append_log, save_figure, seed_everything
from medical_cnn.data_io import find_or_download, load_medmnist_npz
from medical_cnn.mlp import MLP
from medical_cnn.mobileNet import MobileNet

# Arguments a --resume must repeat: they define the models, the data split or the training schedule's meaning.
FIXED_ON_RESUME = (
    "seed",
    "dataset",
    "hidden_sizes",
    "activation",
    "resize",
    "batch_size",
    "lr",
    "weight_decay",
    "shift",
    "balanced",
)
MODELS = ("mlp", "mobilenet")


# --------------------------------------------------------------------------- helpers
def iterate_batches(n: int, batch_size: int, generator: torch.Generator | None = None):
    """Index batches over ``range(n)``, shuffled when a generator is given."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


@torch.no_grad()
def evaluate_classifier(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device
) -> dict:
    """Cross-entropy, accuracy and class probabilities ``(N, K)`` of ``model`` on ``x (N, C, H, W)``."""
    model.eval()
    logits = torch.cat([model(x[idx].to(device)).cpu() for idx in iterate_batches(len(x), batch_size)])
    return {"loss": float(F.cross_entropy(logits, y)), "acc": accuracy(logits, y), "probs": torch.softmax(logits, 1)}


def auc_score(labels: torch.Tensor, probs: torch.Tensor) -> float | None:
    """ROC AUC (one-vs-rest macro average for more than two classes); None when a split lacks a class."""
    try:
        with warnings.catch_warnings():  # sklearn warns and returns nan for a missing class
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            if probs.shape[1] == 2:
                value = float(roc_auc_score(labels.numpy(), probs[:, 1].numpy()))
            else:
                value = float(
                    roc_auc_score(labels.numpy(), probs.numpy(), multi_class="ovr", labels=list(range(probs.shape[1])))
                )
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image of ``(B, C, H, W)`` by up to ``max_shift`` pixels (borders reflected)."""
    if max_shift == 0:
        return x
    height, width = x.shape[-2:]
    padded = F.pad(x, (max_shift,) * 4, mode="reflect")
    offsets = torch.randint(2 * max_shift + 1, (len(x), 2), generator=generator).tolist()
    return torch.stack([p[:, dy : dy + height, dx : dx + width] for p, (dy, dx) in zip(padded, offsets)])


def class_weights(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Inverse class frequency ``N / (K * n_c)``, so every class weighs the same in the loss
    (a missing class gets 0)."""
    counts = torch.bincount(labels, minlength=n_classes).float()
    return torch.where(counts > 0, len(labels) / (n_classes * counts.clamp_min(1)), torch.zeros_like(counts))


# --------------------------------------------------------------------------- setup
def load_data(args: argparse.Namespace) -> tuple[dict, dict]:
    """The MedMNIST file as normalised tensors (every split with the training set's per-channel statistics),
    and the description recorded in ``config.json``."""
    data = load_medmnist_npz(find_or_download(args.data_dir, args.dataset, args.download))
    x, y = data.images, data.labels
    if args.quick:
        x, y = {s: v[:128] for s, v in x.items()}, {s: v[:128] for s, v in y.items()}
    mean, std = x["train"].mean((0, 2, 3), keepdim=True), x["train"].std((0, 2, 3), keepdim=True) + 1e-6
    x = {s: (v - mean) / std for s, v in x.items()}
    described = {
        "name": data.name,
        "file": str(Path(args.data_dir) / f"{args.dataset}.npz"),
        "channels": data.n_channels,
        "classes": data.n_classes,
        "image_size": list(x["train"].shape[-2:]),
        "samples": {s: len(v) for s, v in y.items()},
    }
    print(
        f"dataset {data.name}: {data.n_channels} channel(s), {data.n_classes} classes, "
        + ", ".join(f"{s} {len(v)}" for s, v in y.items())
    )
    return {"name": data.name, "x": x, "y": y, "channels": data.n_channels, "classes": data.n_classes}, described


def build_model(name: str, data: dict, args: argparse.Namespace) -> nn.Module:
    """``mlp``: the hand-written MLP on the flattened image; ``mobilenet``: MobileNet v1, optionally on upsampled input.

    Table 1 halves the size five times: a 28x28 input is 2x2 after the fourth stride-2 stage and
    1x1 after the fifth; ``--resize`` feeds MobileNet larger (bilinearly upsampled) images instead.
    """
    if name == "mlp":
        height, width = data["x"]["train"].shape[-2:]
        return MLP(data["channels"] * height * width, args.hidden_sizes, data["classes"], args.activation)
    model = MobileNet(data["classes"], in_channels=data["channels"])
    if args.resize:
        return nn.Sequential(nn.Upsample(size=args.resize, mode="bilinear", align_corners=False), model)
    return model


# --------------------------------------------------------------------------- training
@dataclass
class Fit:
    """What every epoch of one model's training uses: its optimizer, the class weights of the loss (None: plain
    cross-entropy), the device, and the guard that stops a diverged run (:class:`common.cli.Diverged`)."""

    optimizer: torch.optim.Optimizer
    weight: torch.Tensor | None
    device: torch.device
    guard: DivergenceGuard


def train_one_epoch(
    model: nn.Module, fit: Fit, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator, args: argparse.Namespace
) -> tuple[float, float]:
    """One pass over the shuffled, randomly shifted training images; returns (mean loss, accuracy)."""
    model.train()
    loss_sum, correct = 0.0, 0
    for idx in iterate_batches(len(x), args.batch_size, generator):
        inputs, targets = random_shift(x[idx], args.shift, generator).to(fit.device), y[idx].to(fit.device)
        logits = model(inputs)
        loss = F.cross_entropy(logits, targets, weight=fit.weight)
        fit.optimizer.zero_grad()
        loss.backward()
        fit.optimizer.step()
        loss_sum += fit.guard.check(loss) * len(idx)
        correct += int((logits.argmax(1) == targets).sum())
    return loss_sum / len(x), correct / len(x)


def train_classifier(
    name: str,
    model: nn.Module,
    data: dict,
    weight: torch.Tensor | None,
    args: argparse.Namespace,
    device: torch.device,
    ckpt_path: Path,
) -> dict:
    """Adam + (optionally class-weighted) cross-entropy for ``args.epochs`` on ``data["x"]``/``data["y"]``'s splits;
    a checkpoint after every epoch; the epoch with the best validation accuracy is scored on the test split."""
    x, y = data["x"], data["y"]
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    fit = Fit(optimizer, weight.to(device) if weight is not None else None, device, DivergenceGuard(name))
    progress = load_progress(ckpt_path, model, optimizer, resume=args.resume, device=device)
    history = progress.extra.setdefault("history", {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc")})
    start_epoch, start = progress.step, time.time()
    for epoch in tqdm(
        range(start_epoch, args.epochs), desc=f"train {name}", initial=start_epoch, total=args.epochs, disable=None
    ):
        generator = torch.Generator().manual_seed(args.seed * 1000 + epoch)  # same order whether resumed or not
        train_loss, train_acc = train_one_epoch(model, fit, x["train"], y["train"], generator, args)
        val = evaluate_classifier(model, x["val"], y["val"], args.batch_size, device)
        fit.guard.check(val["loss"], epoch=epoch + 1, split="val")  # a run of one step per epoch diverges here too
        for key, value in (
            ("train_loss", train_loss),
            ("train_acc", train_acc),
            ("val_loss", val["loss"]),
            ("val_acc", val["acc"]),
        ):
            history[key].append(value)
        append_log(ckpt_path.parent, {"epoch": epoch + 1, **{k: v[-1] for k, v in history.items()}}, f"log_{name}.csv")
        if progress.improves(val["acc"]):
            progress.keep_best(model, val["acc"], epoch + 1)
        progress.step = epoch + 1
        save_progress(ckpt_path, progress, model, optimizer)
    model.load_state_dict(progress.best_model)
    test = evaluate_classifier(model, x["test"], y["test"], args.batch_size, device)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "best_epoch": progress.best_step,
        "best_val_acc": progress.best_score,
        "test_loss": test["loss"],
        "test_acc": test["acc"],
        "test_auc": auc_score(y["test"], test["probs"]),
        "train_seconds_this_session": time.time() - start,
        "history": history,
    }


# --------------------------------------------------------------------------- outputs
def curves_figure(results: dict, dataset: str, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, res in results.items():
        epochs = range(1, len(res["history"]["train_loss"]) + 1)
        for ax, key in zip(axes, ("loss", "acc")):
            line = ax.plot(epochs, res["history"][f"train_{key}"], "-", label=f"{name} train")[0]
            ax.plot(epochs, res["history"][f"val_{key}"], "--", color=line.get_color(), label=f"{name} val")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title=f"{dataset}: loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title=f"{dataset}: accuracy")
    for ax in axes:
        ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace, data: dict, run_dir: Path, device: torch.device) -> dict:
    """Train and test both models with the same settings, then draw their curves."""
    weight = class_weights(data["y"]["train"], data["classes"]) if args.balanced else None
    results = {}
    for name in MODELS:
        seed_everything(args.seed)
        results[name] = train_classifier(
            name, build_model(name, data, args), data, weight, args, device, run_dir / f"{name}.pt"
        )
        print(
            f"{name}: test accuracy {results[name]['test_acc']:.4f}, AUC {results[name]['test_auc']} ({data['name']})"
        )
    curves_figure(results, data["name"], run_dir / "curves.png")
    return {"dataset": data["name"], **results}


def headline(metrics: dict) -> str:
    return (
        f"{metrics['dataset']} test accuracy MLP {metrics['mlp']['test_acc']:.4f}, "
        f"MobileNet {metrics['mobilenet']['test_acc']:.4f}"
    )
