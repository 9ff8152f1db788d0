"""A Fashion-MNIST classifier, used only to *score* decoded samples.

A classifier trained on real images turns "do the samples look right" into numbers
(:func:`sample_quality` and :func:`frechet_distance`, on decoded prior draws):

* ``confident_share``: the fraction of samples assigned to some class with probability >= 0.9
  (a blurry or chimeric sample gets a flat prediction and does not count);
* ``class_entropy_bits``: the entropy of the histogram of predicted classes (0 when every sample
  is one class, log2(10) when the ten are equally frequent);
* ``frechet_distance``: the Frechet distance between Gaussians fitted to the classifier's 128
  penultimate-layer features of the samples and of the test images: the FID recipe in *this*
  classifier's feature space, comparable only with runs scored by the same checkpoint, never with
  published FIDs. Its floor (``frechet_floor``) is the distance of real training images to the test
  images, what a generator that reproduced the training set would score.

``python main.py classifier`` trains it (:func:`run`) and stores, beside its weights, the test
images' feature statistics and the floor; ``ad``, ``vad`` and ``vae`` load them with
:func:`load_classifier`, so every run is scored against the same reference.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from common.checkpoint import load_progress, save_extra, save_progress
from common.cli import DataError
from common.guard import DivergenceGuard
from common.metrics import accuracy
from common.runs import append_log, check_run, load_checkpoint, open_run, save_json

NUM_CLASSES = 10
NUM_FEATURES = 128
FLOOR_IMAGES = 10_000  # real training images whose distance to the test set is the floor
VAL_FRACTION = 1 / 12  # 5,000 of the 60,000 training images select the epoch


def conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class FashionClassifier(nn.Module):
    """``(B, 1, 28, 28)`` images in [0, 1] -> ``(B, 10)`` class logits; :meth:`features` gives ``(B, 128)``.

    Architecture and why:

    * ``PixelUnshuffle(2)``: 28x28x1 -> 14x14x4 without losing a pixel. On a CPU,
      convolutions over one full-resolution channel are slow for what they compute;
      starting at 14x14 makes an epoch several times cheaper.
    * two stages of two 3x3 conv-BatchNorm-ReLU layers (32 then 64 channels) with
      2x2 max-pooling (14 -> 7 -> 4): the VGG pattern, and batch normalisation makes
      a few epochs with a large learning rate enough.
    * dropout, ``Linear(1024, 128)``, ReLU: the 128 *features* (what :meth:`features`
      returns and the Frechet distance compares), then dropout and ``Linear(128, 10)``.

    About 0.2 M parameters. ``python main.py classifier`` trains it with light
    augmentation (left-right flips) and keeps the epoch with the best validation accuracy.
    """

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.PixelUnshuffle(2),
            *conv_bn(4, 32),
            *conv_bn(32, 32),
            nn.MaxPool2d(2),
            *conv_bn(32, 64),
            *conv_bn(64, 64),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(64 * 4 * 4, NUM_FEATURES),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(NUM_FEATURES, NUM_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer: images ``(B, 1, 28, 28)`` -> features ``(B, 128)`` (non-negative)."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected images (B, 1, 28, 28), got {tuple(x.shape)}")
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(B, 10)`` of images ``(B, 1, 28, 28)``."""
        return self.head(self.features(x))


# ------------------------------------------------------------------------------ scores
def sample_quality(probs: torch.Tensor, threshold: float = 0.9) -> dict[str, float]:
    """Score a batch of samples from the classifier's class probabilities ``(N, 10)``.

    Returns ``confident_share`` (fraction with max probability >= ``threshold``),
    ``class_entropy_bits`` (entropy of the predicted-class histogram) and
    ``class_histogram`` (fraction predicted as each class).
    """
    if probs.ndim != 2 or probs.shape[1] != NUM_CLASSES:
        raise ValueError(f"expected probabilities (N, {NUM_CLASSES}), got {tuple(probs.shape)}")
    confidence, predicted = probs.max(dim=1)
    histogram = torch.bincount(predicted, minlength=NUM_CLASSES).double() / len(predicted)
    nonzero = histogram[histogram > 0]
    return {
        "confident_share": float((confidence >= threshold).double().mean()),
        "class_entropy_bits": float(-(nonzero * nonzero.log2()).sum()) + 0.0,  # + 0.0: no "-0.00" for one class
        "class_histogram": histogram.tolist(),
    }


