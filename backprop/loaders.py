"""Data for the three tasks: MNIST (torchvision) and grey-scale natural images.

Natural images come from any folder of image files (PNG, JPEG, TIFF, BMP; colour is
converted to grey) or, with no folder given, from the photographs that ship inside
scikit-image, so every command runs offline. Every image is a float32 ``(H, W)``
tensor in ``[0, 1]``. Loading problems raise :class:`common.cli.DataError` with a
one-line message that ``main.py`` prints as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.checks import check_images, check_not_empty
from common.cli import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm"}

# scikit-image's bundled photographs (no download needed), split once and for all.
SKIMAGE_SPLITS = {
    "train": ["brick", "grass", "gravel", "coins", "moon", "text", "page", "coffee", "rocket", "cat", "clock"],
    "val": ["chelsea", "immunohistochemistry"],
    "test": ["camera", "astronaut"],
}


@dataclass
class ImageSplits:
    """Train / validation / test grey images and a description of where they came from."""

    train: list[torch.Tensor]
    val: list[torch.Tensor]
    test: list[torch.Tensor]
    source: dict


def load_image(path: Path) -> torch.Tensor:
    """One image file as a float32 ``(H, W)`` grey tensor in ``[0, 1]``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.mode in ("F", "I", "I;16"):  # float or 16/32-bit files: NaN or infinite pixels are an error
                check_images(np.asarray(im), path)
            grey = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as err:
        raise DataError(f"cannot read image {path}: {err}") from err
    return torch.from_numpy(grey)


def load_image_folder(folder: str | Path, min_size: int = 1) -> tuple[list[torch.Tensor], list[str]]:
    """All images in ``folder`` (sorted by name, not recursive) and their file names.

    Images smaller than ``min_size`` on either side are an error: patches could not be cut from them.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(
            f"image folder {folder} does not exist; give a folder of grey-scale images "
            f"(e.g. Train400 / BSD68 / Set12 PNGs from the DnCNN repository)"
        )
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    images = [load_image(p) for p in files]
    for p, im in zip(files, images):
        if min(im.shape) < min_size:
            raise DataError(f"image {p} is {tuple(im.shape)}, smaller than the {min_size}x{min_size} needed")
    return images, [p.name for p in files]


def skimage_images(names: list[str]) -> list[torch.Tensor]:
    """scikit-image's bundled images by name, converted to grey ``(H, W)`` float32 in ``[0, 1]``."""
    import skimage.data
    from skimage.color import rgb2gray
    from skimage.util import img_as_float32

    out = []
    for name in names:
        im = getattr(skimage.data, name)()
        im = rgb2gray(im) if im.ndim == 3 else im
        out.append(torch.from_numpy(np.ascontiguousarray(img_as_float32(im))))
    return out


def load_natural_images(
    data_dir: str | None, test_dir: str | None, val_count: int, seed: int, min_size: int
) -> ImageSplits:
    """Training, validation and test images.

    ``data_dir`` is a folder of training images; ``val_count`` of them (a seeded
    random choice) are held out for validation. ``test_dir`` is a folder of test
    images, never used for choosing anything. Without ``data_dir`` the scikit-image
    photographs are used with the fixed split in :data:`SKIMAGE_SPLITS`.
    """
    if data_dir is None:
        if test_dir is not None:
            raise DataError("--test-dir needs --data-dir (the training images) as well")
        splits = {k: skimage_images(v) for k, v in SKIMAGE_SPLITS.items()}
        source = {
            "name": "scikit-image bundled photographs (offline fallback, not a benchmark set)",
            **{f"{k}_images": v for k, v in SKIMAGE_SPLITS.items()},
        }
        return ImageSplits(splits["train"], splits["val"], splits["test"], source)
    if test_dir is None:
        raise DataError(
            "--data-dir needs --test-dir (held-out test images), e.g. "
            "--data-dir images/Train400 --test-dir images/BSD68"
        )
    images, names = load_image_folder(data_dir, min_size)
    if len(images) <= val_count:
        raise DataError(f"{data_dir} has {len(images)} images; need more than --val-count={val_count}")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed)).tolist()
    val_idx = sorted(order[:val_count])
    train_idx = sorted(order[val_count:])
    test, test_names = load_image_folder(test_dir)
    source = {
        "name": "image folders",
        "train_dir": str(Path(data_dir).resolve()),
        "test_dir": str(Path(test_dir).resolve()),
        "n_train": len(train_idx),
        "n_val": len(val_idx),
        "n_test": len(test),
        "val_images": [names[i] for i in val_idx],
        "test_images": test_names,
    }
    return ImageSplits([images[i] for i in train_idx], [images[i] for i in val_idx], test, source)


def random_patches(
    images: list[torch.Tensor],
    batch: int,
    size: int,
    generator: torch.Generator,
    stacks: list[list[torch.Tensor]] | None = None,
) -> list[torch.Tensor]:
    """A batch of random ``size x size`` crops with random flips and 90-degree turns.

    Returns ``[crops]`` of shape ``(batch, 1, size, size)``. ``stacks`` are further
    image lists aligned with ``images`` (each entry ``(..., H, W)`` with the same
    ``H, W``); the same crop is cut from them and appended to the returned list,
    keeping their leading dimensions: ``(batch, ..., size, size)``.
    """
    lists = [images] + (stacks or [])
    picks = torch.randint(len(images), (batch,), generator=generator).tolist()
    out: list[list[torch.Tensor]] = [[] for _ in lists]
    for i in picks:
        h, w = images[i].shape[-2:]
        top = int(torch.randint(h - size + 1, (1,), generator=generator))
        left = int(torch.randint(w - size + 1, (1,), generator=generator))
        turns = int(torch.randint(4, (1,), generator=generator))
        flip = bool(torch.randint(2, (1,), generator=generator))
        for j, lst in enumerate(lists):
            crop = lst[i][..., top : top + size, left : left + size]
            crop = torch.rot90(crop, turns, dims=(-2, -1))
            out[j].append(crop.flip(-1) if flip else crop)
    first = torch.stack(out[0]).unsqueeze(1)
    return [first] + [torch.stack(o) for o in out[1:]]


MNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def load_mnist(root: str | Path, train: bool, download: bool = False) -> torch.Tensor:
    """MNIST digits as float32 ``(N, 28, 28)`` in ``[0, 1]`` from torchvision's layout ``root/MNIST/raw/``.

    With ``download=True`` torchvision fetches missing files into the existing folder ``root`` (needs internet).
    """
    from torchvision.datasets import MNIST

    raw = Path(root) / "MNIST" / "raw"
    if download and not Path(root).is_dir():
        raise DataError(
            f"--data-dir {root} does not exist; create it (MNIST is downloaded into it) or point "
            f"--data-dir at the folder holding MNIST/raw"
        )
    missing = [f for f in MNIST_FILES if not (raw / f).is_file()]
    if missing and not download:
        raise DataError(
            f"MNIST not found: {raw} lacks {', '.join(missing)} (torchvision's raw idx files; "
            f"point --data-dir at the folder holding MNIST/raw, or add --download when online)"
        )
    try:
        ds = MNIST(str(root), train=train, download=download)
    except Exception as err:  # torchvision raises RuntimeError, URLError, AssertionError... for bad or absent files
        raise DataError(f"MNIST under {raw} could not be loaded: {type(err).__name__}: {err}") from err
    check_not_empty(len(ds.data), raw / ("train-images-idx3-ubyte" if train else "t10k-images-idx3-ubyte"), "digits")
    check_images(ds.data, raw, dtypes=("uint8",), ndim=3)
    return ds.data.float() / 255.0
