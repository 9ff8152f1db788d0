"""Real MR magnitude images from a folder of numbered image files (PNG, TIFF or JPEG, grey).

Layout: ``DIR/1.png, DIR/2.png, ...`` or the same inside ``DIR/images/`` (for example the PNG
copy of the Figshare brain-tumour set, ``brain_tumor/images/N.png``). Colour files are
converted to grey; 8- and 16-bit and float images are read as they are. Each image is
zero-padded to a square, resampled to ``resolution x resolution`` and scaled to a maximum
of 1 exactly like a template slice (:func:`mri_cs.data.transforms.square_images`); its
k-space is the centred FFT.

The split: there are no patient ids, but one patient's slices are consecutive files. So
the files, in numeric order (``2.png`` before ``10.png``), are cut into 10 contiguous
blocks and whole blocks go to train (7), validation (1) and test (2), as the template's
slabs do (which block plays which role is chosen with ``--seed``); a guard of a few files
is dropped at every border between two splits, so the patient who straddles a border
loses the slices next to it. Never a random split of files: the neighbouring slices of one
patient would sit in train and test.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from common.checks import check_images
from common.cli import DataError
from mri_cs.data.mni152 import slab_split
from mri_cs.data.slices import MagnitudeSlices, contiguous_runs
from mri_cs.data.transforms import square_images

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
GUARD = 4  # files dropped on each side of a border between two splits (fewer in folders under 160 files)
MIN_FILES = 30  # 10 blocks, each must keep a file after its guards


def natural_key(path: Path) -> list:
    """Sort key that orders the numbers inside file names by value: ``2.png`` before ``10.png``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def image_files(folder: Path) -> list[Path]:
    """The image files directly inside ``folder``, in numeric order."""
    files = (
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )
    return sorted(files, key=natural_key)


def read_image(path: Path) -> np.ndarray:
    """One image as a float32 array ``(H, W)``; colour is converted to grey.
    A file that does not decode is a DataError."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "I", "I;16", "I;16B", "I;16L", "F"):
                img = img.convert("L")
            array = np.array(img).astype(np.float32)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"{path} is not a readable image ({e}); replace the file or remove it") from None
    if array.ndim != 2 or min(array.shape) < 2:
        raise DataError(f"{path}: expected a grey 2-D image, got an array of shape {array.shape}")
    check_images(array, path)  # NaN or infinite pixels: one line naming the file
    return array


def guard_size(n_files: int) -> int:
    """:data:`GUARD`, smaller for small folders so that every block keeps files (1 below 80 files)."""
    return max(1, min(GUARD, n_files // 40))


def block_split(n_files: int, seed: int, guard: int) -> dict[str, np.ndarray]:
    """Indices (into the numerically sorted files) of train/val/test: 10 contiguous blocks, 7/1/2, ``guard``
    files dropped on each side of a border between two splits; the blocks' roles are drawn with ``seed``."""
    return slab_split(np.arange(n_files), np.random.default_rng(seed), guard=guard)


def file_ranges(indices: np.ndarray, files: list[Path]) -> list[list]:
    """The contiguous runs of sorted ``indices`` as ``[first file, last file, count]``."""
    if len(indices) == 0:
        return []
    runs = np.split(indices, np.flatnonzero(np.diff(indices) != 1) + 1)
    return [[files[r[0]].name, files[r[-1]].name, len(r)] for r in runs]


def load_images(files: list[Path], resolution: int) -> tuple[torch.Tensor, list[str]]:
    """Normalised magnitude images ``(N, R, R)`` of ``files`` and the names of blank files (all zero),
    which are left out."""
    images, blank = [], []
    for path in files:
        array = read_image(path)
        if array.max() <= 0:
            blank.append(path.name)
            continue
        images.append(square_images(torch.from_numpy(np.clip(array, 0, None))[None], resolution)[0, ..., 0])
    return (torch.stack(images) if images else torch.zeros(0, resolution, resolution)), blank


def build_image_folder(folder: str | Path, resolution: int, seed: int) -> tuple[dict[str, MagnitudeSlices], dict]:
    """Train/val/test datasets of an image folder, split by contiguous blocks of files, and their description."""
    folder = Path(folder)
    files = image_files(folder)
    if len(files) < MIN_FILES:
        raise DataError(
            f"{folder} holds {len(files)} image files ({', '.join(IMAGE_SUFFIXES)}); need at least "
            f"{MIN_FILES} for a split into contiguous blocks"
        )
    guard = guard_size(len(files))
    split = block_split(len(files), seed, guard)
    datasets, blank = {}, []
    for name, idx in split.items():
        images, empty = load_images([files[i] for i in idx], resolution)
        if len(images) == 0:
            raise DataError(f"the {name} split of {folder} holds no usable (non-blank) image")
        kept = [files[i].name not in set(empty) for i in idx]
        datasets[name], blank = MagnitudeSlices(images, contiguous_runs(idx)[kept]), blank + empty
    used = set(np.concatenate(list(split.values())).tolist())
    info = {
        "dataset": f"MR magnitude images, {folder.parent.name}/{folder.name}",
        "layout": "image folder",
        "source": str(folder),
        "n_files": len(files),
        "resolution": resolution,
        "split": (
            f"contiguous blocks of files in numeric order (10 blocks: 7 train, 1 val, 2 test, chosen with --seed); "
            f"{guard} files dropped on each side of every border between two splits"
        ),
        "guard": guard,
        "per_volume_psnr": "each contiguous block of files counts as one volume (the files carry no patient ids)",
        "file_ranges": {name: file_ranges(idx, files) for name, idx in split.items()},
        "guard_files": [files[i].name for i in range(len(files)) if i not in used],
        "blank_files_dropped": blank,
        "sizes": {name: len(d) for name, d in datasets.items()},
    }
    return datasets, info
