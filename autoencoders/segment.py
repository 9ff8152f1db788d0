"""Part 2: brain-tumour segmentation with the soft Dice loss (``python main.py segment``).

Real data (``--data-dir``): the Figshare brain-tumour set, as its original ``.mat`` files or as the
PNG conversion (``images/N.png``, ``masks/N.png``, ``labels.csv``). The split is by contiguous
blocks of file numbers per tumour type (:func:`autoencoders.datasets.block_split`), so one
patient's consecutive slices stay together; validation Dice chooses the kept weights and the test
split is scored once, with them, overall and per tumour type. Offline demo: ``--synthetic N`` real
MNI152 slices with SYNTHETIC lesions drawn in (run folder ``segment_synthetic``); it shows that the
pipeline works, not how well it segments tumours.

``--augment`` flips, rotates, scales and brightens the training slices on the fly
(:class:`autoencoders.datasets.AugmentedSlices`); ``--init-from RUN/best.pth`` starts from the weights of
an earlier run (fine-tuning it, with a fresh optimiser), and the config records both.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from autoencoders import datasets, helper, models, plots
from common.checkpoint import load_progress, save_progress
from common.cli import DataError
from common.guard import DivergenceGuard
from common.runs import load_checkpoint, save_checkpoint, save_npz

CASES = 3  # the test figure shows the best and the worst CASES test slices
LR_PATIENCE = 2  # epochs without a better validation Dice before the learning rate halves


def train_one_epoch(
    model: nn.Module,
    loader: Iterable,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    desc: str = "train",
    guard: DivergenceGuard | None = None,
) -> float:
    """One pass over ``loader`` with :func:`helper.dice_loss` on ``sigmoid(logits)``; returns the mean loss.
    ``guard`` stops a diverged run (:class:`common.cli.Diverged`)."""
    model.train()
    total, count = 0.0, 0
    for x, t in helper.bar(loader, desc):
        x, t = x.to(device), t.to(device)
        loss = helper.dice_loss(torch.sigmoid(model(x)), t)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total, count = total + (guard.check(loss) if guard is not None else loss.item()) * len(x), count + len(x)
    return total / max(count, 1)


def keep_samples(model: nn.Module, sample_images: torch.Tensor, device: torch.device, path: Path) -> None:
    """The predicted probabilities for the fixed sample slices, as ``probs`` in ``path`` (.npz)."""
    model.eval()
    with torch.no_grad():
        probs = torch.sigmoid(model(sample_images.to(device))).cpu().numpy()
    save_npz(path, probs=probs.astype(np.float16))


def train(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable,
    fit: helper.Fit,
    sample_images: torch.Tensor,
    sample_every: int = 2,
) -> dict[str, list[float]]:
    """Train for ``fit.epochs`` epochs; returns the histories ``{"train_loss", "val_loss", "val_dice",
    "val_iou", "epoch_seconds"}``. Every ``sample_every`` epochs (and after the last) the predictions
    for ``sample_images`` ``(S, 1, H, W)`` go to ``run_dir/samples/epoch_XXX.npz``; ``best.pth``
    keeps the weights with the best validation Dice, ``checkpoint.pt`` the last state (for ``fit.resume``).

    The learning rate halves after :data:`LR_PATIENCE` epochs in a row without a better validation Dice:
    at a constant rate the validation Dice of the real set stalls and swings by a few points from epoch
    to epoch while the training loss keeps falling, and smaller steps let it settle.
    """
    run_dir, device, optimizer = Path(fit.run_dir), fit.device, fit.optimizer
    ckpt_path, generator = run_dir / "checkpoint.pt", getattr(train_loader, "generator", None)
    generators = {"loader": generator} if generator is not None else None
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=LR_PATIENCE - 1)
    progress = load_progress(ckpt_path, model, optimizer, scheduler, generators, resume=fit.resume)
    history = progress.extra.setdefault("history", {})
    guard = DivergenceGuard(type(model).__name__)
    for epoch in range(progress.step, fit.epochs):
        t0 = time.perf_counter()
        loss = train_one_epoch(model, train_loader, optimizer, device, f"segment {epoch + 1}/{fit.epochs}", guard)
        seconds = time.perf_counter() - t0
        scores = helper.evaluate_segmentation(model, val_loader, device, "val")
        helper.record_epoch(history, run_dir, "", epoch + 1, train_loss=loss, **scores, epoch_seconds=seconds)
        scheduler.step(history["val_dice"][-1])
        if (epoch + 1) % sample_every == 0 or epoch + 1 == fit.epochs:
            keep_samples(model, sample_images, device, run_dir / "samples" / f"epoch_{epoch + 1:03d}.npz")
        if progress.improves(history["val_dice"][-1]):
            progress.keep_best(model, history["val_dice"][-1], epoch + 1)
            save_checkpoint(run_dir / "best.pth", model.state_dict())
        progress.step = epoch + 1
        helper.report_epoch(epoch + 1, "", history)
        save_progress(ckpt_path, progress, model, optimizer, scheduler, generators)
    model.load_state_dict(progress.best_model)
    return history


def load_slices(args: argparse.Namespace) -> tuple[Dataset, list[datasets.TumourSlice], str]:
    """The dataset, its slices (file number and tumour type) and a description: the synthetic demo
    slices, or the brain-tumour files (checked by reading the first)."""
    if args.synthetic:
        n = min(args.synthetic, 40) if args.quick else args.synthetic
        images, masks = datasets.synthetic_lesion_slices(n, size=args.size, seed=args.seed)
        slices = [datasets.TumourSlice(i + 1, Path("synthetic"), Path("synthetic")) for i in range(n)]
        return (
            TensorDataset(images, masks),
            slices,
            (
                f"SYNTHETIC lesions drawn into real MNI152 T1 slices (nilearn), {n} slices; "
                "NOT the Figshare brain-tumour dataset"
            ),
        )
    slices, source = datasets.find_brain_tumour_slices(args.data_dir)
    full = datasets.BrainTumourSlices(slices, size=args.size)
    full[0]  # fail early, with one line, on a wrong format
    return full, slices, source


def make_split(args: argparse.Namespace, slices: list[datasets.TumourSlice]) -> tuple[dict[str, list[int]], dict]:
    """The block split (guard 0 for the synthetic slices, which are independent) and its description;
    ``--quick`` keeps the first few slices of each type in each split."""
    guard = 0 if args.synthetic else args.guard
    split = datasets.block_split([s.number for s in slices], [s.label for s in slices], guard)
    if args.quick:
        for name, keep in (("train", 6), ("val", 2), ("test", 2)):
            split[name] = [
                i
                for label in sorted({s.label for s in slices})
                for i in [j for j in split[name] if slices[j].label == label][:keep]
            ]
    described = datasets.describe_split(slices, split, guard)
    for name in (*datasets.SPLITS, "dropped"):
        per_type = "; ".join(f"{t} {v['slices']} (files {v['files']})" for t, v in described[name]["per_type"].items())
        print(f"{name:>7}: {described[name]['slices']:4d} slices: {per_type or '-'}")
    return split, described


def test_once(
    model: nn.Module, full: Dataset, test_idx: list[int], slices: list, device: torch.device, args: argparse.Namespace
) -> tuple[dict, torch.Tensor]:
    """Score ``model``, holding the validation-selected weights (:func:`train` ends with them), on the test
    split, once: overall and per tumour type Dice and IoU, and the per-slice Dice (in ``test_idx`` order)."""
    loader = DataLoader(Subset(full, test_idx), args.batch_size, num_workers=args.workers)
    scores = helper.segmentation_scores(model, loader, device)
    per_type = helper.per_type_scores(
        scores["dice"], scores["iou"], [slices[i].label for i in test_idx], datasets.TUMOUR_TYPES
    )
    return {
        "test_loss": scores["loss"],
        "test_dice": per_type["overall"]["dice"],
        "test_iou": per_type["overall"]["iou"],
        "test_per_type": per_type,
    }, scores["dice"]


def test_cases_figure(
    model: nn.Module,
    full: Dataset,
    test_idx: list[int],
    dices: torch.Tensor,
    slices: list,
    device: torch.device,
    title: str,
):
    """The best and the worst :data:`CASES` test slices by Dice, with true and predicted outlines."""
    order = torch.argsort(dices, descending=True, stable=True).tolist()
    chosen = order[:CASES] + [i for i in order[-CASES:] if i not in order[:CASES]]
    images, masks = map(torch.stack, zip(*[full[test_idx[i]] for i in chosen]))
    with torch.no_grad():
        preds = torch.sigmoid(model(images.to(device))).cpu().numpy()
    titles = [
        f"{'best' if k < CASES else 'worst'}: {datasets.TUMOUR_TYPES.get(slices[test_idx[i]].label, 'slice')} "
        f"#{slices[test_idx[i]].number}, Dice {float(dices[i]):.2f}"
        for k, i in enumerate(chosen)
    ]
    return plots.contour_cases_figure(images.numpy(), masks.numpy(), preds, titles, title)


def start_from(model: nn.Module, path: str) -> None:
    """Load the weights at ``path`` (a ``best.pth`` of an earlier segment run) into ``model``;
    one line if they do not fit."""
    if not Path(path).is_file():
        raise DataError(f"--init-from {path}: no such file (expected RUN_DIR/best.pth of an earlier segment run)")
    try:
        model.load_state_dict(load_checkpoint(path))
    except Exception as err:  # a truncated file, weights of another network ...
        raise DataError(
            f"--init-from {path}: not the weights of this segmentation network ({type(err).__name__})"
        ) from None


def one_line(error: DataError) -> DataError:
    """A DataError raised in a loader worker arrives with the worker's traceback in its message: keep the last line."""
    last = str(error).strip().splitlines()[-1] if str(error).strip() else "unreadable data"
    return DataError(last.split("DataError: ", 1)[-1])


