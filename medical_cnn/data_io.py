"""Loaders for the two datasets: MedMNIST ``.npz`` files and the DRIVE retina folders.

Both raise :class:`DataError` with a one-line message when files are missing or
malformed, so ``main.py`` can stop with that line instead of a traceback.

MedMNIST (v2, https://medmnist.com, Yang et al. 2023): a file holds
``{train,val,test}_images`` as uint8 ``(N, 28, 28)`` (grey) or ``(N, 28, 28, 3)``
(RGB) and ``{train,val,test}_labels`` as ``(N, 1)`` class indices. Channels and the
number of classes are read from the file, so PathMNIST (3 channels, 9 classes) and
PneumoniaMNIST (1 channel, 2 classes) load the same way. Multi-label sets (ChestMNIST)
are not supported.
"""

from __future__ import annotations

import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from skimage.exposure import equalize_adapthist

from common.checks import check_images, check_labels, check_mask, check_not_empty
from common.cli import DataError

SPLITS = ("train", "val", "test")
# MedMNIST v2 files on Zenodo (record of the 28x28 release).
ZENODO_URL = "https://zenodo.org/records/10519652/files/{name}.npz?download=1"
# The number of classes of the single-label 2-D MedMNIST v2 sets (medmnist.INFO); other files: the training labels'.
MEDMNIST_CLASSES = {
    "pathmnist": 9,
    "dermamnist": 7,
    "octmnist": 4,
    "pneumoniamnist": 2,
    "retinamnist": 5,
    "breastmnist": 2,
    "bloodmnist": 8,
    "tissuemnist": 8,
    "organamnist": 11,
    "organcmnist": 11,
    "organsmnist": 11,
}


# --------------------------------------------------------------------------- MedMNIST
@dataclass
class MedMNIST:
    """One MedMNIST set as tensors: ``images[split]`` float ``(N, C, 28, 28)`` in [0, 1],
    ``labels[split]`` long ``(N,)``."""

    name: str
    images: dict[str, torch.Tensor]
    labels: dict[str, torch.Tensor]
    n_channels: int
    n_classes: int


