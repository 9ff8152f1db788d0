"""Part 2: STL-10 (``python main.py stl10-cnn | stl10-resnet | stl10-ae``).

* ``stl10-cnn``: :class:`~autoencoders.models.STL10CNN` from scratch;
* ``stl10-resnet``: torchvision's ResNet-18 with ImageNet weights, frozen, and a new 10-class head;
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
from common.cli import DataError


def labelled(args: argparse.Namespace) -> tuple[torch.Tensor, ...]:
    """``(train_x, train_y, test_x, test_y)`` of the labelled splits as ``uint8`` tensors (a few with --quick)."""
    train_x, train_y = datasets.load_stl10(args.data_dir, "train", args.download)
    test_x, test_y = datasets.load_stl10(args.data_dir, "test", args.download)
    n_train, n_test = (64, 32) if args.quick else (len(train_y), len(test_y))
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return as_t(train_x[:n_train]), as_t(train_y[:n_train]), as_t(test_x[:n_test]), as_t(test_y[:n_test])


def source(args: argparse.Namespace) -> str:
    return f"STL-10 binary files in {Path(args.data_dir) / 'stl10_binary'}"


def train_classifier(args, device, model, run_dir, data, norm: tuple, lr: float, epochs: int, tag: str = "") -> dict:
    """Train the trainable part of ``model`` (AdamW, one-cycle) on the labelled split; returns the history."""
    train_x, train_y, test_x, test_y = data
    mean, std = norm
    augment = mean is not None  # the autoencoder's encoder saw plain [0, 1] images: no augmentation, no standardisation
    g = torch.Generator().manual_seed(args.seed)
    train_loader = datasets.TensorBatches(train_x, train_y, args.batch_size, shuffle=True, augment=augment, pad=8,
                                          mean=mean, std=std, generator=g)  # fmt: skip
    test_loader = datasets.TensorBatches(test_x, test_y, 200, mean=mean, std=std)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=args.weight_decay)
    scheduler = helper.one_cycle(optimizer, lr, epochs * len(train_loader))
    return cifar.train(model, train_loader, test_loader, optimizer, epochs, device, run_dir, scheduler=scheduler,
                       resume=args.resume, tag=tag)  # fmt: skip


def _accuracies(history: dict) -> dict:
    acc = history["test_acc"]
    return dict(best_test_acc=max(acc), final_test_acc=acc[-1], train_seconds=sum(history["epoch_seconds"]))


def _last_line(run_dir: Path, history: dict) -> None:
    print(f"{run_dir}: final test accuracy {history['test_acc'][-1]:.4f} (best {max(history['test_acc']):.4f})")


def run_cnn(args: argparse.Namespace, device: torch.device) -> None:
    data = labelled(args)
    model = models.STL10CNN().to(device)
    params = models.count_parameters(model)
    with helper.open_run(args, device, source(args), parameters=params) as run_dir:
        history = train_classifier(args, device, model, run_dir, data, (datasets.STL10_MEAN, datasets.STL10_STD), args.lr, args.epochs)
        helper.finish_run(run_dir, history, "STL-10 CNN", parameters=params, **_accuracies(history))
    _last_line(run_dir, history)


def resnet(args: argparse.Namespace, device: torch.device) -> tuple[torch.nn.Module, str]:
    """The frozen ResNet-18 with its new head, and a description of its backbone weights."""
    if args.weights is None and not args.no_pretrained:
        raise DataError("stl10-resnet needs ImageNet weights: download resnet18-f37072fd.pth from "
                        "https://download.pytorch.org/models/ and pass --weights PATH (or --no-pretrained for a smoke test)")  # fmt: skip
    if args.weights is not None and not Path(args.weights).is_file():
        raise DataError(f"--weights {args.weights}: file not found (expected torchvision's resnet18-f37072fd.pth)")
    try:
        model = models.resnet18_transfer(args.weights).to(device)
    except (RuntimeError, OSError, KeyError) as e:
        raise DataError(f"--weights {args.weights} is not a ResNet-18 state dict ({str(e).splitlines()[0]})") from None
    return model, "ImageNet weights from " + str(args.weights) if args.weights else "RANDOM initialisation (no pretrained weights)"


def run_resnet(args: argparse.Namespace, device: torch.device) -> None:
    model, backbone = resnet(args, device)
    data = labelled(args)
    trainable = models.count_parameters(model, trainable_only=True)
    print(f"ResNet-18 backbone: {backbone}; {trainable:,} trainable parameters")
    with helper.open_run(args, device, source(args), backbone=backbone, trainable_parameters=trainable) as run_dir:
        history = train_classifier(args, device, model, run_dir, data, (datasets.IMAGENET_MEAN, datasets.IMAGENET_STD),
                                   args.lr, args.epochs)  # fmt: skip
        helper.finish_run(run_dir, history, "STL-10 ResNet-18 (frozen)", backbone=backbone, trainable_parameters=trainable,
                          **_accuracies(history))  # fmt: skip
    _last_line(run_dir, history)


def train_autoencoder(args, device, run_dir: Path, unlabeled: np.ndarray, test_x: np.ndarray) -> tuple[torch.nn.Module, dict]:
    """The autoencoder on (the first ``--max-unlabeled`` of) the unlabelled images; writes reconstructions.png."""
    n_unlabeled = min(len(unlabeled), 256 if args.quick else args.max_unlabeled or len(unlabeled))
    test_set = datasets.UnlabeledImages(test_x[: 32 if args.quick else 1000])  # reconstruction MSE on 1,000 test images
    g = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(Subset(datasets.UnlabeledImages(unlabeled), range(n_unlabeled)), args.batch_size,
                              shuffle=True, num_workers=args.workers, generator=g)  # fmt: skip
    ae = models.STL10AutoEncoder().to(device)
    optimizer = torch.optim.Adam(ae.parameters(), lr=args.lr)
    history = mnist_ae.train(ae, train_loader, DataLoader(test_set, 200, num_workers=args.workers), optimizer, args.epochs,
                             device, run_dir, task="reconstruction", resume=args.resume, tag="_autoencoder")  # fmt: skip
    ae.eval()
    pick = torch.randperm(len(test_set), generator=torch.Generator().manual_seed(args.seed))[:9]
    originals = torch.stack([test_set[int(i)] for i in pick])
    with torch.no_grad():
        recon = ae(originals.to(device)).cpu()
    plots.save(plots.pairs_grid_figure(originals, recon, "STL-10 autoencoder: nine random test images"), run_dir / "reconstructions.png")
    return ae, history


def run_ae(args: argparse.Namespace, device: torch.device) -> None:
    unlabeled, _ = datasets.load_stl10(args.data_dir, "unlabeled", args.download)
    data = labelled(args)
    test_x, _ = datasets.load_stl10(args.data_dir, "test", args.download)
    params = models.count_parameters(models.STL10AutoEncoder())
    n_unlabeled = min(len(unlabeled), 256 if args.quick else args.max_unlabeled or len(unlabeled))
    with helper.open_run(args, device, source(args), unlabeled_images=n_unlabeled, parameters=params) as run_dir:
        ae, ae_history = train_autoencoder(args, device, run_dir, unlabeled, test_x)
        clf = models.EncoderClassifier(ae.encoder, models.code_classifier_head(ae.code_channels)).to(device)
        clf_history = train_classifier(args, device, clf, run_dir, data, (None, None), args.classifier_lr,
                                       1 if args.quick else args.classifier_epochs, tag="_classifier")  # fmt: skip
        helper.finish_run(run_dir, clf_history, "STL-10 frozen-encoder classifier", parameters=params,
                          classifier_trainable_parameters=models.count_parameters(clf, trainable_only=True),
                          ae_test_mse=ae_history["test_mse"][-1], ae_history=ae_history, **_accuracies(clf_history))  # fmt: skip
        plots.save(plots.history_figure(ae_history, "STL-10 autoencoder"), run_dir / "history_autoencoder.png")
    print(f"{run_dir}: autoencoder test MSE {ae_history['test_mse'][-1]:.5f}; frozen-encoder classifier final test accuracy "
          f"{clf_history['test_acc'][-1]:.4f} (best {max(clf_history['test_acc']):.4f})")


def run(args: argparse.Namespace, device: torch.device) -> None:
    {"stl10-cnn": run_cnn, "stl10-resnet": run_resnet, "stl10-ae": run_ae}[args.task](args, device)
