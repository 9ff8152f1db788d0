"""Medical CNN experiments: the 2-D convolution study, MedMNIST classification and DRIVE vessel segmentation.

    python main.py conv                                   # speed table + filter figure
    python main.py classify --data-dir DIR --dataset pathmnist
    python main.py segment  --data-dir DRIVE --study skip  # or lr, augment, pretrained

Every command writes a run folder ``<results-root>/<name>/`` with ``config.json``
(arguments, dataset, device), ``metrics.json``, figures (png) and, for training,
checkpoints that ``--resume`` continues from. ``report.ipynb`` reads these folders.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import segmentation_models_pytorch as smp  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from scipy.signal import convolve2d, correlate2d  # noqa: E402
from skimage import data as skdata  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from torch import nn  # noqa: E402
from tqdm import tqdm  # noqa: E402

from common.metrics import accuracy, dice  # noqa: E402
from common.runs import load_checkpoint, make_run_dir, pick_device, save_checkpoint, save_json, seed_everything  # noqa: E402
from medical_cnn.augment import AUGMENTATION_HELP, AUGMENTATIONS, augment, sample_patches  # noqa: E402
from medical_cnn.data_io import DataError, find_or_download, load_drive, load_medmnist_npz, preprocess_fundus  # noqa: E402
from medical_cnn.mlp import MLP  # noqa: E402
from medical_cnn.mobileNet import MobileNet  # noqa: E402
from medical_cnn.unet import UNet  # noqa: E402
from medical_cnn.utils import DiceCELoss, discrete_2d_convolution, naive_2d_convolution  # noqa: E402

PROG = "main.py"
STUDIES = ("skip", "lr", "augment", "pretrained")


# =========================================================================== conv
def best_time(fn, *args, repeats: int) -> float:
    """Fastest of ``repeats`` calls, in seconds (the minimum is the least noisy estimate on a shared machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def filter_kernels() -> dict[str, np.ndarray]:
    """A 7x7 Gaussian blur and Sobel kernels answering to horizontal and vertical edges."""
    g = np.exp(-0.5 * (np.arange(-3, 4) / 1.5) ** 2)
    sobel_horizontal = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=float)  # d/dy: horizontal edges
    return {"blur (Gaussian 7x7)": np.outer(g, g) / np.outer(g, g).sum(), "horizontal edges (Sobel)": sobel_horizontal, "vertical edges (Sobel)": sobel_horizontal.T}


def run_conv(args: argparse.Namespace, run_dir: Path) -> dict:
    rng = np.random.default_rng(args.seed)
    rows, max_error = [], 0.0
    cases = [(s, k) for s in args.sizes for k in args.kernels]
    for size, k in tqdm(cases, desc="conv timings"):
        image, kernel = rng.random((size, size)), rng.standard_normal((k, k))
        ours = discrete_2d_convolution(image, kernel)
        max_error = max(max_error, float(np.abs(ours - correlate2d(image, kernel, mode="same")).max()))
        row = {
            "size": size,
            "kernel": k,
            "ours_s": best_time(discrete_2d_convolution, image, kernel, repeats=args.repeats),
            "scipy_correlate2d_s": best_time(correlate2d, image, kernel, "same", repeats=args.repeats),
            # convolve2d flips the kernel, so flip it first to get the same output
            "scipy_convolve2d_s": best_time(convolve2d, image, kernel[::-1, ::-1], "same", repeats=args.repeats),
            "naive_s": best_time(naive_2d_convolution, image, kernel, repeats=1) if size <= args.naive_max_size else None,
        }
        row["ratio_to_correlate2d"] = row["ours_s"] / row["scipy_correlate2d_s"]
        rows.append(row)

    at_512 = [r for r in rows if r["size"] == 512]
    metrics = {
        "timings": rows,
        "max_abs_error_vs_correlate2d": max_error,
        "worst_ratio_at_512": max((r["ratio_to_correlate2d"] for r in at_512), default=None),
        "within_3x_at_512": all(r["ratio_to_correlate2d"] <= 3 for r in at_512) if at_512 else None,
    }

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for size in args.sizes:
        sub = [r for r in rows if r["size"] == size]
        line = ax.plot([r["kernel"] for r in sub], [r["ours_s"] for r in sub], "o-", label=f"ours {size}x{size}")[0]
        ax.plot([r["kernel"] for r in sub], [r["scipy_correlate2d_s"] for r in sub], "x--", color=line.get_color(), label=f"scipy {size}x{size}")
    ax.set(xlabel="kernel size k (k x k)", ylabel="seconds (best of repeats)", yscale="log", title="discrete_2d_convolution vs scipy.signal.correlate2d")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(run_dir / "timings.png", dpi=120)
    plt.close(fig)

    image = skdata.brick().astype(float) / 255.0
    kernels = filter_kernels()
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4))
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("skimage.data.brick()")
    for ax, (name, kernel) in zip(axes[1:], kernels.items()):
        out = discrete_2d_convolution(image, kernel)
        shown = out if "blur" in name else np.abs(out)
        ax.imshow(shown, cmap="gray", vmax=np.percentile(shown, 99.5))  # a few strong edges would dim the rest
        ax.set_title(name if "blur" in name else f"|{name}|")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(run_dir / "filters.png", dpi=100)
    plt.close(fig)
    return metrics