def write_outputs(
    run_dir: Path,
    history: dict,
    m: dict,
    sample_images: torch.Tensor,
    sample_masks: torch.Tensor,
    figure,
    synthetic: bool,
) -> None:
    helper.finish_run(run_dir, history, "segmentation", **m)
    preds = {
        int(p.stem.split("_")[1]): np.load(p)["probs"].astype(np.float32)
        for p in sorted((run_dir / "samples").glob("epoch_*.npz"))
    }
    title = "SYNTHETIC lesions in MNI152 slices" if synthetic else "brain-tumour validation slices"
    plots.save(
        plots.segmentation_samples_figure(sample_images.numpy(), sample_masks.numpy(), preds, title),
        run_dir / "samples.png",
    )
    plots.save(figure, run_dir / "test_cases.png")


def loaders(args: argparse.Namespace, full: Dataset, split: dict) -> tuple[DataLoader, DataLoader]:
    """The training batches (augmented with ``--augment``, shuffled with the seed) and the validation batches,
    once every slice the run uses has been read, so bad values (NaN pixels, masks that are not binary) stop it
    before training."""
    try:
        for i in sorted({i for name in datasets.SPLITS for i in split[name]}):
            full[i]
    except DataError as e:
        raise one_line(e) from None
    g = torch.Generator().manual_seed(args.seed)
    train_set = Subset(full, split["train"])
    if args.augment:
        train_set = datasets.AugmentedSlices(train_set)
    train_loader = DataLoader(train_set, args.batch_size, shuffle=True, num_workers=args.workers, generator=g)
    return train_loader, DataLoader(Subset(full, split["val"]), args.batch_size, num_workers=args.workers)


