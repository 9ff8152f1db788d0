"""Data loading for every task, in the datasets' real on-disk formats.

Small image sets (CIFAR-10, MNIST, STL-10 labelled) are decoded once into ``uint8``
tensors and served by :class:`TensorBatches`, which augments whole batches in torch:
no per-image PIL work in the training loop, which keeps a 2-core CPU busy with the
network rather than with data loading. The 2.6 GB STL-10 unlabelled split and the
brain-tumour ``.mat`` files are read lazily.

A missing or unreadable dataset raises :class:`common.cli.DataError` with a message that says
which files are expected where; ``main.py`` prints it as one line.
"""

from __future__ import annotations

import csv
import math
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms.functional as TF
from torch.utils.data import Dataset
from tqdm import tqdm

from common.checks import check_images, check_labels, check_mask
from common.cli import DataError  # also reachable as datasets.DataError, as before

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
STL10_MEAN = (0.4467, 0.4398, 0.4066)
STL10_STD = (0.2603, 0.2566, 0.2713)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@contextmanager
def no_stray_folder(data_dir: str | Path) -> Iterator[None]:
    """Around a download attempt: if it fails, a ``data_dir`` that did not exist before is removed again."""
    existed = Path(data_dir).exists()
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(data_dir, ignore_errors=True)
        raise


# ----------------------------------------------------------------- batching
class TensorBatches:
    """Mini-batches from in-memory ``uint8`` images ``(N, C, H, W)`` and labels ``(N,)``.

    Yields ``(x, y)`` with ``x`` float in ``[0, 1]``, or standardised with ``mean``/``std``
    per channel. ``augment`` applies a random crop (``pad`` pixels of reflection padding)
    and a random horizontal flip to every image. ``channels_last`` returns ``x`` in that
    memory format, which oneDNN convolutions on CPU run faster on.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        augment: bool = False,
        pad: int = 4,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
        channels_last: bool = False,
        generator: torch.Generator | None = None,
    ):
        if images.ndim != 4 or images.dtype != torch.uint8:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
        self.images, self.labels = images, labels.long()
        self.batch_size, self.shuffle, self.augment, self.pad = batch_size, shuffle, augment, pad
        c = images.shape[1]
        self.mean = torch.tensor(mean).view(1, c, 1, 1) if mean is not None else None
        self.std = torch.tensor(std).view(1, c, 1, 1) if std is not None else None
        self.channels_last = channels_last
        self.generator = generator

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        padded = F.pad(x, (self.pad,) * 4, mode="reflect")
        dy = torch.randint(0, 2 * self.pad + 1, (b,), generator=self.generator).tolist()
        dx = torch.randint(0, 2 * self.pad + 1, (b,), generator=self.generator).tolist()
        flip = (torch.rand(b, generator=self.generator) < 0.5).tolist()
        out = torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(b)])
        return torch.where(torch.tensor(flip).view(b, 1, 1, 1), out.flip(-1), out)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            x = self.images[idx].float().div_(255)
            if self.augment:
                x = self._augment(x)
            if self.mean is not None:
                x = (x - self.mean) / self.std
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.labels[idx]


def quick_subset(x: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed random subset of ``n`` samples for ``--quick`` (files are often sorted by class)."""
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:n]
    return x[idx], y[idx]


def splits(data: dict, quick: bool, quick_train: int, quick_test: int) -> tuple[torch.Tensor, ...]:
    """``(train_x, train_y, test_x, test_y)`` of a loaded dataset; ``--quick`` keeps a fixed few."""
    train_x, train_y, test_x, test_y = data["train_x"], data["train_y"], data["test_x"], data["test_y"]
    if quick:
        (train_x, train_y), (test_x, test_y) = (
            quick_subset(train_x, train_y, quick_train),
            quick_subset(test_x, test_y, quick_test),
        )
    return train_x, train_y, test_x, test_y


