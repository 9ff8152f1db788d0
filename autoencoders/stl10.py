"""Part 2: STL-10 (``python main.py stl10-cnn | stl10-resnet | stl10-ae``).

* ``stl10-cnn``: :class:`~autoencoders.models.STL10CNN` from scratch;
* ``stl10-resnet``: torchvision's ResNet-18 with ImageNet weights (``--weights imagenet|PATH``,
  :mod:`common.pretrained`), frozen, and a new 10-class head. Without the weights (no flag, or the
  download failed) nothing trains: the run folder records ``"status": "skipped"`` with the reason,
  and the command ends with one line saying so, exit status 0. ``--no-pretrained`` trains on a
  RANDOM backbone (smoke tests), labelled so in the folder name, config, metrics and output;
* ``stl10-ae``: :class:`~autoencoders.models.STL10AutoEncoder` trained on the unlabelled split,
  then its frozen encoder under a small classifier.

The classifiers train with the supervised loop of :mod:`autoencoders.cifar` and the
autoencoder with the reconstruction loop of :mod:`autoencoders.mnist_ae`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from autoencoders import cifar, datasets, helper, mnist_ae, models, plots
from common.pretrained import PretrainedWeights, resnet18_weights
from common.runs import save_json

RANDOM_BACKBONE = "RANDOM initialisation (--no-pretrained: not pretrained, smoke tests only)"


def labelled(args: argparse.Namespace) -> tuple[torch.Tensor, ...]:
    """``(train_x, train_y, test_x, test_y)`` of the labelled splits as ``uint8`` tensors (a few with --quick)."""
    train_x, train_y = datasets.load_stl10(args.data_dir, "train", args.download)
    test_x, test_y = datasets.load_stl10(args.data_dir, "test", args.download)
    n_train, n_test = (64, 32) if args.quick else (len(train_y), len(test_y))
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return as_t(train_x[:n_train]), as_t(train_y[:n_train]), as_t(test_x[:n_test]), as_t(test_y[:n_test])


def source(args: argparse.Namespace) -> str:
    return f"STL-10 binary files in {Path(args.data_dir) / 'stl10_binary'}"


def adamw(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters of ``model`` (a frozen backbone or encoder stays as it is)."""
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)


def train_classifier(args, fit: helper.Fit, model: torch.nn.Module, data, norm: tuple) -> tuple[dict, dict]:
    """Train the trainable part of ``model`` with ``fit.optimizer`` under a one-cycle rate (set here, as
    ``fit.scheduler``, once the batches per epoch are known) on the labelled training split minus a held-out
    validation part (which chooses ``best<tag>.pth``); returns the history and the headline numbers
    (:func:`autoencoders.cifar.headline`: the test accuracy of the validation-selected weights)."""
    train_x, train_y, test_x, test_y = data
    train_x, train_y, val_x, val_y = datasets.hold_out(train_x, train_y, args.val_fraction, args.seed)
    mean, std = norm
    augment = mean is not None  # the autoencoder's encoder saw plain [0, 1] images: no augmentation, no standardisation
    g = torch.Generator().manual_seed(args.seed)
    train_loader = datasets.TensorBatches(
        train_x, train_y, args.batch_size, shuffle=True, augment=augment, pad=8, mean=mean, std=std, generator=g
    )
    val_loader, test_loader = (
        datasets.TensorBatches(x, y, 200, mean=mean, std=std) for x, y in ((val_x, val_y), (test_x, test_y))
    )
    lr = fit.optimizer.param_groups[0]["lr"]
    fit.scheduler = helper.one_cycle(fit.optimizer, lr, fit.epochs * len(train_loader))
    history = cifar.train(model, train_loader, val_loader, fit)
    return history, {
        **cifar.headline(model, history, test_loader, fit.device),
        "train_images": len(train_y),
        "val_images": len(val_y),
        "test_images": len(test_y),
    }


def _last_line(run_dir: Path, m: dict) -> str:
    return f"{run_dir}: test accuracy {m['test_acc']:.4f} (weights of epoch {m['best_epoch']}, chosen on validation)"


def run_cnn(args: argparse.Namespace, device: torch.device) -> None:
    data = labelled(args)
    model = models.STL10CNN().to(device)
    params = models.count_parameters(model)
    with helper.open_run(args, device, source(args), parameters=params) as run_dir:
        fit = helper.Fit(adamw(model, args.lr, args.weight_decay), args.epochs, device, run_dir, resume=args.resume)
        history, m = train_classifier(args, fit, model, data, (datasets.STL10_MEAN, datasets.STL10_STD))
        helper.finish_run(run_dir, history, "STL-10 CNN", parameters=params, **m)
    print(_last_line(run_dir, m))


def skip_resnet(args: argparse.Namespace, device: torch.device, weights: PretrainedWeights) -> None:
    """Record a run without ImageNet weights as skipped (config.json, metrics.json) and say so in one line."""
    with helper.open_run(args, device, source(args), backbone=weights.source) as run_dir:
        save_json(
            run_dir / "metrics.json",
            {"status": "skipped", "reason": weights.reason, "dataset": source(args), "backbone": weights.source},
        )
    print(f"{run_dir}: SKIPPED, nothing trained (STL-10 with a frozen ImageNet ResNet-18): {weights.reason}")