def run(args: argparse.Namespace, device: torch.device) -> None:
    full, slices, source = load_slices(args)
    split, described = make_split(args, slices)
    train_loader, val_loader = loaders(args, full, split)
    sample_images, sample_masks = map(torch.stack, zip(*[full[i] for i in split["val"][:4]]))
    model = models.SegmentationNet().to(device)
    if args.init_from:
        start_from(model, args.init_from)
    params = models.count_parameters(model)
    sizes = {f"{name}_slices": len(split[name]) for name in datasets.SPLITS}
    print(
        f"SegmentationNet: {params:,} parameters; {sizes['train_slices']} train / {sizes['val_slices']} validation / "
        f"{sizes['test_slices']} test slices; data: {source}"
    )
    with helper.open_run(args, device, source, parameters=params, split=described, **sizes) as run_dir:
        save_npz(run_dir / "samples_inputs.npz", images=sample_images.numpy(), masks=sample_masks.numpy())
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        fit = helper.Fit(optimizer, args.epochs, device, run_dir, resume=args.resume)
        try:
            history = train(model, train_loader, val_loader, fit, sample_images, sample_every=args.sample_every)
            test, dices = test_once(model, full, split["test"], slices, device, args)
            figure = test_cases_figure(
                model,
                full,
                split["test"],
                dices,
                slices,
                device,
                "SYNTHETIC test slices" if args.synthetic else "brain-tumour test slices",
            )
        except DataError as e:
            raise one_line(e) from None
        best = helper.best_epoch(history, "val_dice", True)
        m = dict(
            dataset=source,
            parameters=params,
            best_epoch=best,
            val_dice=history["val_dice"][best - 1],
            val_iou=history["val_iou"][best - 1],
            final_val_dice=history["val_dice"][-1],
            **test,
            train_seconds=sum(history["epoch_seconds"]),
            **sizes,
        )
        write_outputs(run_dir, history, m, sample_images, sample_masks, figure, bool(args.synthetic))
    for name, v in test["test_per_type"].items():
        print(f"{name:>11}: test Dice {v['dice']:.4f}, IoU {v['iou']:.4f} ({v['slices']} slices)")
    print(
        f"{run_dir}: test Dice {test['test_dice']:.4f}, IoU {test['test_iou']:.4f} (weights of epoch {best}, chosen on "
        f"validation Dice {m['val_dice']:.4f})" + (" on SYNTHETIC lesions" if args.synthetic else "")
    )