# ----------------------------------------------------------------- CIFAR-10
def _read_image_folder(root: Path, classes: list[str], desc: str) -> tuple[torch.Tensor, torch.Tensor]:
    files = [(f, label) for label, c in enumerate(classes) for f in sorted((root / c).glob("*.png"))]
    if not files:
        raise DataError(f"no PNG images in {root}/<class>/")
    images = []
    for f, _ in tqdm(files, desc=desc, leave=False, disable=None):
        try:
            images.append(torchvision.io.decode_image(str(f), mode=torchvision.io.ImageReadMode.RGB))
        except RuntimeError as e:
            raise DataError(f"cannot decode {f}: {e}") from e
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) != 1:
        raise DataError(f"images in {root} differ in size: {sorted(shapes)[:3]}")
    return torch.stack(images), torch.tensor([label for _, label in files])


def load_cifar10(data_dir: str | Path, download: bool = False) -> dict:
    """CIFAR-10 as ``uint8`` tensors: ``train_x (N, 3, 32, 32)``, ``train_y``, ``test_x``, ``test_y``, ``classes``,
    ``source``.

    Two layouts are read, looked for in ``data_dir`` and ``data_dir/CIFAR10``:
    image folders ``train/<class>/*.png`` and ``test/<class>/*.png``, or torchvision's
    ``cifar-10-batches-py/`` (downloaded there when ``download`` is set and the machine is online).
    """
    data_dir = Path(data_dir)
    for root in (data_dir, data_dir / "CIFAR10"):
        if (root / "train").is_dir() and (root / "test").is_dir():
            classes = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
            extra = sorted(
                {p.name for p in (root / "test").iterdir() if p.is_dir() and any(p.glob("*.png"))} - set(classes)
            )
            if extra:  # their labels would lie outside the classes the network learns
                raise DataError(
                    f"{root / 'test'}: class folder(s) {', '.join(extra)} are not classes of {root / 'train'}"
                )
            train_x, train_y = _read_image_folder(root / "train", classes, "reading CIFAR-10 train")
            test_x, test_y = _read_image_folder(root / "test", classes, "reading CIFAR-10 test")
            return dict(
                train_x=train_x,
                train_y=train_y,
                test_x=test_x,
                test_y=test_y,
                classes=classes,
                source=f"CIFAR-10 image folders in {root}",
            )
        if (root / "cifar-10-batches-py").is_dir() or (download and root == data_dir):
            try:
                with no_stray_folder(data_dir):
                    train = torchvision.datasets.CIFAR10(root, train=True, download=download)
                    test = torchvision.datasets.CIFAR10(root, train=False, download=download)
            except Exception as e:  # torchvision raises RuntimeError (corrupt) or URLError (offline)
                raise DataError(f"cannot read CIFAR-10 from {root / 'cifar-10-batches-py'}: {e}") from e
            as_tensor = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()  # noqa: E731
            for split, ds in (("train", train), ("test", test)):
                where = f"{root / 'cifar-10-batches-py'} ({split})"
                check_images(ds.data, where, dtypes=("uint8",), ndim=4)
                check_labels(np.asarray(ds.targets), len(ds.classes), where, n_items=len(ds.data))
            return dict(
                train_x=as_tensor(train.data),
                train_y=torch.tensor(train.targets),
                test_x=as_tensor(test.data),
                test_y=torch.tensor(test.targets),
                classes=list(train.classes),
                source=f"CIFAR-10 python batches in {root / 'cifar-10-batches-py'}",
            )
    raise DataError(
        f"CIFAR-10 not found in {data_dir}: expected train/<class>/*.png and test/<class>/*.png "
        "(or a CIFAR10/ sub-folder holding them), or torchvision's cifar-10-batches-py/; "
        "pass --download to fetch it from www.cs.toronto.edu/~kriz/cifar.html"
    )