def load_medmnist_npz(path: str | Path) -> MedMNIST:
    """Read a MedMNIST ``.npz`` file; raise :class:`DataError` with a clear message if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"MedMNIST file not found: {path}")
    try:
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read {path} as a MedMNIST .npz file ({e})") from None
    missing = [f"{s}_{kind}" for s in SPLITS for kind in ("images", "labels") if f"{s}_{kind}" not in arrays]
    if missing:
        raise DataError(f"{path} is not a MedMNIST .npz file: missing {', '.join(missing)}")
    images, labels = {}, {}
    train_labels = arrays["train_labels"]
    n_classes = MEDMNIST_CLASSES.get(path.stem.split("_")[0].lower())
    if n_classes is None and train_labels.size and np.issubdtype(train_labels.dtype, np.number):
        n_classes = int(np.nanmax(train_labels)) + 1
    for split in SPLITS:
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        where = f"{path} ({split})"
        check_not_empty(len(x), where, "images")
        check_images(x, where, dtypes=("uint8",))  # MedMNIST stores 0..255 as uint8
        if y.ndim == 2 and y.shape[1] > 1:
            raise DataError(
                f"{path}: labels of shape {y.shape} are multi-label; only single-label MedMNIST sets are supported"
            )
        check_labels(y, n_classes or 1, f"{where}_labels", n_items=len(x))
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or len(x) != len(y):
            raise DataError(f"{path}: {split}_images has shape {x.shape} for {len(y)} labels; expected (N, H, W[, C])")
        if y.ndim == 2 and y.shape[1] > 1:
            raise DataError(
                f"{path}: labels of shape {y.shape} are multi-label; only single-label MedMNIST sets are supported"
            )
        images[split] = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).float() / 255.0
        labels[split] = torch.from_numpy(y.reshape(-1).astype(np.int64))
    return MedMNIST(path.stem, images, labels, n_channels=images["train"].shape[1], n_classes=n_classes)


def find_or_download(data_dir: str | Path, name: str, download: bool) -> Path:
    """Path of ``<data_dir>/<name>.npz``; fetch it from Zenodo first if it is missing and ``download`` is set.

    ``data_dir`` must be an existing folder for a download: it is never created here, so a
    mistyped ``--data-dir`` is reported instead of silently filled.
    """
    data_dir = Path(data_dir)
    path = data_dir / f"{name}.npz"
    if data_dir.exists() and not data_dir.is_dir():
        raise DataError(f"--data-dir {data_dir} is a file, not a folder; give the folder that holds {name}.npz")
    if path.is_file():
        return path
    hint = (
        f"expected the MedMNIST file {path}; get it from {ZENODO_URL.format(name=name)} "
        f"(or `pip install medmnist` and its downloader), or point --data-dir/--dataset at another MedMNIST .npz"
    )
    if not download:
        raise DataError(f"{hint}; or add --download to fetch it")
    if not data_dir.is_dir():
        raise DataError(
            f"--data-dir {data_dir} does not exist; create the folder first (--download does not create it)"
        )
    tmp = path.with_suffix(".npz.part")
    try:
        print(f"downloading {name}.npz from Zenodo ...")
        with urllib.request.urlopen(ZENODO_URL.format(name=name), timeout=30) as response, open(tmp, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise DataError(f"download failed ({e.__class__.__name__}: {e}); {hint}") from None
    return path


# --------------------------------------------------------------------------- DRIVE
DRIVE_LAYOUT = (
    "<root>/{training,test}/images/NN_<split>.tif, <root>/{training,test}/1st_manual/NN_manual1.gif and "
    "<root>/{training,test}/mask/NN_<split>_mask.gif (DRIVE, https://drive.grand-challenge.org, registration required)"
)


@dataclass
class DriveSplit:
    """One DRIVE split: ``images`` uint8 ``(N, H, W, 3)``, ``vessels`` and ``fov`` bool ``(N, H, W)``."""

    names: list[str]
    images: np.ndarray
    vessels: np.ndarray
    fov: np.ndarray


def _read_image(path: Path, mode: str) -> np.ndarray:
    """Pixels of ``path`` converted to PIL ``mode`` ("RGB" or "L"; GIF palettes become grey levels)."""
    try:
        with Image.open(path) as im:
            return np.array(im.convert(mode))
    except (OSError, UnidentifiedImageError) as e:
        raise DataError(f"cannot read image {path} ({e})") from None


def load_drive(root: str | Path, split: str) -> DriveSplit:
    """Read ``root/<split>/`` (``split`` is ``"training"`` or ``"test"``); images are paired by their number prefix."""
    folder = Path(root) / split
    image_paths = sorted((folder / "images").glob("*.tif"))
    if not image_paths:
        raise DataError(f"no DRIVE images in {folder / 'images'}; expected {DRIVE_LAYOUT}")
    names, images, vessels, fovs = [], [], [], []
    for image_path in image_paths:
        number = image_path.stem.split("_")[0]
        manual = folder / "1st_manual" / f"{number}_manual1.gif"
        masks = sorted((folder / "mask").glob(f"{number}_*mask.gif"))
        if not manual.is_file() or not masks:
            raise DataError(
                f"DRIVE {split} image {image_path.name} lacks {manual} or its mask/{number}_*mask.gif; "
                f"expected {DRIVE_LAYOUT}"
            )
        rgb, vessel, fov = _read_image(image_path, "RGB"), _read_image(manual, "L"), _read_image(masks[0], "L")
        check_mask(vessel, manual, shape=rgb.shape[:2])  # binary, the image's size
        check_mask(fov, masks[0], shape=rgb.shape[:2])
        names.append(number)
        images.append(rgb.astype(np.uint8))
        vessels.append(vessel > 0)
        fovs.append(fov > 0)
    return DriveSplit(names, np.stack(images), np.stack(vessels), np.stack(fovs))


def preprocess_fundus(images: np.ndarray, fov: np.ndarray) -> np.ndarray:
    """Network input from RGB fundus photographs: ``(N, H, W, 3)`` uint8 -> ``(N, 1, H, W)`` float32.

    The green channel has the best vessel contrast; CLAHE evens out the illumination,
    then each image is standardised inside its field of view and set to 0 outside it.
    """
    out = np.zeros((len(images), 1, *images.shape[1:3]), dtype=np.float32)
    for k, (rgb, inside) in enumerate(zip(images, fov)):
        green = equalize_adapthist(rgb[..., 1], clip_limit=0.01)
        values = green[inside]
        out[k, 0] = np.where(inside, (green - values.mean()) / (values.std() + 1e-6), 0.0)
    return out