def run_resnet(args: argparse.Namespace, device: torch.device) -> None:
    """Train the head on the frozen backbone; a missing or wrong ``--weights`` file is a DataError, unavailable
    ImageNet weights (no flag, offline) a skipped run."""
    data = labelled(args)
    weights = None if args.no_pretrained else resnet18_weights(args.weights, "--weights")
    if weights is not None and not weights.available:
        skip_resnet(args, device, weights)
        return
    backbone = weights.source if weights else RANDOM_BACKBONE
    model = models.resnet18_transfer(weights.state_dict if weights else None).to(device)
    trainable = models.count_parameters(model, trainable_only=True)
    print(f"ResNet-18 backbone: {backbone}; {trainable:,} trainable parameters")
    title = "STL-10 ResNet-18 (frozen, " + ("RANDOM backbone)" if weights is None else "pretrained backbone)")
    with helper.open_run(args, device, source(args), backbone=backbone, trainable_parameters=trainable) as run_dir:
        fit = helper.Fit(adamw(model, args.lr, args.weight_decay), args.epochs, device, run_dir, resume=args.resume)
        history, m = train_classifier(args, fit, model, data, (datasets.IMAGENET_MEAN, datasets.IMAGENET_STD))
        helper.finish_run(run_dir, history, title, status="ok", backbone=backbone, trainable_parameters=trainable, **m)
    print(_last_line(run_dir, m) + (" [RANDOM backbone, not pretrained]" if weights is None else ""))


def train_autoencoder(
    args, device, run_dir: Path, unlabeled: np.ndarray, test_x: np.ndarray
) -> tuple[torch.nn.Module, dict, float]:
    """The autoencoder on (the first ``--max-unlabeled`` of) the unlabelled images, minus a seeded held-out
    part (at most 2,000 images) that chooses the kept weights; writes reconstructions.png. Returns the
    validation-selected autoencoder, its history and its test MSE (on 1,000 test images, scored once)."""
    n_unlabeled = min(len(unlabeled), 256 if args.quick else args.max_unlabeled or len(unlabeled))
    order = torch.randperm(n_unlabeled, generator=torch.Generator().manual_seed(args.seed)).tolist()
    n_val = min(2000, max(1, round(n_unlabeled * args.val_fraction)))
    images = datasets.UnlabeledImages(unlabeled)
    test_set = datasets.UnlabeledImages(test_x[: 32 if args.quick else 1000])
    g = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(
        Subset(images, sorted(order[n_val:])), args.batch_size, shuffle=True, num_workers=args.workers, generator=g
    )
    val_loader = DataLoader(Subset(images, sorted(order[:n_val])), 200, num_workers=args.workers)
    ae = models.STL10AutoEncoder().to(device)
    optimizer = torch.optim.Adam(ae.parameters(), lr=args.lr)
    fit = helper.Fit(optimizer, args.epochs, device, run_dir, resume=args.resume, tag="_autoencoder")
    history = mnist_ae.train(ae, train_loader, val_loader, fit, task="reconstruction")
    test_mse = helper.autoencoder_test_mse(
        ae, DataLoader(test_set, 200, num_workers=args.workers), device, "reconstruction", 0.0
    )
    pick = torch.randperm(len(test_set), generator=torch.Generator().manual_seed(args.seed))[:9]
    originals = torch.stack([test_set[int(i)] for i in pick])
    with torch.no_grad():
        recon = ae(originals.to(device)).cpu()
    plots.save(
        plots.pairs_grid_figure(originals, recon, "STL-10 autoencoder: nine random test images"),
        run_dir / "reconstructions.png",
    )
    return ae, history, test_mse


def run_ae(args: argparse.Namespace, device: torch.device) -> None:
    unlabeled, _ = datasets.load_stl10(args.data_dir, "unlabeled", args.download)
    data = labelled(args)
    test_x, _ = datasets.load_stl10(args.data_dir, "test", args.download)
    params = models.count_parameters(models.STL10AutoEncoder())
    n_unlabeled = min(len(unlabeled), 256 if args.quick else args.max_unlabeled or len(unlabeled))
    with helper.open_run(args, device, source(args), unlabeled_images=n_unlabeled, parameters=params) as run_dir:
        ae, ae_history, ae_test_mse = train_autoencoder(args, device, run_dir, unlabeled, test_x)
        clf = models.EncoderClassifier(ae.encoder, models.code_classifier_head(ae.code_channels)).to(device)
        optimizer = adamw(clf, args.classifier_lr, args.weight_decay)
        epochs = 1 if args.quick else args.classifier_epochs
        fit = helper.Fit(optimizer, epochs, device, run_dir, resume=args.resume, tag="_classifier")
        clf_history, m = train_classifier(args, fit, clf, data, (None, None))
        helper.finish_run(
            run_dir,
            clf_history,
            "STL-10 frozen-encoder classifier",
            parameters=params,
            classifier_trainable_parameters=models.count_parameters(clf, trainable_only=True),
            ae_test_mse=ae_test_mse,
            ae_val_mse=min(ae_history["val_mse"]),
            ae_history=ae_history,
            **m,
        )
        plots.save(plots.history_figure(ae_history, "STL-10 autoencoder"), run_dir / "history_autoencoder.png")
    print(f"autoencoder test MSE {ae_test_mse:.5f} (weights chosen on validation)")
    print(_last_line(run_dir, m) + " of the frozen-encoder classifier")


def run(args: argparse.Namespace, device: torch.device) -> None:
    {"stl10-cnn": run_cnn, "stl10-resnet": run_resnet, "stl10-ae": run_ae}[args.task](args, device)