# -------------------------------------------------------------------- MNIST
def load_mnist(data_dir: str | Path, download: bool = False) -> dict:
    """MNIST as ``uint8`` tensors ``train_x (60000, 1, 28, 28)``, ``train_y``, ``test_x``, ``test_y``.

    Reads torchvision's layout ``data_dir/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``.
    """
    try:
        with no_stray_folder(data_dir):
            train = torchvision.datasets.MNIST(data_dir, train=True, download=download)
            test = torchvision.datasets.MNIST(data_dir, train=False, download=download)
    except Exception as e:
        raise DataError(
            f"MNIST not found or unreadable in {Path(data_dir) / 'MNIST' / 'raw'} ({e}); expected the idx files "
            "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; "
            "pass --download to fetch them"
        ) from e
    raw = Path(data_dir) / "MNIST" / "raw"
    for name, ds in (("train-labels-idx1-ubyte", train), ("t10k-labels-idx1-ubyte", test)):
        check_labels(ds.targets, 10, raw / name, n_items=len(ds.data))  # digits 0..9
    return dict(
        train_x=train.data.unsqueeze(1),
        train_y=train.targets,
        test_x=test.data.unsqueeze(1),
        test_y=test.targets,
        source=f"MNIST idx files in {Path(data_dir) / 'MNIST' / 'raw'}",
    )


# ------------------------------------------------------------------- STL-10
STL10_FILES = {
    "train": ("train_X.bin", "train_y.bin"),
    "test": ("test_X.bin", "test_y.bin"),
    "unlabeled": ("unlabeled_X.bin", None),
}


def load_stl10(data_dir: str | Path, split: str, download: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """One STL-10 split from the official binary files in ``data_dir/stl10_binary/``.

    Returns ``images`` as a read-only ``uint8`` memory map ``(N, 3, 96, 96)`` (so the 2.6 GB
    unlabelled split is never loaded whole) and ``labels`` in ``0..9`` (``None`` for
    ``"unlabeled"``). The files store each image column-major, hence the final transpose.
    """
    if split not in STL10_FILES:
        raise ValueError(f"split must be one of {sorted(STL10_FILES)}, got {split!r}")
    root = Path(data_dir) / "stl10_binary"
    x_name, y_name = STL10_FILES[split]
    if download and not (root / x_name).exists():
        try:
            with no_stray_folder(data_dir):
                torchvision.datasets.STL10(data_dir, split=split, download=True)
        except Exception as e:
            raise DataError(f"cannot download STL-10 into {data_dir}: {e}") from e
    if not (root / x_name).exists() or (y_name and not (root / y_name).exists()):
        raise DataError(
            f"STL-10 {split} split not found: expected {root / x_name}"
            + (f" and {root / y_name}" if y_name else "")
            + " (the stl10_binary/ folder of stl10_binary.tar.gz from cs.stanford.edu/~acoates/stl10; "
            "--download fetches it)"
        )
    size = (root / x_name).stat().st_size
    if size == 0 or size % (3 * 96 * 96):
        raise DataError(f"{root / x_name} has {size} bytes, not a whole number of 3x96x96 images")
    images = np.memmap(root / x_name, dtype=np.uint8, mode="r").reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
    if y_name is None:
        return images, None
    labels = np.fromfile(root / y_name, dtype=np.uint8).astype(np.int64) - 1
    if len(labels) != len(images) or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{root / y_name} must hold one label in 1..10 per image of {root / x_name}")
    return images, labels


class UnlabeledImages(Dataset):
    """Images of a ``uint8`` array ``(N, C, H, W)`` (e.g. a memory map) as float ``(C, H, W)`` in ``[0, 1]``."""

    def __init__(self, images: np.ndarray):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.images[i])).float().div_(255)


# ------------------------------------------------------------- brain tumour
TUMOUR_TYPES = {1: "meningioma", 2: "glioma", 3: "pituitary"}  # the Figshare labels; 0: type not known
SPLIT_BLOCKS, VAL_BLOCKS, TEST_BLOCKS = 10, (7,), (8, 9)  # per type: blocks of consecutive file numbers
SPLITS = ("train", "val", "test")
PNG_LAYOUT = "images/N.png, masks/N.png (0/255) and optionally labels.csv (file,label,label_name,original_size)"