# =========================================================================== training helpers
def resume_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device) -> dict:
    """Load model and optimiser state from ``path`` for ``--resume``; the whole checkpoint is returned."""
    try:
        ckpt = load_checkpoint(path, device)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
    except (RuntimeError, KeyError, ValueError, EOFError) as e:
        raise DataError(f"cannot resume from {path}: it does not match this model and flags ({str(e).splitlines()[0]}); delete it or run without --resume") from None
    return ckpt


# =========================================================================== classify
def iterate_batches(n: int, batch_size: int, generator: torch.Generator | None = None):
    """Index batches over ``range(n)``, shuffled when a generator is given."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


@torch.no_grad()
def evaluate_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int, device: torch.device) -> dict:
    """Cross-entropy, accuracy and class probabilities ``(N, K)`` of ``model`` on ``x (N, C, H, W)``."""
    model.eval()
    logits = torch.cat([model(x[idx].to(device)).cpu() for idx in iterate_batches(len(x), batch_size)])
    return {"loss": float(F.cross_entropy(logits, y)), "acc": accuracy(logits, y), "probs": torch.softmax(logits, 1)}


def auc_score(labels: torch.Tensor, probs: torch.Tensor) -> float | None:
    """ROC AUC (one-vs-rest macro average for more than two classes); None when a split lacks a class."""
    try:
        if probs.shape[1] == 2:
            return float(roc_auc_score(labels.numpy(), probs[:, 1].numpy()))
        return float(roc_auc_score(labels.numpy(), probs.numpy(), multi_class="ovr", labels=list(range(probs.shape[1]))))
    except ValueError:
        return None


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image of ``(B, C, H, W)`` by up to ``max_shift`` pixels (borders reflected)."""
    if max_shift == 0:
        return x
    height, width = x.shape[-2:]
    padded = F.pad(x, (max_shift,) * 4, mode="reflect")
    offsets = torch.randint(2 * max_shift + 1, (len(x), 2), generator=generator).tolist()
    return torch.stack([p[:, dy : dy + height, dx : dx + width] for p, (dy, dx) in zip(padded, offsets)])


