"""Part 1: a CNN classifier for CIFAR-10 (``python main.py cifar``).

:func:`train_one_epoch` and :func:`train` are the supervised training loop; the STL-10
classifiers (:mod:`autoencoders.stl10`) are trained with the same two functions.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from autoencoders import datasets, helper, models


def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer, device: torch.device,
                    scheduler=None, label_smoothing: float = 0.0, desc: str = "train") -> float:  # fmt: skip
    """One pass over ``loader`` with the cross-entropy loss; returns the mean training loss.
    ``scheduler`` (e.g. one-cycle) is stepped after every batch."""
    model.train()
    total, count = 0.0, 0
    for x, y in helper.bar(loader, desc):
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total, count = total + loss.item() * len(y), count + len(y)
    return total / max(count, 1)


def train(model: nn.Module, train_loader: Iterable, test_loader: Iterable, optimizer: torch.optim.Optimizer, epochs: int,
          device: torch.device, run_dir: str | Path, scheduler=None, label_smoothing: float = 0.0, resume: bool = False,
          tag: str = "") -> dict[str, list[float]]:  # fmt: skip
    """Train for ``epochs`` epochs, testing after each; returns the histories
    ``{"train_loss", "test_acc", "epoch_seconds"}`` (one value per epoch).

    ``run_dir/best<tag>.pth`` keeps the weights with the best test accuracy and
    ``run_dir/checkpoint<tag>.pt`` the state after the last epoch (``resume`` continues from it).
    """
    generator = getattr(train_loader, "generator", None)
    history, best, start = helper.load_progress(run_dir, tag, model, optimizer, scheduler, generator, resume)
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        loss = train_one_epoch(model, train_loader, optimizer, device, scheduler, label_smoothing, f"epoch {epoch + 1}/{epochs}")
        seconds = time.perf_counter() - t0
        helper.append(history, train_loss=loss, test_acc=helper.evaluate_accuracy(model, test_loader, device),
                      epoch_seconds=seconds)  # fmt: skip
        best = helper.save_progress(run_dir, tag, epoch + 1, model, optimizer, scheduler, generator, history, best, "test_acc", True)
    return history


def run(args: argparse.Namespace, device: torch.device) -> None:
    data = datasets.load_cifar10(args.data_dir, args.download)
    train_x, train_y, test_x, test_y = datasets.splits(data, args.quick, quick_train=256, quick_test=128)
    g = torch.Generator().manual_seed(args.seed)
    norm = dict(mean=datasets.CIFAR10_MEAN, std=datasets.CIFAR10_STD, channels_last=True)
    train_loader = datasets.TensorBatches(train_x, train_y, args.batch_size, shuffle=True, augment=True, generator=g, **norm)
    test_loader = datasets.TensorBatches(test_x, test_y, 500, **norm)

    model = models.CifarCNN().to(device, memory_format=torch.channels_last)
    params = models.count_parameters(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)
    scheduler = helper.one_cycle(optimizer, args.lr, args.epochs * len(train_loader))
    sizes = dict(train_images=len(train_y), test_images=len(test_y))
    print(f"CifarCNN: {params:,} parameters; {len(train_y)} train / {len(test_y)} test images from {data['source']}")
    with helper.open_run(args, device, data["source"], parameters=params, **sizes) as run_dir:
        history = train(model, train_loader, test_loader, optimizer, args.epochs, device, run_dir,
                        scheduler=scheduler, label_smoothing=0.1, resume=args.resume)  # fmt: skip
        acc = history["test_acc"]
        helper.finish_run(run_dir, history, "CIFAR-10 CNN", parameters=params, best_test_acc=max(acc), final_test_acc=acc[-1],
                          train_seconds=sum(history["epoch_seconds"]), **sizes)  # fmt: skip
    print(f"{run_dir}: final test accuracy {acc[-1]:.4f} (best {max(acc):.4f}) "
          f"after {sum(history['epoch_seconds']):.0f} s of training on {device}")
