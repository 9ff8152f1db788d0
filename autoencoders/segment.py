"""Part 2: brain-tumour segmentation with the soft Dice loss (``python main.py segment``).

Real data: the Figshare brain-tumour ``.mat`` files (``--data-dir``). Offline demo:
``--synthetic N`` real MNI152 slices with SYNTHETIC lesions drawn in (run folder
``segment_synthetic``); it shows that the pipeline works, not how well it segments tumours.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from autoencoders import datasets, helper, models, plots
from common.cli import DataError
from common.runs import save_npz


def train_one_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer, device: torch.device,
                    desc: str = "train") -> float:  # fmt: skip
    """One pass over ``loader`` with :func:`helper.dice_loss` on ``sigmoid(logits)``; returns the mean loss."""
    model.train()
    total, count = 0.0, 0
    for x, t in helper.bar(loader, desc):
        x, t = x.to(device), t.to(device)
        loss = helper.dice_loss(torch.sigmoid(model(x)), t)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total, count = total + loss.item() * len(x), count + len(x)
    return total / max(count, 1)


def keep_samples(model: nn.Module, sample_images: torch.Tensor, device: torch.device, path: Path) -> None:
    """The predicted probabilities for the fixed sample slices, as ``probs`` in ``path`` (.npz)."""
    model.eval()
    with torch.no_grad():
        probs = torch.sigmoid(model(sample_images.to(device))).cpu().numpy()
    save_npz(path, probs=probs.astype(np.float16))


def train(model: nn.Module, train_loader: Iterable, test_loader: Iterable, optimizer: torch.optim.Optimizer, epochs: int,
          device: torch.device, run_dir: str | Path, sample_images: torch.Tensor, sample_every: int = 2,
          resume: bool = False) -> dict[str, list[float]]:  # fmt: skip
    """Train for ``epochs`` epochs; returns the histories ``{"train_loss", "test_loss", "test_dice",
    "test_iou", "epoch_seconds"}``. Every ``sample_every`` epochs (and after the last) the predictions
    for ``sample_images`` ``(S, 1, H, W)`` go to ``run_dir/samples/epoch_XXX.npz``; ``best.pth``
    keeps the weights with the best test Dice, ``checkpoint.pt`` the last state (for ``resume``).
    """
    generator = getattr(train_loader, "generator", None)
    history, best, start = helper.load_progress(run_dir, "", model, optimizer, None, generator, resume)
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        loss = train_one_epoch(model, train_loader, optimizer, device, f"segment {epoch + 1}/{epochs}")
        seconds = time.perf_counter() - t0
        helper.append(history, train_loss=loss, **helper.evaluate_segmentation(model, test_loader, device), epoch_seconds=seconds)
        if (epoch + 1) % sample_every == 0 or epoch + 1 == epochs:
            keep_samples(model, sample_images, device, Path(run_dir) / "samples" / f"epoch_{epoch + 1:03d}.npz")
        best = helper.save_progress(run_dir, "", epoch + 1, model, optimizer, None, generator, history, best, "test_dice", True)
    return history


def load_slices(args: argparse.Namespace) -> tuple[Dataset, str]:
    """The synthetic demo slices or the Figshare files (checked by reading the first), and a description."""
    if args.synthetic:
        n = min(args.synthetic, 16) if args.quick else args.synthetic
        images, masks = datasets.synthetic_lesion_slices(n, size=args.size, seed=args.seed)
        return TensorDataset(images, masks), (f"SYNTHETIC lesions drawn into real MNI152 T1 slices (nilearn), {n} slices; "
                                              "NOT the Figshare brain-tumour dataset")  # fmt: skip
    files = datasets.find_brain_tumour_files(args.data_dir)
    datasets.read_brain_tumour_mat(files[0])  # fail early, with one line, on a wrong format
    full = datasets.BrainTumourSlices(files[:16] if args.quick else files, size=args.size)
    return full, f"Figshare brain-tumour .mat files in {args.data_dir} ({len(full)} slices)"


def one_line(error: DataError) -> DataError:
    """A DataError raised in a loader worker arrives with the worker's traceback in its message: keep the last line."""
    last = str(error).strip().splitlines()[-1] if str(error).strip() else "unreadable data"
    return DataError(last.split("DataError: ", 1)[-1])


def run(args: argparse.Namespace, device: torch.device) -> None:
    full, source = load_slices(args)
    train_idx, test_idx = datasets.split_indices(len(full), 0.2, args.seed)
    g = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(Subset(full, train_idx), args.batch_size, shuffle=True, num_workers=args.workers, generator=g)
    test_loader = DataLoader(Subset(full, test_idx), args.batch_size, num_workers=args.workers)
    sample_images, sample_masks = map(torch.stack, zip(*[full[i] for i in test_idx[:4]]))
    model = models.SegmentationNet().to(device)
    params = models.count_parameters(model)
    print(f"SegmentationNet: {params:,} parameters; {len(train_idx)} train / {len(test_idx)} test slices; data: {source}")
    with helper.open_run(args, device, source, parameters=params, train_slices=len(train_idx), test_slices=len(test_idx)) as run_dir:
        save_npz(run_dir / "samples_inputs.npz", images=sample_images.numpy(), masks=sample_masks.numpy())
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        try:
            history = train(model, train_loader, test_loader, optimizer, args.epochs, device, run_dir, sample_images,
                            sample_every=args.sample_every, resume=args.resume)  # fmt: skip
        except DataError as e:
            raise one_line(e) from None
        best = int(np.argmax(history["test_dice"]))
        helper.finish_run(run_dir, history, "segmentation", dataset=source, parameters=params, best_epoch=best + 1,
                          best_test_dice=history["test_dice"][best], best_test_iou=history["test_iou"][best],
                          final_test_dice=history["test_dice"][-1], final_test_iou=history["test_iou"][-1],
                          train_seconds=sum(history["epoch_seconds"]))  # fmt: skip
        preds = {int(p.stem.split("_")[1]): np.load(p)["probs"].astype(np.float32) for p in sorted((run_dir / "samples").glob("epoch_*.npz"))}
        title = "SYNTHETIC lesions in MNI152 slices" if args.synthetic else "brain-tumour test slices"
        plots.save(plots.segmentation_samples_figure(sample_images.numpy(), sample_masks.numpy(), preds, title), run_dir / "samples.png")
    print(f"{run_dir}: final test Dice {history['test_dice'][-1]:.4f}, IoU {history['test_iou'][-1]:.4f} "
          f"(best Dice {history['test_dice'][best]:.4f} at epoch {best + 1})" + (" on SYNTHETIC lesions" if args.synthetic else ""))