@dataclass(frozen=True)
class TumourSlice:
    """One slice of the set: its file number, where its image and mask are (the same ``.mat`` file, or
    ``images/N.png`` and ``masks/N.png``) and its tumour type (1 meningioma, 2 glioma, 3 pituitary, 0 unknown)."""

    number: int
    image: Path
    mask: Path
    label: int = 0


def _file_number(path: Path) -> int:
    if not re.fullmatch(r"\d+", path.stem):
        raise DataError(f"{path}: brain-tumour files must be named by their number (1.mat, 2.png, ...)")
    return int(path.stem)


def _mat_number(path: Path) -> tuple[int, str]:
    m = re.fullmatch(r"(\d+)", path.stem)
    return (int(m.group(1)) if m else 1 << 62, path.name)


def find_brain_tumour_files(data_dir: str | Path) -> list[Path]:
    """The Figshare ``<n>.mat`` files anywhere under ``data_dir``, in numeric order."""
    files = sorted(Path(data_dir).rglob("*.mat"), key=_mat_number)
    if not files:
        raise DataError(
            f"no .mat files under {data_dir} and no images/ folder in it: expected the Figshare brain-tumour dataset "
            "(1.mat ... 3064.mat, MATLAB v7.3 with cjdata/image and cjdata/tumorMask, from "
            "figshare.com/articles/dataset/brain_tumor_dataset/1512427: "
            "unzip the four brainTumorDataPublic_*.zip parts "
            f"into one folder), or its PNG conversion: {PNG_LAYOUT}"
        )
    return files


def _read_labels_csv(path: Path) -> dict[str, int]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        labels = {row["file"].strip(): int(row["label"]) for row in rows}
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as e:
        raise DataError(f"{path}: expected a CSV with the columns file,label (label 1, 2 or 3) ({e!r})") from None
    bad = sorted({v for v in labels.values() if v not in TUMOUR_TYPES})
    if bad:
        raise DataError(f"{path}: labels must be 1 (meningioma), 2 (glioma) or 3 (pituitary), found {bad}")
    return labels


def _png_slices(root: Path) -> list[TumourSlice]:
    images, masks = root / "images", root / "masks"
    for have, lack in ((images, masks), (masks, images)):
        if not lack.is_dir():
            raise DataError(f"{root} has {have.name}/ but no {lack.name}/: the PNG layout is {PNG_LAYOUT}")
    files = sorted(images.glob("*.png"), key=_file_number)
    if not files:
        raise DataError(f"no PNG files in {images}: the PNG layout is {PNG_LAYOUT}")
    missing = [f.name for f in files if not (masks / f.name).is_file()]
    if missing:
        raise DataError(f"{len(missing)} image(s) without a mask in {masks}, e.g. {', '.join(missing[:3])}")
    labels = _read_labels_csv(root / "labels.csv") if (root / "labels.csv").is_file() else None
    if labels is not None and (unlabelled := [f.name for f in files if f.name not in labels]):
        raise DataError(
            f"{root / 'labels.csv'} has no row for {len(unlabelled)} image(s), e.g. {', '.join(unlabelled[:3])}"
        )
    return [TumourSlice(_file_number(f), f, masks / f.name, labels[f.name] if labels else 0) for f in files]


def read_mat_label(path: Path) -> int:
    """The tumour type stored in a Figshare file (``cjdata/label``), 0 when it has none."""
    try:
        with h5py.File(path, "r") as f:
            return int(np.asarray(f["cjdata"]["label"]).ravel()[0]) if "label" in f["cjdata"] else 0
    except (OSError, KeyError, IndexError, ValueError) as e:
        raise DataError(
            f"{path} is not a MATLAB v7.3 file with cjdata/image, cjdata/tumorMask and cjdata/label ({e})"
        ) from None


