"""Fashion-MNIST loading for auto-decoders, and the t-SNE plot of a latent space.

An auto-decoder has no encoder, so the training loop needs to know *which* image
it is looking at in order to fetch (and update) that image's own latent vector.
The dataset therefore yields ``(index, image)`` pairs; labels are kept on the
dataset (``dataset.labels``) for the plots and never enter training.

Two on-disk formats are read:

* torchvision's raw layout, ``<data_dir>/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``
  (what ``torchvision.datasets.FashionMNIST(root=data_dir, download=True)`` writes);
* the CSV files the course handed out, ``<data_dir>/fashion-mnist_train.csv`` and
  ``<data_dir>/fashion-mnist_test.csv``: a header line, then one image per row,
  ``label, pixel1, ..., pixel784`` (the Kaggle "zalando-research/fashionmnist" files).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import NamedTuple

# No matplotlib.use() here: a notebook importing this module keeps its inline backend, and
# matplotlib picks the headless Agg backend by itself when there is no display.
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.manifold import TSNE
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import FashionMNIST

from auto_decoder import CLASS_NAMES
from common.checks import check_images, check_labels, check_not_empty
from common.cli import DataError, RunError  # DataError is also imported from here
from common.runs import pick_device, save_figure, seed_everything

CSV_FILES = {"train": "fashion-mnist_train.csv", "test": "fashion-mnist_test.csv"}
IMAGE_SIZE = 28


class IndexedImages(Dataset):
    """Grey-scale images addressed by position: item ``i`` is ``(i, image_i)``.

    Args:
        images: ``(N, 28, 28)`` uint8 pixels in 0..255.
        labels: ``(N,)`` class indices (only for plots and sample scoring).
        source: a human-readable description of where the images came from.

    Items are ``(index: int, image: float tensor (1, 28, 28) in [0, 1])``.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, source: str = "") -> None:
        if images.ndim != 3 or tuple(images.shape[1:]) != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"images must be (N, {IMAGE_SIZE}, {IMAGE_SIZE}), got {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must be ({images.shape[0]},), got {tuple(labels.shape)}")
        self.images = images.to(torch.uint8)
        self.labels = labels.long()
        self.source = source

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor]:
        return index, self.images[index].unsqueeze(0).float() / 255.0

    def batch(self, indices: torch.Tensor | list[int]) -> torch.Tensor:
        """Images at ``indices`` as one ``(B, 1, 28, 28)`` float tensor in [0, 1]."""
        return self.images[torch.as_tensor(indices, dtype=torch.long)].unsqueeze(1).float() / 255.0