def feature_statistics(features: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean ``(F,)`` and covariance ``(F, F)`` (float64, unbiased) of features ``(N, F)``, N >= 2."""
    f = torch.as_tensor(features).detach().to("cpu", torch.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"expected features (N >= 2, F), got {tuple(f.shape)}")
    return {"mean": f.mean(0), "cov": torch.cov(f.T).reshape(f.shape[1], f.shape[1])}


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric positive semi-definite matrix (tiny negative eigenvalues clipped)."""
    w, v = torch.linalg.eigh(m)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Frechet (2-Wasserstein squared) distance between the Gaussians N(a.mean, a.cov) and N(b.mean, b.cov):

        |mu_a - mu_b|^2 + tr(C_a) + tr(C_b) - 2 tr((C_a C_b)^(1/2)).

    ``tr((C_a C_b)^(1/2))`` is computed as the sum of the square roots of the eigenvalues of
    the symmetric matrix ``C_a^(1/2) C_b C_a^(1/2)``, which has the same eigenvalues as
    ``C_a C_b``; this stays real and stable where a general matrix square root (scipy's
    ``sqrtm``) can return complex noise for nearly singular covariances.
    """
    mean_a, cov_a = a["mean"].double(), a["cov"].double()
    mean_b, cov_b = b["mean"].double(), b["cov"].double()
    root_a = _sqrt_psd(cov_a)
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp_min(0).sqrt().sum()
    distance = (mean_a - mean_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * cross
    return max(float(distance), 0.0)  # rounding can leave -1e-12 for identical sets


@torch.no_grad()
def score_images(
    model: nn.Module, images: torch.Tensor, device: torch.device | str, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """Features ``(N, 128)`` and class probabilities ``(N, 10)`` of images ``(N, 1, 28, 28)`` in [0, 1]."""
    model.eval()
    features, probs = [], []
    for i in range(0, len(images), batch_size):
        f = model.features(images[i : i + batch_size].to(device))
        features.append(f.cpu())
        probs.append(F.softmax(model.head(f), 1).cpu())
    return torch.cat(features), torch.cat(probs)


def classify(model: nn.Module, images: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """Class probabilities ``(N, 10)`` of images ``(N, 1, 28, 28)`` in [0, 1]."""
    return score_images(model, images, device)[1]


def load_classifier(path: str | Path, device: torch.device) -> tuple[nn.Module, dict]:
    """The classifier saved at ``path`` and its reference: ``{"test": feature statistics of the test images,
    "test_size": how many, "floor": the train-vs-test Frechet distance}``. A bad file is a :class:`DataError`."""
    with torch.random.fork_rng(devices=[]):  # building it must not move the RNG of the run that loads it
        model = FashionClassifier().to(device)
    try:
        state = load_checkpoint(path, device)
        model.load_state_dict(state["best_model"])
        reference = state["extra"]["reference"]
        reference = {
            "test": {k: v.cpu() for k, v in reference["test"].items()},
            "test_size": int(reference["test_size"]),
            "floor": float(reference["floor"]),
        }
    except OSError:
        raise
    except Exception as err:  # a truncated file, a checkpoint of another model, an unfinished classifier run ...
        first_line = (str(err).strip().splitlines() or [""])[0][:100]
        raise DataError(
            f"{path} is not a finished classifier checkpoint of `python main.py classifier` "
            f"({type(err).__name__}: {first_line})"
        ) from err
    return model, reference


# ------------------------------------------------------------------ training (python main.py classifier)
FIXED_ON_RESUME = ("seed", "subset", "batch_size", "epochs", "lr")  # the learning-rate schedule spans all epochs


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image ``(B, 1, 28, 28)`` flipped left-right with probability 1/2: a garment keeps its class
    mirrored, and the classifier that will judge imperfect decoded images sees more varied ones."""
    flipped = torch.rand(len(x), generator=generator) < 0.5
    return torch.where(flipped[:, None, None, None], x.flip(-1), x)


def train_one_epoch(
    model: nn.Module,
    train_dl,
    labels: torch.Tensor,
    steps: tuple[torch.optim.Optimizer, Any],
    device: torch.device,
    generator: torch.Generator | None = None,
    guard: DivergenceGuard | None = None,
) -> float:
    """One pass of cross-entropy training; ``labels`` are the dataset's labels, looked up by the batch's indices.
    ``steps`` is the optimizer and the scheduler (None: none) that steps after every batch. With a ``generator``
    the images are augmented (:func:`augment`); ``guard`` stops a diverged run (:class:`common.cli.Diverged`).
    Returns the mean training loss."""
    opt, scheduler = steps
    model.train()
    total, count = 0.0, 0
    for indices, x in train_dl:
        if generator is not None:
            x = augment(x, generator)
        loss = F.cross_entropy(model(x.to(device)), labels[indices].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        total, count = total + (guard.check(loss) if guard is not None else loss.item()) * len(x), count + len(x)
    return total / max(count, 1)


def score_classifier(args: argparse.Namespace, model: nn.Module, data, device: torch.device) -> tuple[dict, dict]:
    """The reference every generator is scored against, the test images' features, and the floor: a fixed
    random set of real training images scored exactly like a generator's samples. Returns the reference and the
    classifier's test metrics."""
    test_features, probs = score_images(model, data.test.batch(torch.arange(len(data.test))), device)
    floor_idx = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(args.seed))[:FLOOR_IMAGES]
    floor_features, _ = score_images(model, data.train.batch(floor_idx), device)
    reference = {
        "test": feature_statistics(test_features),
        "test_size": len(data.test),
        "floor": frechet_distance(feature_statistics(floor_features), feature_statistics(test_features)),
    }
    metrics = {
        "test_accuracy": accuracy(probs, data.test.labels),
        "real_test_images": sample_quality(probs),  # the ceiling a generator could reach
        "frechet_floor": reference["floor"],
        "frechet_floor_images": len(floor_idx),
        "train_size": len(data.train),
        "val_size": len(data.val),
        "test_size": len(data.test),
    }
    return reference, metrics


def run(args: argparse.Namespace) -> dict:
    """``python main.py classifier``: train with a held-out validation part (or resume), keep the epoch with
    the best validation accuracy, then score the real test images and store the reference statistics."""
    from auto_decoder.utils import load_run_data, run_device

    device = run_device(args)
    check_run(args, FIXED_ON_RESUME)  # a refused --resume or a finished run in the way ends here, before the data
    data, dataset = load_run_data(args, device, val_size=VAL_FRACTION)
    model = FashionClassifier().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    # one cycle over all steps (warm-up, then a cosine decay): the large steps train fast, the small late ones settle
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * len(data.train_dl), pct_start=0.15
    )
    generator = torch.Generator().manual_seed(args.seed)
    generators = {"augment": generator, "loader": data.train_dl.generator}
    with open_run(args, FIXED_ON_RESUME, command=args.command, dataset=dataset, device=str(device)) as run_dir:
        ckpt_path = run_dir / "checkpoint.pt"
        progress = load_progress(ckpt_path, model, opt, scheduler, generators, resume=args.resume, device=device)
        state = progress.extra
        state.setdefault("history", [])
        val_images = data.val.batch(torch.arange(len(data.val)))
        t0, seconds_before, guard = time.time(), state.setdefault("train_seconds", 0.0), DivergenceGuard("classifier")
        for epoch in (bar := tqdm(range(progress.step, args.epochs), desc="classifier", unit="epoch", disable=None)):
            loss = train_one_epoch(model, data.train_dl, data.train.labels, (opt, scheduler), device, generator, guard)
            val_accuracy = accuracy(classify(model, val_images, device), data.val.labels)
            bar.set_postfix(loss=f"{loss:.3f}", val=f"{val_accuracy:.4f}")
            state["history"].append({"epoch": epoch + 1, "loss": loss, "val_accuracy": val_accuracy})
            append_log(run_dir, state["history"][-1])
            if progress.improves(val_accuracy):
                progress.keep_best(model, val_accuracy, epoch + 1)
            progress.step, state["train_seconds"] = epoch + 1, seconds_before + time.time() - t0
            save_progress(ckpt_path, progress, model, opt, scheduler, generators)
        model.load_state_dict(progress.best_model)
        reference, metrics = score_classifier(args, model, data, device)
        save_extra(ckpt_path, {**state, "reference": reference})  # what load_classifier reads, with best_model
        metrics |= {
            "best_epoch": progress.best_step,
            "val_accuracy": progress.best_score,
            "epochs": progress.step,
            "history": state["history"],
            "train_seconds": state["train_seconds"],
        }
        save_json(run_dir / "metrics.json", metrics)
    print(
        f"{run_dir}: test accuracy {metrics['test_accuracy']:.4f} (epoch {metrics['best_epoch']}); "
        f"Frechet floor (train vs test) {metrics['frechet_floor']:.2f}"
    )
    return metrics