def find_brain_tumour_slices(data_dir: str | Path) -> tuple[list[TumourSlice], str]:
    """Every slice of the set in ``data_dir``, in numeric order, and a description of the layout found.

    ``data_dir/images/`` (or ``masks/``) means the PNG layout (:data:`PNG_LAYOUT`); otherwise the
    Figshare ``.mat`` files anywhere below ``data_dir`` (their tumour type is read from each file).
    """
    root = Path(data_dir)
    if (root / "images").is_dir() or (root / "masks").is_dir():
        slices = _png_slices(root)
        kind = "PNG slices" + ("" if any(s.label for s in slices) else " without labels.csv (tumour types unknown)")
    else:
        slices = [TumourSlice(_file_number(f), f, f, read_mat_label(f)) for f in find_brain_tumour_files(root)]
        kind = "Figshare .mat files"
    if len({s.number for s in slices}) != len(slices):
        raise DataError(f"{root}: two brain-tumour files carry the same number")
    return slices, f"brain-tumour {kind} in {root} ({len(slices)} slices)"


def _to_slice(image: np.ndarray, mask: np.ndarray, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Image resized to ``(1, size, size)`` and scaled to ``[0, 1]`` per slice; mask resized and binary."""
    image = torch.from_numpy(np.asarray(image, dtype=np.float32))[None, None]
    mask = torch.from_numpy(np.asarray(mask, dtype=np.float32))[None, None]
    if image.shape[-2:] != (size, size):
        image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        mask = F.interpolate(mask, size=(size, size), mode="bilinear", align_corners=False)
    lo, hi = image.min(), image.max()
    return ((image - lo) / (hi - lo if hi > lo else 1.0))[0], (mask > 0.5).float()[0]


def read_brain_tumour_mat(path: str | Path, size: int = 240) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one Figshare slice: image ``(1, size, size)`` scaled to ``[0, 1]`` and binary mask ``(1, size, size)``.

    MATLAB stores arrays column-major, so h5py returns them transposed; ``.T`` restores the orientation.
    """
    try:
        with h5py.File(path, "r") as f:
            image = np.asarray(f["cjdata"]["image"], dtype=np.float32).T
            mask = np.asarray(f["cjdata"]["tumorMask"], dtype=np.float32).T
    except (OSError, KeyError) as e:
        raise DataError(f"{path} is not a MATLAB v7.3 file with cjdata/image and cjdata/tumorMask ({e})") from e
    if image.ndim != 2 or image.shape != mask.shape:
        raise DataError(f"{path}: image {image.shape} and tumorMask {mask.shape} must be the same 2-D shape")
    check_images(image, f"{path} (cjdata/image)")  # NaN or infinite pixels
    check_mask(mask, f"{path} (cjdata/tumorMask)")
    return _to_slice(image, mask, size)


def _read_gray_png(path: Path) -> np.ndarray:
    try:
        return torchvision.io.decode_image(str(path), mode=torchvision.io.ImageReadMode.GRAY)[0].numpy()
    except (RuntimeError, OSError) as e:
        raise DataError(f"cannot decode {path}: {str(e).splitlines()[0] if str(e) else 'not a PNG'}") from None


def read_brain_tumour_png(
    image_path: str | Path, mask_path: str | Path, size: int = 240
) -> tuple[torch.Tensor, torch.Tensor]:
    """One slice of the PNG layout: ``images/N.png`` scaled to ``[0, 1]`` and ``masks/N.png`` (0/255) made binary."""
    image, mask = _read_gray_png(Path(image_path)), _read_gray_png(Path(mask_path))
    if image.shape != mask.shape:
        raise DataError(f"{image_path} {image.shape} and {mask_path} {mask.shape} differ in size")
    check_mask(mask, mask_path)  # 0/255 (or 0/1), nothing in between
    return _to_slice(image, mask > 0, size)


class BrainTumourSlices(Dataset):
    """The slices (:class:`TumourSlice`, or ``.mat`` paths) as ``(image, mask)`` pairs of shape ``(1, size, size)``,
    read on demand."""

    def __init__(self, slices: list[TumourSlice | Path], size: int = 240):
        self.slices = [
            s if isinstance(s, TumourSlice) else TumourSlice(_mat_number(Path(s))[0], Path(s), Path(s)) for s in slices
        ]
        self.size = size

    def __len__(self) -> int:
        return len(self.slices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.slices[i]
        if s.image.suffix == ".mat":
            return read_brain_tumour_mat(s.image, self.size)
        return read_brain_tumour_png(s.image, s.mask, self.size)


class AugmentedSlices(Dataset):
    """Training-time augmentation of ``(image, mask)`` pairs ``(1, H, W)`` (images in [0, 1], binary masks).

    Each draw: a left-right flip with probability 1/2, a rotation by up to ``degrees`` and a scaling in
    ``scale`` about the centre (bilinear for the image, nearest for the mask, so the mask stays binary),
    then the image's intensity times a gain in ``gain``. A brain's tumour may sit on either side and at any
    tilt, and scanners differ in brightness; the unaugmented network overfits (README: results) and its
    predictions are not even left-right consistent.
    Random numbers come from torch's global generator, which the data loader seeds per worker.
    """

    def __init__(
        self,
        base: Dataset,
        degrees: float = 15.0,
        scale: tuple[float, float] = (0.9, 1.1),
        gain: tuple[float, float] = (0.9, 1.1),
    ) -> None:
        self.base, self.degrees, self.scale, self.gain = base, degrees, scale, gain

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.base[i]
        if torch.rand(()) < 0.5:
            image, mask = image.flip(-1), mask.flip(-1)
        angle = float(torch.empty(()).uniform_(-self.degrees, self.degrees))
        factor = float(torch.empty(()).uniform_(*self.scale))
        move = dict(angle=angle, translate=[0, 0], scale=factor, shear=[0.0, 0.0])
        image = TF.affine(image, **move, interpolation=TF.InterpolationMode.BILINEAR)
        mask = TF.affine(mask, **move, interpolation=TF.InterpolationMode.NEAREST)
        return image * float(torch.empty(()).uniform_(*self.gain)), mask


def split_indices(n: int, test_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic shuffled split of ``range(n)`` into ``(kept, held out)`` indices, each sorted."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = max(1, round(n * test_fraction))
    return sorted(order[n_test:]), sorted(order[:n_test])


def hold_out(x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, ...]:
    """``(train_x, train_y, val_x, val_y)``: a seeded random ``fraction`` of the training data held out
    for validation."""
    keep, val = split_indices(len(y), fraction, seed)
    return x[keep], y[keep], x[val], y[val]


def block_split(numbers: Sequence[int], labels: Sequence[int], guard: int) -> dict[str, list[int]]:
    """Train/validation/test indices by contiguous blocks of file numbers, per tumour type; never random.

    Within each type the files are sorted by number (one patient's slices are consecutive) and cut
    into :data:`SPLIT_BLOCKS` contiguous blocks; blocks :data:`VAL_BLOCKS` validate, blocks
    :data:`TEST_BLOCKS` test, the rest train. ``guard`` files on each side of every border between
    two splits are dropped, so a patient cut by a border is less likely to sit on both sides.
    Returns the indices into ``numbers`` of ``"train"``, ``"val"``, ``"test"`` and ``"dropped"``.
    """
    out = {name: [] for name in (*SPLITS, "dropped")}
    for label in sorted(set(labels)):
        idx = sorted((i for i, lab in enumerate(labels) if lab == label), key=lambda i: numbers[i])
        role = np.empty(len(idx), dtype=object)
        for b, part in enumerate(np.array_split(np.arange(len(idx)), SPLIT_BLOCKS)):
            role[part] = "val" if b in VAL_BLOCKS else "test" if b in TEST_BLOCKS else "train"
        keep = np.ones(len(idx), dtype=bool)
        for j in range(1, len(idx)):
            if role[j] != role[j - 1]:
                keep[max(0, j - guard) : j + guard] = False
        for j, i in enumerate(idx):
            out[role[j] if keep[j] else "dropped"].append(i)
        for name in SPLITS:
            if not any(keep[j] and role[j] == name for j in range(len(idx))):
                raise DataError(
                    f"{len(idx)} slices of type {TUMOUR_TYPES.get(label, 'unknown')} leave the {name} split "
                    f"empty (10 blocks, --guard {guard}): use more data or a smaller --guard"
                )
    return {name: sorted(v) for name, v in out.items()}


def number_ranges(numbers: Iterable[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1-3, 7, 9-10"``."""
    parts, run = [], []
    for n in sorted(numbers):
        if run and n != run[-1] + 1:
            parts.append(run)
            run = []
        run.append(n)
    parts += [run] if run else []
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in parts)


def describe_split(slices: list[TumourSlice], split: dict[str, list[int]], guard: int) -> dict:
    """The split as config.json keeps it: the scheme, and per split the number of slices of each type
    and their file numbers."""
    out = {
        "scheme": f"per tumour type, files sorted by number, {SPLIT_BLOCKS} contiguous blocks: validation block(s) "
        f"{[b + 1 for b in VAL_BLOCKS]}, test blocks {[b + 1 for b in TEST_BLOCKS]}, {guard} file(s) dropped "
        "on each side of every border",
        "guard": guard,
    }
    for name, idx in split.items():
        types = sorted({slices[i].label for i in idx})
        out[name] = {
            "slices": len(idx),
            "per_type": {
                TUMOUR_TYPES.get(t, "unknown"): {
                    "slices": sum(slices[i].label == t for i in idx),
                    "files": number_ranges(slices[i].number for i in idx if slices[i].label == t),
                }
                for t in types
            },
        }
    return out


def synthetic_lesion_slices(n: int, size: int = 240, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Offline stand-in for the tumour set: SYNTHETIC lesions drawn into REAL MRI slices.

    The slices are axial sections of the MNI152 T1 template shipped with nilearn (real anatomy,
    no tumour); each gets one ellipse of random size and orientation with soft edges inside the
    brain, either ring-enhancing (dark core, bright rim) or homogeneously bright, and the mask is
    that ellipse. Returns images ``(n, 1, size, size)`` in ``[0, 1]`` and masks.
    """
    from nilearn.datasets import load_mni152_template

    volume = torch.from_numpy(np.asarray(load_mni152_template(resolution=1).get_fdata(), dtype=np.float32))
    g = torch.Generator().manual_seed(seed)
    z_lo, z_hi = int(volume.shape[2] * 0.25), int(volume.shape[2] * 0.7)
    zs = torch.randint(z_lo, z_hi, (n,), generator=g)
    slices = volume[:, :, zs].permute(2, 1, 0).flip(1)[:, None]  # (n, 1, y, x), anterior at the top
    slices = F.interpolate(slices, size=(size, size), mode="bilinear", align_corners=False)
    slices = slices / slices.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    yy, xx = torch.meshgrid(
        torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij"
    )
    images, masks = [], []
    for img in slices:
        inside = (img[0] > 0.3).nonzero()  # centre the lesion on brain tissue
        cy, cx = inside[torch.randint(len(inside), (1,), generator=g)].float()[0]
        ry, rx = (torch.rand(2, generator=g) * 22 + 8).tolist()
        angle = float(torch.rand(1, generator=g)) * math.pi
        c, s = math.cos(angle), math.sin(angle)
        u, v = (xx - cx) * c + (yy - cy) * s, -(xx - cx) * s + (yy - cy) * c
        r = torch.sqrt((u / rx) ** 2 + (v / ry) ** 2)
        mask = (r <= 1).float()
        # half ring-enhancing (dark core, bright rim, like a glioma), half homogeneously bright
        bright = 0.9 + 0.1 * float(torch.rand(1, generator=g))
        core = 0.1 + 0.2 * float(torch.rand(1, generator=g)) if float(torch.rand(1, generator=g)) < 0.5 else bright
        level = torch.where(r < 0.65, torch.tensor(core), torch.tensor(bright)) * (
            1 + 0.1 * torch.randn(size, size, generator=g)
        )
        alpha = torch.sigmoid((1 - r) * 15)  # soft edge
        noisy = img[0] * (1 - alpha) + alpha * level + 0.02 * torch.randn(size, size, generator=g)
        images.append(noisy.clamp(0, 1)[None])
        masks.append(mask[None])
    return torch.stack(images), torch.stack(masks)