def _read_csv(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    except ValueError as err:
        raise DataError(f"{path} is not a Fashion-MNIST CSV (label, 784 pixels per row): {err}") from err
    check_not_empty(len(table), path, "image rows")
    if table.shape[1] != 1 + IMAGE_SIZE * IMAGE_SIZE:
        raise DataError(f"{path} has {table.shape[1]} columns, expected 785 (label then 784 pixels)")
    check_labels(table[:, 0], len(CLASS_NAMES), path)
    check_images(table[:, 1:], path, value_range=(0, 255))
    images = torch.from_numpy(table[:, 1:].reshape(-1, IMAGE_SIZE, IMAGE_SIZE).astype(np.uint8))
    return images, torch.from_numpy(table[:, 0])


def _torchvision_root(data_dir: Path) -> Path | None:
    """The ``root`` torchvision wants (the folder holding ``FashionMNIST/raw``), accepting
    ``data_dir`` pointing at that root, at ``FashionMNIST/`` or at ``FashionMNIST/raw/``."""
    for root in (data_dir, data_dir.parent, data_dir.parent.parent):
        if (root / "FashionMNIST" / "raw").is_dir():
            return root
    return None


def load_fashion_mnist(data_dir: str | Path, download: bool = False) -> tuple[IndexedImages, IndexedImages]:
    """Read the train and test splits from ``data_dir``; returns ``(train, test)``.

    The course CSVs win when both formats are present. ``download=True`` lets torchvision
    fetch the raw files into ``data_dir`` when they are missing (needs internet).
    """
    data_dir = Path(data_dir).expanduser()
    csvs = {split: data_dir / name for split, name in CSV_FILES.items()}
    if all(p.is_file() for p in csvs.values()):
        splits = {split: IndexedImages(*_read_csv(p), source=f"course CSV {p}") for split, p in csvs.items()}
        return splits["train"], splits["test"]
    root = _torchvision_root(data_dir)
    if root is None and download:
        root = data_dir
    if root is None:
        raise DataError(
            f"no Fashion-MNIST under {data_dir}: expected either {data_dir}/FashionMNIST/raw/"
            "{train,t10k}-{images-idx3,labels-idx1}-ubyte (torchvision layout; add --download to fetch it) "
            f"or {data_dir}/{CSV_FILES['train']} and {CSV_FILES['test']} "
            "(the course CSVs, Kaggle zalando-research/fashionmnist)"
        )
    missing = _first_missing(data_dir) if download else None
    splits = {}
    for split in ("train", "test"):
        try:
            tv = FashionMNIST(str(root), train=split == "train", download=download)
        except (RuntimeError, ValueError, OSError) as err:  # torchvision reports missing/corrupt files this way
            if missing is not None:  # a failed download leaves no folder behind that was not there before
                shutil.rmtree(missing, ignore_errors=True)
            raise DataError(f"cannot read Fashion-MNIST ({split}) from {root}/FashionMNIST/raw: {err}") from err
        labels_file = (
            Path(root) / "FashionMNIST" / "raw" / f"{'train' if split == 'train' else 't10k'}-labels-idx1-ubyte"
        )
        check_not_empty(len(tv.data), labels_file.with_name(labels_file.name.replace("labels-idx1", "images-idx3")))
        check_labels(tv.targets, len(CLASS_NAMES), labels_file, n_items=len(tv.data))
        splits[split] = IndexedImages(tv.data, tv.targets, source=f"torchvision raw {root}/FashionMNIST/raw ({split})")
    return splits["train"], splits["test"]


def _first_missing(folder: Path) -> Path | None:
    """The outermost folder of ``folder``'s path that does not exist yet (None if ``folder`` exists)."""
    if folder.exists():
        return None
    while not folder.parent.exists():
        folder = folder.parent
    return folder


def take_first(dataset: IndexedImages, n: int | None) -> IndexedImages:
    """The first ``n`` images (all of them when ``n`` is None or 0), re-indexed from 0."""
    if not n or n >= len(dataset):
        return dataset
    if n < 0:
        raise ValueError(f"subset size must be positive, got {n}")
    return IndexedImages(dataset.images[:n], dataset.labels[:n], source=f"{dataset.source}, first {n}")


def create_dataloaders(
    data_dir: str | Path,
    batch_size: int = 64,
    subset: int | None = None,
    seed: int = 0,
    download: bool = False,
    num_workers: int = 0,
) -> tuple[IndexedImages, DataLoader, IndexedImages, DataLoader]:
    """Fashion-MNIST train/test datasets and loaders yielding ``(index (B,), images (B, 1, 28, 28))``.

    Args:
        data_dir: folder with the torchvision raw layout or the course CSVs (see module docstring).
        batch_size: images per batch.
        subset: keep the first ``subset`` images of *each* split (the course used 1,000); None or 0 keeps all.
        seed: seeds the training loader's shuffling so runs repeat.

    Returns:
        ``(train_ds, train_dl, test_ds, test_dl)``; the test loader is not shuffled, and
        ``train_ds.source`` says which files (and format) were read.
    """
    train_full, test_full = load_fashion_mnist(data_dir, download=download)
    train_ds, test_ds = take_first(train_full, subset), take_first(test_full, subset)
    train_dl, test_dl = make_loaders(train_ds, test_ds, batch_size, seed, num_workers)
    return train_ds, train_dl, test_ds, test_dl


def make_loaders(
    train_ds: IndexedImages, test_ds: IndexedImages, batch_size: int, seed: int, num_workers: int = 0
) -> tuple[DataLoader, DataLoader]:
    """A training loader shuffled by a generator seeded with ``seed`` (runs repeat) and an ordered test loader."""
    generator = torch.Generator().manual_seed(seed)
    train_dl = DataLoader(train_ds, batch_size=batch_size, shuffle=True, generator=generator, num_workers=num_workers)
    return train_dl, DataLoader(test_ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)


class RunData(NamedTuple):
    """The data of a run: the training images (and their shuffled loader), the held-out validation
    images (None without ``val_size``) and the test images (and their ordered loader)."""

    train: IndexedImages
    train_dl: DataLoader
    val: IndexedImages | None
    test: IndexedImages
    test_dl: DataLoader


def hold_out(dataset: IndexedImages, n: int, seed: int) -> tuple[IndexedImages, IndexedImages]:
    """``(rest, held_out)``: ``n`` images drawn at random (fixed by ``seed``) set aside; both keep their order
    and are re-indexed from 0."""
    if not 0 < n < len(dataset):
        raise DataError(
            f"cannot hold out {n} of {len(dataset)} training images for validation: keep at least one for each part"
        )
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    parts = []
    for idx, what in ((order[n:].sort().values, "training part"), (order[:n].sort().values, f"{n} held out")):
        parts.append(IndexedImages(dataset.images[idx], dataset.labels[idx], source=f"{dataset.source}, {what}"))
    return parts[0], parts[1]


def in_order(dataset: IndexedImages, batch_size: int = 2000):
    """``(indices (B,), images (B, 1, 28, 28))`` batches of ``dataset`` in order, without a DataLoader: starting
    a DataLoader draws from the global random generator, and these extra passes must not change training."""
    for idx in torch.arange(len(dataset)).split(batch_size):
        yield idx, dataset.batch(idx)


def run_device(args: argparse.Namespace) -> torch.device:
    """``--device`` as a torch.device; one this machine lacks is a :class:`RunError` (one line)."""
    try:
        return pick_device(args.device)
    except ValueError as err:
        raise RunError(str(err)) from None


def load_run_data(args: argparse.Namespace, device: torch.device, val_size: int | float = 0) -> tuple[RunData, dict]:
    """Seed, then read and check the run's images; writes nothing.

    ``val_size`` training images (a float in (0, 1): that fraction of them) are held out for
    validation, drawn with the seed. Returns ``(data, dataset)``, ``dataset`` the record of the
    images read that ``config.json`` keeps.
    """
    seed_everything(args.seed)
    train_full, test_full = load_fashion_mnist(args.data_dir, download=args.download)
    train_ds, test_ds = take_first(train_full, args.subset), take_first(test_full, args.subset)
    val_ds = None
    if val_size:
        n_val = val_size if isinstance(val_size, int) else max(1, round(val_size * len(train_ds)))
        train_ds, val_ds = hold_out(train_ds, n_val, args.seed)
    train_dl, test_dl = make_loaders(train_ds, test_ds, args.batch_size, args.seed)
    dataset = {
        "train": train_ds.source,
        "test": test_ds.source,
        "train_size": len(train_ds),
        "val_size": len(val_ds) if val_ds else 0,
        "test_size": len(test_ds),
    }
    held = f" (+{len(val_ds)} held out for validation)" if val_ds else ""
    print(
        f"run folder {Path(args.results_root) / args.name} | device {device} | "
        f"train {len(train_ds)}{held} / test {len(test_ds)} images from {train_full.source}"
    )
    return RunData(train_ds, train_dl, val_ds, test_ds, test_dl), dataset


def plot_tsne(
    groups: dict[str, tuple[torch.Tensor, torch.Tensor]],
    path: str | Path,
    title: str = "",
    seed: int = 0,
) -> None:
    """Embed latent vectors in 2-D with scikit-learn's t-SNE and save one scatter per group.

    Args:
        groups: panel title -> ``(latents (N, D), labels (N,))``, e.g. ``{"train": ..., "test": ...}``.
        path: where to save the png.
    """
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 5.5), squeeze=False)
    for ax, (name, (z, labels)) in zip(axes[0], groups.items()):
        z = torch.as_tensor(z).detach().cpu().double().numpy()
        if z.ndim != 2:
            raise ValueError(f"latents must be (N, D), got {z.shape}")
        perplexity = min(30.0, (len(z) - 1) / 3)  # t-SNE needs perplexity < N
        xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(z)
        labels = torch.as_tensor(labels).cpu().numpy()
        for c, cname in enumerate(CLASS_NAMES):
            m = labels == c
            if m.any():
                ax.scatter(xy[m, 0], xy[m, 1], s=6, color=plt.cm.tab10(c), label=cname)
        ax.set_title(f"{name} latents ({len(z)} points)")
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, -1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=3, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def save_image_grid(rows: dict[str, torch.Tensor], path: str | Path, title: str = "") -> None:
    """Save images as a grid, one labelled row per entry of ``rows`` (each ``(K, 1, 28, 28)``);
    an all-NaN image leaves its cell empty."""
    ncols = max(len(v) for v in rows.values())
    fig, axes = plt.subplots(len(rows), ncols, figsize=(1.3 * ncols + 1.2, 1.4 * len(rows) + 0.4), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"row {name!r} must be (K, 1, H, W), got {tuple(images.shape)}")
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images) and not images[c].isnan().all():
                ax.imshow(images[c, 0].detach().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
