"""What every generative run (``ad``, ``vad``, ``vae``) reports once its model is trained.

:func:`finish` takes a :class:`Trained` model: the decoder, a sampler of the prior and the latent codes of
the training and test images, whatever made them (a latent table, test-time optimisation or an encoder),
and writes:

* the reconstruction scores: BCE per pixel and PSNR of the training images (their learned
  codes) and of the test images (their fitted or encoded codes), and the gap;
* ``samples.png`` (5 prior samples, 5 decoded test codes, those test images),
  ``prior_grid.png`` (50 of the scored prior samples), ``tsne.png`` (train and test codes
  coloured by class) and ``interpolation.png`` (a line between two test codes, decoded);
* the sample scores of ``--samples`` (10,000) prior draws (:mod:`auto_decoder.classifier`): confident
  share, class entropy and the Frechet distance to the test images in the classifier's
  feature space, beside the floor (real training images vs test images), and with held-out
  training images the distance to those (the validation score that chooses the KL weight);
* ``metrics.json``, and the last line naming the run folder and its headline numbers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from auto_decoder.classifier import feature_statistics, frechet_distance, load_classifier, sample_quality, score_images
from auto_decoder.evaluate import reconstruction_scores
from auto_decoder.utils import CLASS_NAMES, IndexedImages, RunData, plot_tsne, save_image_grid
from common.checkpoint import Progress
from common.cli import DataError
from common.runs import save_json, save_npz


@dataclass
class Trained:
    """A trained generative model as the analysis sees it."""

    decoder: nn.Module
    sample_prior: Callable[[int], torch.Tensor]  # n -> (n, latent_dim) draws from the model's prior
    codes: dict[str, torch.Tensor]  # {"train": (len(data.train), D), "test": (len(test_ds), D)} latent codes (CPU)
    data: RunData
    test_ds: IndexedImages  # the test images the codes belong to (the first --test-size)
    pair: tuple[int, int]  # the two test images the interpolation runs between


def model_name(args: argparse.Namespace) -> str:
    """``ad``, ``vad-<family>`` or ``vae``."""
    return f"vad-{args.family}" if args.command == "vad" else args.command


def interpolation_pair(test_ds: IndexedImages, pair: list[int] | None) -> tuple[int, int]:
    """``pair`` if given, else test image 0 and the first test image of another class."""
    if pair is None:
        first = int(test_ds.labels[0])
        other = (test_ds.labels != first).nonzero()
        if len(other) == 0:
            raise DataError("every test image has the same class; nothing to interpolate between")
        return 0, int(other[0])
    a, b = pair
    if not (a < len(test_ds) and b < len(test_ds)):
        raise DataError(f"--interp indices must be in 0..{len(test_ds) - 1} (the fitted test images), got {a} {b}")
    if test_ds.labels[a] == test_ds.labels[b]:
        raise DataError(f"--interp {a} {b}: both are {CLASS_NAMES[test_ds.labels[a]]}; pick two classes")
    return a, b


def find_classifier(args: argparse.Namespace, device: torch.device) -> tuple[nn.Module, dict] | None:
    """The scoring classifier and its reference statistics (:func:`~auto_decoder.classifier.load_classifier`):
    ``--classifier`` (must exist) or the ``classifier`` run under --results-root (``classifier_quick`` first
    for a --quick run); None, with a note, when there is none."""
    if args.classifier:
        if not Path(args.classifier).is_file():
            raise DataError(
                f"--classifier {args.classifier}: no such file (train one with `python main.py classifier`)"
            )
        return load_classifier(args.classifier, device)
    names = ["classifier_quick", "classifier"] if args.quick else ["classifier"]
    for path in (Path(args.results_root) / name / "checkpoint.pt" for name in names):
        if path.is_file():
            return load_classifier(path, device)
    print(
        f"no classifier checkpoint under {args.results_root}: sample quality will not be scored "
        "(run `python main.py classifier` first)"
    )
    return None


@torch.no_grad()
def decode(decoder: nn.Module, codes: torch.Tensor, device: torch.device, batch_size: int = 2000) -> torch.Tensor:
    """Images ``(N, 1, 28, 28)`` on the CPU of codes ``(N, latent_dim)``, decoded in batches."""
    decoder.eval()
    return torch.cat([decoder(z.to(device)).cpu() for z in codes.split(batch_size)])


# ------------------------------------------------------------------------------ figures
def sample_figures(name: str, run_dir: Path, decoder, sample_prior, test_codes, test_ds: IndexedImages, device) -> None:
    """5 prior samples and 5 test images decoded from their codes, above those test images."""
    k = min(5, len(test_ds))
    rows = {
        "prior samples": decode(decoder, sample_prior(5), device),
        "decoded test": decode(decoder, test_codes[:k], device),
        "test images": test_ds.batch(torch.arange(k)),
    }
    save_image_grid(rows, run_dir / "samples.png", f"{name}: prior samples vs decoded test codes")
    save_npz(run_dir / "samples.npz", **{k.replace(" ", "_"): v.numpy() for k, v in rows.items()})


def tsne_figure(
    name: str, run_dir: Path, codes: dict[str, torch.Tensor], datasets: dict[str, IndexedImages], points: int, seed: int
) -> None:
    """t-SNE of at most ``points`` random train and test codes, coloured by class."""
    groups = {}
    for split, ds in datasets.items():
        idx = torch.randperm(len(ds))[:points]
        groups[split] = (codes[split][idx], ds.labels[idx])
    plot_tsne(groups, run_dir / "tsne.png", f"{name}: t-SNE of the latent codes", seed=seed)


def interpolation_figure(name: str, run_dir: Path, decoder, test_codes, test_ds: IndexedImages, pair, device) -> dict:
    """Decode 7 evenly spaced points on the line between the codes of two test images."""
    a, b = pair
    t = torch.linspace(0, 1, 7)[:, None]  # endpoints + 5 evenly spaced steps
    row = decode(decoder, (1 - t) * test_codes[a] + t * test_codes[b], device)
    originals = torch.full_like(row, float("nan"))
    originals[[0, -1]] = test_ds.batch([a, b])
    classes = [CLASS_NAMES[test_ds.labels[a]], CLASS_NAMES[test_ds.labels[b]]]
    save_image_grid(
        {"test images": originals, name: row},
        run_dir / "interpolation.png",
        f"{name}: test {a} ({classes[0]}) -> test {b} ({classes[1]})",
    )
    save_npz(run_dir / "interpolation.npz", row=row.numpy())
    return {"interpolation_pair": [a, b], "interpolation_classes": classes}


def score_samples(name: str, run_dir: Path, model: Trained, num_samples: int, scorer, device) -> dict:
    """Decode ``num_samples`` prior draws, save 50 of them, and score them with the classifier (if there is one):
    :func:`~auto_decoder.classifier.sample_quality` and the Frechet distance to the classifier's test images.

    With held-out training images (``model.data.val``) also their Frechet distance to those images: the score
    that chooses between runs (the KL weight), so that the test images only report. It is not the test-image
    distance (2,000 other images, whose covariance is estimated less well): compare it between runs with
    the same validation images only."""
    decoder, sample_prior, val_ds = model.decoder, model.sample_prior, model.data.val
    samples = decode(decoder, torch.cat([sample_prior(len(c)) for c in torch.arange(num_samples).split(2000)]), device)
    save_image_grid(
        {f"{r}": samples[10 * r : 10 * r + 10] for r in range(5)},
        run_dir / "prior_grid.png",
        f"{name}: 50 of the {num_samples:,} scored prior samples",
    )
    if scorer is None:
        return {}
    classifier, reference = scorer
    features, probs = score_images(classifier, samples, device)
    quality = {
        "num_samples": num_samples,
        **sample_quality(probs),
        "frechet_distance": frechet_distance(feature_statistics(features), reference["test"]),
        "frechet_floor": reference["floor"],
        "frechet_test_images": reference["test_size"],
    }
    if val_ds is not None and len(val_ds) >= 2:
        val_features = score_images(classifier, val_ds.batch(torch.arange(len(val_ds))), device)[0]
        quality["val_frechet_distance"] = frechet_distance(
            feature_statistics(features), feature_statistics(val_features)
        )
        quality["frechet_val_images"] = len(val_ds)
    return {"sample_quality": quality}


# -------------------------------------------------------------------------------- finish
def reconstruction_metrics(args: argparse.Namespace, progress: Progress, model: Trained, device: torch.device) -> dict:
    """The reconstruction scores of the training and test codes, and how the training went.

    ``progress`` is what :func:`auto_decoder.train.train` returns (best epoch; history, stop reason and timings
    in ``extra``)."""
    train_scores = reconstruction_scores(model.decoder, model.codes["train"], model.data.train, device)
    test_scores = reconstruction_scores(model.decoder, model.codes["test"], model.test_ds, device)
    print(
        f"reconstruction (BCE per pixel / PSNR): train {train_scores['bce']:.4f} / {train_scores['psnr']:.2f} dB, "
        f"test {test_scores['bce']:.4f} / {test_scores['psnr']:.2f} dB"
    )
    state, history = progress.extra, progress.extra["history"]
    return {
        "model": model_name(args),
        "family": args.family if args.command == "vad" else None,
        "train_size": len(model.data.train),
        "val_size": len(model.data.val) if model.data.val is not None else 0,
        "test_size": len(model.test_ds),
        "untrained_train_reconstruction_loss": state["untrained_loss"],
        "train_reconstruction_loss": train_scores["bce"],
        "test_reconstruction_loss": test_scores["bce"],
        "test_minus_train": test_scores["bce"] - train_scores["bce"],
        "train_psnr": train_scores["psnr"],
        "test_psnr": test_scores["psnr"],
        "epochs_trained": history[-1]["epoch"] if history else 0,
        "stopped": state["stopped"],
        "best_epoch": progress.best_step if progress.best_model is not None else None,
        "history": history,
        "train_seconds": state["train_seconds"],
    }


def closing_line(run_dir: Path, metrics: dict) -> str:
    """The command's last line: the run folder, the test reconstruction and the sample scores."""
    quality = metrics.get("sample_quality")
    score = (
        f"; prior samples: Frechet distance {quality['frechet_distance']:.2f} (floor {quality['frechet_floor']:.2f}), "
        f"{quality['confident_share']:.3f} confident, class entropy {quality['class_entropy_bits']:.2f} bits"
        if quality
        else "; samples not scored (no classifier)"
    )
    return (
        f"{run_dir}: test BCE {metrics['test_reconstruction_loss']:.4f} "
        f"(train {metrics['train_reconstruction_loss']:.4f}), test PSNR {metrics['test_psnr']:.2f} dB{score}"
    )


