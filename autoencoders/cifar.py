"""Part 1: a CNN classifier for CIFAR-10 (``python main.py cifar``).

:func:`train_one_epoch` and :func:`train` are the supervised training loop; the STL-10
classifiers (:mod:`autoencoders.stl10`) are trained with the same two functions.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from autoencoders import datasets, helper, models
from common.checkpoint import load_progress, save_progress
from common.guard import DivergenceGuard
from common.precision import autocast
from common.runs import save_checkpoint


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    fit: helper.Fit,
    label_smoothing: float = 0.0,
    desc: str = "train",
    guard: DivergenceGuard | None = None,
) -> float:
    """One pass over ``loader`` with the cross-entropy loss; returns the mean training loss.
    ``fit.scheduler`` (e.g. one-cycle) is stepped after every batch; the forward pass runs in ``fit.precision``
    (:mod:`common.precision`), the loss in float32."""
    model.train()
    total, count = 0.0, 0
    for x, y in helper.bar(loader, desc):
        x, y = x.to(fit.device), y.to(fit.device)
        with autocast(fit.device, fit.precision):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
        fit.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        fit.optimizer.step()
        if fit.scheduler is not None:
            fit.scheduler.step()
        total, count = total + (guard.check(loss) if guard is not None else loss.item()) * len(y), count + len(y)
    return total / max(count, 1)


def train(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable,
    fit: helper.Fit,
    label_smoothing: float = 0.0,
    test_loader: Iterable | None = None,
) -> dict[str, list[float]]:
    """Train for ``fit.epochs`` epochs, validating after each; returns the histories
    ``{"train_loss", "val_acc", "epoch_seconds"}`` (one value per epoch).

    ``run_dir/best<tag>.pth`` keeps the weights with the best validation accuracy and
    ``run_dir/checkpoint<tag>.pt`` the state after the last epoch (``fit.resume`` continues from it).
    With ``test_loader`` (the course's CIFAR-10 protocol) the test split is scored every epoch too
    (``"test_acc"``) and ``best_test<tag>.pth`` keeps the weights of the best TEST accuracy.
    ``model`` ends with the validation-selected weights.
    """
    run_dir, tag = Path(fit.run_dir), fit.tag
    ckpt_path, generator = run_dir / f"checkpoint{tag}.pt", getattr(train_loader, "generator", None)
    generators = {"loader": generator} if generator is not None else None
    progress = load_progress(ckpt_path, model, fit.optimizer, fit.scheduler, generators, resume=fit.resume)
    history = progress.extra.setdefault("history", {})
    guard = DivergenceGuard(f"{type(model).__name__}{tag}")  # stops a diverged run (common.cli.Diverged)
    for epoch in range(progress.step, fit.epochs):
        t0 = time.perf_counter()
        loss = train_one_epoch(model, train_loader, fit, label_smoothing, f"epoch {epoch + 1}/{fit.epochs}", guard)
        seconds = time.perf_counter() - t0
        scores = {"val_acc": helper.evaluate_accuracy(model, val_loader, fit.device)}
        if test_loader is not None:
            scores["test_acc"] = helper.evaluate_accuracy(model, test_loader, fit.device)
        helper.record_epoch(history, run_dir, tag, epoch + 1, train_loss=loss, **scores, epoch_seconds=seconds)
        if test_loader is not None and scores["test_acc"] > max(history["test_acc"][:-1], default=-1.0):
            save_checkpoint(run_dir / f"best_test{tag}.pth", model.state_dict())  # the course's protocol: optimistic
        if progress.improves(scores["val_acc"]):
            progress.keep_best(model, scores["val_acc"], epoch + 1)
            save_checkpoint(run_dir / f"best{tag}.pth", model.state_dict())
        progress.step = epoch + 1
        helper.report_epoch(epoch + 1, tag, history)
        save_progress(ckpt_path, progress, model, fit.optimizer, fit.scheduler, generators)
    model.load_state_dict(progress.best_model)
    return history


def headline(model: nn.Module, history: dict, test_loader: Iterable, device: torch.device) -> dict:
    """The run's numbers: ``test_acc`` of ``model``, holding the validation-selected weights (:func:`train` ends
    with them; the headline), its epoch and validation accuracy; with a per-epoch test history also the
    course's test-selected number, labelled so."""
    out = {
        "test_acc": helper.evaluate_accuracy(model, test_loader, device),
        "val_acc": max(history["val_acc"]),
        "best_epoch": helper.best_epoch(history, "val_acc", True),
        "train_seconds": sum(history["epoch_seconds"]),
    }
    if "test_acc" in history:  # course protocol: best TEST accuracy over the epochs (optimistic)
        acc = history["test_acc"]
        out.update(
            test_selected_test_acc=max(acc),
            test_selected_epoch=helper.best_epoch(history, "test_acc", True),
            best_test_acc=max(acc),
            final_test_acc=acc[-1],
        )
    return out


def run(args: argparse.Namespace, device: torch.device) -> None:
    data = datasets.load_cifar10(args.data_dir, args.download)
    train_x, train_y, test_x, test_y = datasets.splits(data, args.quick, quick_train=256, quick_test=128)
    train_x, train_y, val_x, val_y = datasets.hold_out(train_x, train_y, args.val_fraction, args.seed)
    g = torch.Generator().manual_seed(args.seed)
    norm = dict(mean=datasets.CIFAR10_MEAN, std=datasets.CIFAR10_STD, channels_last=True)
    train_loader = datasets.TensorBatches(
        train_x, train_y, args.batch_size, shuffle=True, augment=True, generator=g, **norm
    )
    val_loader, test_loader = (datasets.TensorBatches(x, y, 500, **norm) for x, y in ((val_x, val_y), (test_x, test_y)))

    model = models.CifarCNN().to(device, memory_format=torch.channels_last)
    params = models.count_parameters(model)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay
    )
    scheduler = helper.one_cycle(optimizer, args.lr, args.epochs * len(train_loader))
    sizes = dict(train_images=len(train_y), val_images=len(val_y), test_images=len(test_y))
    print(
        f"CifarCNN: {params:,} parameters; {len(train_y)} train / {len(val_y)} validation / {len(test_y)} test images "
        f"from {data['source']}"
    )
    precision = helper.run_precision(args, device)
    with helper.open_run(args, device, data["source"], parameters=params, **sizes) as run_dir:
        fit = helper.Fit(optimizer, args.epochs, device, run_dir, scheduler, args.resume, precision=precision)
        history = train(model, train_loader, val_loader, fit, label_smoothing=0.1, test_loader=test_loader)
        m = headline(model, history, test_loader, device)
        helper.finish_run(run_dir, history, "CIFAR-10 CNN", parameters=params, **m, **sizes)
    print(
        f"{run_dir}: test accuracy {m['test_acc']:.4f} (weights of epoch {m['best_epoch']}, chosen on validation); "
        f"test-selected (course protocol, optimistic) {m['test_selected_test_acc']:.4f}"
    )
