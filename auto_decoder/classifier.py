"""A small Fashion-MNIST classifier, used only to *score* decoded samples.

Looking at samples is subjective; a classifier trained on real images gives two
numbers per model instead (computed by :func:`sample_quality` on 1,000 decoded
prior draws):

* ``confident_share``: the fraction of samples the classifier assigns to some
  class with probability >= 0.9. A blurry or chimeric sample that looks like no
  garment gets a flat prediction and does not count.
* ``class_entropy_bits``: the entropy of the histogram of predicted classes, in
  bits (0 when every sample is called the same class, log2(10) = 3.32 when the
  ten classes are equally frequent). It catches a model that only ever draws,
  say, trousers.

``python main.py classifier`` trains it (:func:`run`); ``ad`` and ``vad`` load its
checkpoint (:func:`load_classifier`) to score their samples.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from common.cli import DataError
from common.metrics import accuracy
from common.runs import load_checkpoint, run_folder, save_checkpoint, save_json

NUM_CLASSES = 10


class FashionClassifier(nn.Module):
    """``(B, 1, 28, 28)`` images in [0, 1] -> ``(B, 10)`` class logits.

    Two conv-ReLU-maxpool stages (16 and 32 channels, 28 -> 14 -> 7) and a
    64-unit hidden layer with dropout: small enough to train in a few CPU epochs,
    and plenty for telling a garment from a smear. Its measured test accuracy is
    ``test_accuracy`` in the run's ``metrics.json`` (quoted in the README).
    """

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 64),
            nn.ReLU(),
            nn.Dropout(0.25),
            nn.Linear(64, NUM_CLASSES),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected images (B, 1, 28, 28), got {tuple(x.shape)}")
        return self.net(x)


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


# ------------------------------------------------------------------ training (python main.py classifier)
FIXED_ON_RESUME = ("seed", "subset", "batch_size")


def train_one_epoch(model: nn.Module, train_dl: DataLoader, labels: torch.Tensor, opt: torch.optim.Optimizer,
                    device: torch.device) -> float:
    """One pass of cross-entropy training; ``labels`` are the dataset's labels, looked up by the batch's indices.
    Returns the mean training loss."""
    model.train()
    total, count = 0.0, 0
    for indices, x in train_dl:
        loss = F.cross_entropy(model(x.to(device)), labels[indices].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total, count = total + loss.item() * len(x), count + len(x)
    return total / max(count, 1)


@torch.no_grad()
def classify(model: nn.Module, images: torch.Tensor, device: torch.device | str, batch_size: int = 500) -> torch.Tensor:
    """Class probabilities ``(N, 10)`` of images ``(N, 1, 28, 28)`` in [0, 1]."""
    model.eval()
    return torch.cat([F.softmax(model(images[i : i + batch_size].to(device)), 1).cpu() for i in range(0, len(images), batch_size)])


def load_classifier(path: str | Path, device: torch.device) -> nn.Module:
    """The classifier saved in the checkpoint at ``path`` (weights only); a bad file is a :class:`DataError`."""
    with torch.random.fork_rng(devices=[]):  # building it must not move the RNG of the run that loads it
        model = FashionClassifier().to(device)
    try:
        model.load_state_dict(load_checkpoint(path, device)["model"])
    except OSError:
        raise
    except Exception as err:  # a truncated file, a checkpoint of another model ...
        first_line = (str(err).strip().splitlines() or [""])[0][:100]
        raise DataError(f"{path} is not a classifier checkpoint of `python main.py classifier` "
                        f"({type(err).__name__}: {first_line})") from err
    return model


def run(args: argparse.Namespace) -> dict:
    """``python main.py classifier``: train (or resume), then score the real test images."""
    from auto_decoder.utils import prepare_run

    device, (train_ds, train_dl, test_ds, _), config = prepare_run(args, FIXED_ON_RESUME)
    model = FashionClassifier().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    with run_folder(args.results_root, args.run_name, config, resume=args.resume, overwrite=args.overwrite,
                    fixed_on_resume=FIXED_ON_RESUME) as run_dir:
        ckpt_path, state = run_dir / "checkpoint.pt", {}
        if args.resume and ckpt_path.exists():
            state = load_checkpoint(ckpt_path, device)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
        t0, seconds_before = time.time(), state.get("train_seconds", 0.0)
        for epoch in (bar := tqdm(range(state.get("epoch", 0), args.epochs), desc="classifier", unit="epoch")):
            loss = train_one_epoch(model, train_dl, train_ds.labels, opt, device)
            bar.set_postfix(loss=f"{loss:.3f}")
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch + 1,
                     "train_seconds": seconds_before + time.time() - t0}
            save_checkpoint(ckpt_path, state)
        probs = classify(model, test_ds.batch(torch.arange(len(test_ds))), device)
        metrics = {
            "test_accuracy": accuracy(probs, test_ds.labels),
            "real_test_images": sample_quality(probs),  # the ceiling a generator could reach
            "epochs": state.get("epoch", args.epochs),
            "train_size": len(train_ds),
            "test_size": len(test_ds),
            "train_seconds": state.get("train_seconds", 0.0),
        }
        save_json(run_dir / "metrics.json", metrics)
    print(f"{run_dir}: test accuracy {metrics['test_accuracy']:.4f}; real test images classified with "
          f"confidence >= 0.9: {metrics['real_test_images']['confident_share']:.3f}")
    return metrics