def finish(
    args: argparse.Namespace, run_dir: Path, progress: Progress, model: Trained, scorer, device: torch.device, **extra
) -> dict:
    """Score and draw a trained model, write ``metrics.json`` (with ``extra``) and print the closing line.
    ``scorer`` is ``(classifier, reference)`` of :func:`find_classifier`, or None."""
    name = model_name(args)
    metrics = {
        **reconstruction_metrics(args, progress, model, device),
        "test_fit_seconds": extra.get("test_fit", {}).get("seconds", 0.0),
        "device": str(device),
        **extra,
    }
    codes, test_ds = model.codes, model.test_ds
    torch.manual_seed(args.seed)  # the same prior draws whatever happened before
    sample_figures(name, run_dir, model.decoder, model.sample_prior, codes["test"], test_ds, device)
    tsne_figure(name, run_dir, codes, {"train": model.data.train, "test": test_ds}, args.tsne_points, args.seed)
    metrics.update(interpolation_figure(name, run_dir, model.decoder, codes["test"], test_ds, model.pair, device))
    # How far the codes are from the prior's spread (1 for N(0, I)): prior draws land among them only if close.
    metrics["train_latent_std"] = float(codes["train"].std())
    metrics.update(score_samples(name, run_dir, model, args.samples, scorer, device))
    save_json(run_dir / "metrics.json", metrics)
    print(closing_line(run_dir, metrics))
    return metrics