def class_weights(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Inverse class frequency ``N / (K * n_c)``, so every class weighs the same in the loss (a missing class gets 0)."""
    counts = torch.bincount(labels, minlength=n_classes).float()
    return torch.where(counts > 0, len(labels) / (n_classes * counts.clamp_min(1)), torch.zeros_like(counts))


def train_classifier(name: str, model: nn.Module, x: dict, y: dict, weight: torch.Tensor | None, args: argparse.Namespace, device: torch.device, ckpt_path: Path) -> dict:
    """Adam + (optionally class-weighted) cross-entropy for ``args.epochs`` on randomly shifted images;
    keeps the epoch with the best validation accuracy for the test."""
    model.to(device)
    weight = weight.to(device) if weight is not None else None
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    history = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc")}
    start_epoch, best = 0, {"val_acc": -1.0, "epoch": -1, "state": None}
    if args.resume and ckpt_path.is_file():
        ckpt = resume_checkpoint(ckpt_path, model, optimizer, device)
        start_epoch, history, best = ckpt["epoch"], ckpt["history"], ckpt["best"]
        print(f"{name}: resumed after epoch {start_epoch}")
    start = time.time()
    for epoch in tqdm(range(start_epoch, args.epochs), desc=f"train {name}", initial=start_epoch, total=args.epochs):
        model.train()
        generator = torch.Generator().manual_seed(args.seed * 1000 + epoch)  # same order whether resumed or not
        loss_sum, correct = 0.0, 0
        for idx in iterate_batches(len(x["train"]), args.batch_size, generator):
            inputs, targets = random_shift(x["train"][idx], args.shift, generator).to(device), y["train"][idx].to(device)
            logits = model(inputs)
            loss = F.cross_entropy(logits, targets, weight=weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == targets).sum())
        val = evaluate_classifier(model, x["val"], y["val"], args.batch_size, device)
        for key, value in (("train_loss", loss_sum / len(x["train"])), ("train_acc", correct / len(x["train"])), ("val_loss", val["loss"]), ("val_acc", val["acc"])):
            history[key].append(value)
        if val["acc"] > best["val_acc"]:
            best = {"val_acc": val["acc"], "epoch": epoch + 1, "state": copy.deepcopy(model.state_dict())}
        save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1, "history": history, "best": best})
    model.load_state_dict(best["state"])
    test = evaluate_classifier(model, x["test"], y["test"], args.batch_size, device)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "best_epoch": best["epoch"],
        "best_val_acc": best["val_acc"],
        "test_loss": test["loss"],
        "test_acc": test["acc"],
        "test_auc": auc_score(y["test"], test["probs"]),
        "train_seconds_this_session": time.time() - start,
        "history": history,
    }


def run_classify(args: argparse.Namespace, run_dir: Path, device: torch.device, config: dict) -> dict:
    data = load_medmnist_npz(find_or_download(args.data_dir, args.dataset, args.download))
    x, y = data.images, data.labels
    if args.quick:
        x, y = {s: v[:128] for s, v in x.items()}, {s: v[:128] for s, v in y.items()}
    # Normalise every split with the training set's per-channel statistics.
    mean, std = x["train"].mean((0, 2, 3), keepdim=True), x["train"].std((0, 2, 3), keepdim=True) + 1e-6
    x = {s: (v - mean) / std for s, v in x.items()}
    config["dataset"] = {"name": data.name, "file": str(Path(args.data_dir) / f"{args.dataset}.npz"), "channels": data.n_channels, "classes": data.n_classes, "samples": {s: len(v) for s, v in y.items()}}
    save_json(run_dir / "config.json", config)
    print(f"dataset {data.name}: {data.n_channels} channel(s), {data.n_classes} classes, " + ", ".join(f"{s} {len(v)}" for s, v in y.items()))

    weight = class_weights(y["train"], data.n_classes) if args.balanced else None
    builders = {
        "mlp": lambda: MLP(data.n_channels * x["train"].shape[2] * x["train"].shape[3], args.hidden_sizes, data.n_classes, args.activation),
        "mobilenet": lambda: MobileNet(data.n_classes, in_channels=data.n_channels),
    }
    if args.resize:  # Table 1 halves the size five times: 28x28 inputs reach 1x1 after the fourth stride-2 stage
        builders["mobilenet"] = lambda: nn.Sequential(nn.Upsample(size=args.resize, mode="bilinear", align_corners=False), MobileNet(data.n_classes, in_channels=data.n_channels))
    results = {}
    for name, build in builders.items():
        seed_everything(args.seed)
        results[name] = train_classifier(name, build(), x, y, weight, args, device, run_dir / f"{name}.pt")
        print(f"{name}: test accuracy {results[name]['test_acc']:.4f}, AUC {results[name]['test_auc']} ({data.name})")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, res in results.items():
        epochs = range(1, len(res["history"]["train_loss"]) + 1)
        for ax, key in zip(axes, ("loss", "acc")):
            line = ax.plot(epochs, res["history"][f"train_{key}"], "-", label=f"{name} train")[0]
            ax.plot(epochs, res["history"][f"val_{key}"], "--", color=line.get_color(), label=f"{name} val")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title=f"{data.name}: loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title=f"{data.name}: accuracy")
    for ax in axes:
        ax.legend()
    fig.tight_layout()
    fig.savefig(run_dir / "curves.png", dpi=120)
    plt.close(fig)
    return {"dataset": data.name, **results}


# =========================================================================== segment
def build_segmenter(kind: str, args: argparse.Namespace) -> nn.Module:
    """``unet``/``unet-noskip``: this folder's U-Net; ``smp``: smp's U-Net with a ResNet-18 encoder (random init)."""
    if kind == "smp":
        return smp.Unet(encoder_name="resnet18", encoder_weights=None, in_channels=1, classes=1)
    return UNet(1, 1, base_channels=args.base_channels, skip_connections=kind == "unet")


def load_encoder_weights(model: nn.Module, path: Path) -> None:
    """Load a torchvision/timm ResNet-18 state dict (e.g. ImageNet weights) into an smp encoder with one input channel.

    The classifier (``fc.*``) is dropped; a 3-channel first convolution is summed over
    its input channels, which is what smp does for grey-scale input.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as e:
        raise DataError(f"cannot read encoder weights {path} ({e})") from None
    state = state.get("state_dict", state)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    if "conv1.weight" in state and state["conv1.weight"].shape[1] == 3:
        state["conv1.weight"] = state["conv1.weight"].sum(1, keepdim=True)
    try:
        model.encoder.load_state_dict(state)
    except RuntimeError as e:
        raise DataError(f"{path} is not a ResNet-18 state dict: {str(e).splitlines()[0]}") from None


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad ``(B, C, H, W)`` at the bottom and right so H and W are multiples of ``multiple``."""
    return F.pad(x, (0, -x.shape[-1] % multiple, 0, -x.shape[-2] % multiple))


@torch.no_grad()
def predict_full(model: nn.Module, images: torch.Tensor, multiple: int, device: torch.device) -> torch.Tensor:
    """Vessel probabilities for whole images ``(N, 1, H, W)`` -> ``(N, H, W)``, one image at a time."""
    model.eval()
    height, width = images.shape[-2:]
    probs = [torch.sigmoid(model(pad_to_multiple(img[None], multiple).to(device)))[0, 0, :height, :width].cpu() for img in images]
    return torch.stack(probs)


def score_segmentation(probs: torch.Tensor, vessels: torch.Tensor, fov: torch.Tensor, threshold: float, with_auc: bool) -> dict:
    """Dice (F1) inside the field of view: per image (mean, std) and over all FOV pixels pooled; optional ROC AUC."""
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


def train_segmenter(name: str, model: nn.Module, sets: dict, lr: float, augmentation: str, args: argparse.Namespace, device: torch.device, ckpt_path: Path) -> dict:
    """Adam + DiceCE loss on random augmented patches; validation Dice on whole held-out training images picks the weights.

    A non-finite loss stops the run and marks it ``diverged``; the caller goes on with the next run.
    """
    multiple = 32 if isinstance(model, smp.Unet) else 16
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = DiceCELoss()
    generator = torch.Generator().manual_seed(args.seed)
    state = {"iteration": 0, "status": "ok", "history": {"iteration": [], "train_loss": [], "val_dice": []}, "best": {"val_dice": -1.0, "iteration": 0, "state": None}}
    if args.resume and ckpt_path.is_file():
        ckpt = resume_checkpoint(ckpt_path, model, optimizer, device)
        generator.set_state(ckpt["generator"])
        state = ckpt["state"]
        print(f"{name}: resumed at iteration {state['iteration']}")

    def save() -> None:
        save_checkpoint(ckpt_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "generator": generator.get_state(), "state": state})

    fit_x, fit_y = sets["fit"]["x"], sets["fit"]["y"]
    start, running = time.time(), []
    first = state["iteration"] if state["status"] == "ok" else args.iters  # a resumed diverged run stays diverged
    progress = tqdm(range(first, args.iters), desc=f"train {name}", initial=first, total=args.iters)
    for it in progress:
        model.train()
        x, y = augment(*sample_patches(fit_x, fit_y, args.patch_size, args.batch_size, generator), augmentation, generator)
        loss = loss_fn(model(x.to(device)), y.to(device))
        if not torch.isfinite(loss):
            state["status"] = "diverged"
            state["diverged_at"] = it
            print(f"{name}: loss is {loss.item()} at iteration {it}; recorded as diverged")
            save()
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running.append(loss.item())
        if (it + 1) % args.eval_every == 0 or it + 1 == args.iters:
            val = sets["val"]
            val_dice = score_segmentation(predict_full(model, val["x"], multiple, device), val["y"], val["fov"], args.threshold, with_auc=False)["dice_mean"]
            state["history"]["iteration"].append(it + 1)
            state["history"]["train_loss"].append(float(np.mean(running)))
            state["history"]["val_dice"].append(val_dice)
            running = []
            if val_dice > state["best"]["val_dice"]:
                state["best"] = {"val_dice": val_dice, "iteration": it + 1, "state": copy.deepcopy(model.state_dict())}
            state["iteration"] = it + 1
            progress.set_postfix(loss=state["history"]["train_loss"][-1], val_dice=round(val_dice, 4))
            save()
    result = {
        "status": state["status"],
        "lr": lr,
        "augmentation": augmentation,
        "parameters": sum(p.numel() for p in model.parameters()),
        "iterations_done": state["iteration"],
        "best_iteration": state["best"]["iteration"],
        "best_val_dice": state["best"]["val_dice"],
        "train_seconds_this_session": time.time() - start,
        "history": state["history"],
        "diverged_at": state.get("diverged_at"),
        "test": None,
    }
    if state["best"]["state"] is not None:
        model.load_state_dict(state["best"]["state"])
        test = sets["test"]
        probs = predict_full(model, test["x"], multiple, device)
        result["test"] = score_segmentation(probs, test["y"], test["fov"], args.threshold, with_auc=True)
        result["example"] = probs[0]
    return result


def study_variants(args: argparse.Namespace) -> list[dict]:
    """The runs one study compares: name, model kind, learning rate, augmentation."""
    base = {"kind": "unet", "lr": args.lr, "augmentation": args.augmentation}
    if args.study == "skip":
        return [{**base, "name": "unet-skip"}, {**base, "name": "unet-noskip", "kind": "unet-noskip"}]
    if args.study == "lr":
        return [{**base, "name": f"lr-{lr:g}", "lr": lr} for lr in args.lrs]
    if args.study == "augment":
        return [{**base, "name": f"aug-{aug}", "augmentation": aug} for aug in AUGMENTATIONS]
    return [{**base, "name": "smp-scratch", "kind": "smp"}, {**base, "name": "smp-pretrained", "kind": "smp", "weights": args.encoder_weights}]


def load_drive_sets(args: argparse.Namespace) -> tuple[dict, dict]:
    """Pre-processed tensors for the fit / validation (held-out training images) / test sets, and their description."""
    train, test = load_drive(args.data_dir, "training"), load_drive(args.data_dir, "test")
    if len(train.names) < 2:
        raise DataError(f"DRIVE training set in {args.data_dir} has {len(train.names)} image(s); at least 2 are needed (fit + validation)")
    n_val = min(max(1, args.val_images), len(train.names) - 1)
    order = np.random.default_rng(args.seed).permutation(len(train.names))
    parts = {"fit": (train, order[n_val:]), "val": (train, order[:n_val]), "test": (test, np.arange(len(test.names))[: 2 if args.quick else None])}
    sets, described = {}, {}
    for part, (split, idx) in parts.items():
        idx = np.sort(idx)
        sets[part] = {
            "x": torch.from_numpy(preprocess_fundus(split.images[idx], split.fov[idx])),
            "y": torch.from_numpy(split.vessels[idx]),
            "fov": torch.from_numpy(split.fov[idx]),
            "rgb": split.images[idx],
        }
        described[part] = [split.names[i] for i in idx]
    sets["fit"]["y"] = sets["fit"]["y"][:, None].float()  # (N, 1, H, W) targets for patch sampling
    return sets, {"name": "DRIVE", "root": str(args.data_dir), "images": described}


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
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_segment(args: argparse.Namespace, run_dir: Path, device: torch.device, config: dict) -> dict:
    sets, described = load_drive_sets(args)
    config["dataset"] = described
    save_json(run_dir / "config.json", config)
    if args.study == "augment":
        augmentation_figure(sets, args, run_dir / "augmentations.png")
    results, examples = {}, {}
    for variant in study_variants(args):
        name = variant["name"]
        if "weights" in variant and variant["weights"] is None:
            results[name] = {"status": "skipped", "reason": "no --encoder-weights file: ImageNet ResNet-18 weights cannot be downloaded here, so the pretrained run was skipped"}
            print(f"{name}: SKIPPED ({results[name]['reason']})")
            continue
        seed_everything(args.seed)
        model = build_segmenter(variant["kind"], args)
        if variant.get("weights") is not None:
            load_encoder_weights(model, Path(variant["weights"]))
        result = train_segmenter(name, model, sets, variant["lr"], variant["augmentation"], args, device, run_dir / f"{name}.pt")
        if "example" in result:
            examples[name] = result.pop("example")
        results[name] = {"model": variant["kind"], **result}
        test = result["test"]
        summary = f"test Dice in FOV {test['dice_mean']:.4f} (pooled {test['dice_pooled']:.4f}, AUC {test['auc']:.4f})" if test else "no test score"
        print(f"{name}: {result['status']}, {summary} [DRIVE]")

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
    fig.savefig(run_dir / "curves.png", dpi=120)
    plt.close(fig)

    if examples:
        test = sets["test"]
        fig, axes = plt.subplots(1, 2 + len(examples), figsize=(3.6 * (2 + len(examples)), 4.3))
        axes[0].imshow(test["rgb"][0])
        axes[0].set_title(f"DRIVE test {described['images']['test'][0]}")
        axes[1].imshow(test["y"][0], cmap="gray")
        axes[1].set_title("1st manual")
        for ax, (name, probs) in zip(axes[2:], examples.items()):
            ax.imshow((probs > args.threshold) & test["fov"][0], cmap="gray")
            ax.set_title(f"{name}: Dice {results[name]['test']['dice_per_image'][0]:.3f}")
        for ax in axes:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(run_dir / "predictions.png", dpi=100)
        plt.close(fig)
    return {"dataset": "DRIVE", "study": args.study, "variants": results}


# =========================================================================== CLI
QUICK = {
    "conv": {"sizes": [32, 64], "kernels": [3, 5], "repeats": 1, "naive_max_size": 32},
    "classify": {"epochs": 1, "hidden_sizes": [32], "batch_size": 64},
    "segment": {"iters": 4, "eval_every": 2, "patch_size": 32, "batch_size": 2, "base_channels": 4, "lrs": [1e-1, 1e-3]},
}


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    common = argparse.ArgumentParser(add_help=False, formatter_class=fmt)
    common.add_argument("--seed", type=int, default=0, help="seed for initialisation, shuffling, patches and splits")
    common.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, or auto (CUDA when available)")
    common.add_argument("--results-root", type=Path, default=Path("runs"), help="run folders go here")
    common.add_argument("--name", default=None, help="run folder name (default: derived from the command)")
    common.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoints")
    common.add_argument("--quick", action="store_true", help="smoke mode for tests: tiny sizes that override the size flags")

    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0], formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)

    conv = sub.add_parser("conv", parents=[common], formatter_class=fmt, help="2-D convolution: speed table against scipy and a filter figure")
    conv.add_argument("--sizes", type=positive_int, nargs="+", default=[128, 256, 512, 1024], help="square image sizes")
    conv.add_argument("--kernels", type=positive_int, nargs="+", default=[3, 5, 7, 9, 11, 13, 15], help="square kernel sizes")
    conv.add_argument("--repeats", type=positive_int, default=5, help="timing repeats (the best is kept)")
    conv.add_argument("--naive-max-size", type=int, default=128, help="time the pure-Python loop only up to this size")

    cls = sub.add_parser("classify", parents=[common], formatter_class=fmt, help="MedMNIST: hand-written MLP against MobileNet")
    cls.add_argument("--data-dir", type=Path, default=Path("data_cache/medmnist"), help="folder with <dataset>.npz")
    cls.add_argument("--dataset", default="pathmnist", help="MedMNIST file name without .npz (pathmnist, pneumoniamnist, ...)")
    cls.add_argument("--download", action=argparse.BooleanOptionalAction, default=True, help="fetch a missing file from Zenodo (needs internet)")
    cls.add_argument("--epochs", type=positive_int, default=10, help="training epochs for each model")
    cls.add_argument("--batch-size", type=positive_int, default=128, help="mini-batch size")
    cls.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (same for both models)")
    cls.add_argument("--weight-decay", type=float, default=0.0, help="Adam L2 penalty (same for both models)")
    cls.add_argument("--hidden-sizes", type=positive_int, nargs="+", default=[512, 256], help="MLP hidden layer widths")
    cls.add_argument("--activation", choices=["relu", "tanh", "sigmoid"], default="relu", help="MLP activation")
    cls.add_argument("--shift", type=int, choices=range(0, 8), default=2, metavar="{0..7}", help="random translation of training images by up to this many pixels (both models; 0: none)")
    cls.add_argument("--resize", type=int, default=0, help="resize MobileNet's input to this square size (bilinear; the paper uses 224); 0 keeps the file's 28x28")
    cls.add_argument("--balanced", action=argparse.BooleanOptionalAction, default=True, help="weight the training cross-entropy by inverse class frequency (both models)")

    seg = sub.add_parser("segment", parents=[common], formatter_class=fmt, help="DRIVE vessel segmentation studies")
    seg.add_argument("--data-dir", type=Path, default=Path("data_cache/DRIVE"), help="DRIVE root with training/ and test/")
    seg.add_argument("--study", choices=STUDIES, default="skip", help="skip: U-Net with/without skips; lr: Adam learning-rate sweep; augment: four augmentations; pretrained: smp ResNet-18 U-Net, ImageNet encoder vs scratch")
    seg.add_argument("--iters", type=positive_int, default=2000, help="training iterations (patch batches) per run")
    seg.add_argument("--batch-size", type=positive_int, default=8, help="patches per iteration")
    seg.add_argument("--patch-size", type=positive_int, default=64, help="training patch side (pixels)")
    seg.add_argument("--base-channels", type=positive_int, default=8, help="U-Net width of the first block (the paper: 64)")
    seg.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (all studies but lr)")
    seg.add_argument("--lrs", type=positive_float, nargs="+", default=[1e-1, 1e-2, 1e-3, 1e-4, 1e-5], help="learning rates of the lr study")
    seg.add_argument("--augmentation", choices=AUGMENTATIONS, default="flip", help="augmentation (all studies but augment)")
    seg.add_argument("--eval-every", type=positive_int, default=250, help="validation and checkpoint interval (iterations)")
    seg.add_argument("--val-images", type=positive_int, default=4, help="training images held out for validation")
    seg.add_argument("--threshold", type=float, default=0.5, help="probability threshold for the vessel mask")
    seg.add_argument("--encoder-weights", type=Path, default=None, help="ResNet-18 ImageNet state dict (torchvision or timm) for the pretrained study")
    return parser


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK[args.command].items():
            setattr(args, key, value)
    if args.command == "segment" and args.encoder_weights is not None and not args.encoder_weights.is_file():
        parser.error(f"--encoder-weights {args.encoder_weights} does not exist")
    if args.command == "segment" and not 0 < args.threshold < 1:
        parser.error(f"--threshold must lie in (0, 1), got {args.threshold}")
    if args.command == "classify" and args.resize < 0:
        parser.error(f"--resize must be 0 (off) or a positive size, got {args.resize}")
    if args.command == "segment" and args.patch_size % (32 if args.study == "pretrained" else 16):
        parser.error(f"--patch-size must be a multiple of {32 if args.study == 'pretrained' else 16} (the network downsamples that much), got {args.patch_size}")
    try:
        device = pick_device(args.device)
    except (ValueError, RuntimeError) as e:
        parser.error(str(e))
    default_names = {"conv": lambda: "conv", "classify": lambda: f"classify-{args.dataset}", "segment": lambda: f"segment-{args.study}"}
    name = args.name or default_names[args.command]()
    run_dir = make_run_dir(args.results_root, name)
    config = {"command": args.command, "args": vars(args), "device": device, "torch": torch.__version__, "cpu_threads": torch.get_num_threads()}
    if args.command == "conv":
        config["dataset"] = {"name": "synthetic uniform-random images for timings; skimage.data.brick() for the filter figure"}
    save_json(run_dir / "config.json", config)
    seed_everything(args.seed)
    start = time.time()
    try:
        if args.command == "conv":
            metrics = run_conv(args, run_dir)
        elif args.command == "classify":
            metrics = run_classify(args, run_dir, device, config)
        else:
            metrics = run_segment(args, run_dir, device, config)
    except DataError as e:
        sys.exit(f"{PROG} {args.command}: error: {e}")
    metrics["wall_seconds"] = time.time() - start
    save_json(run_dir / "metrics.json", metrics)
    print(f"wrote {run_dir}")
    return metrics


if __name__ == "__main__":
    main()
