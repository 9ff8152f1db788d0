"""Tiny datasets written in the real on-disk formats, and quick runs of every sub-command."""

import shutil
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from PIL import Image

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar_folders(root: Path, per_class: int = 3, seed: int = 0) -> dict:
    """``root/{train,test}/<class>/*.png`` as in the course's CIFAR-10 copy; returns the arrays written."""
    rng = np.random.default_rng(seed)
    written = {}
    for split in ("train", "test"):
        for name in CIFAR_CLASSES:
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i:04d}.png")
                written[(split, name, i)] = pixels
    return written


def _write_idx(path: Path, array: np.ndarray) -> None:
    """IDX format: zero bytes, type 0x08 (ubyte), number of dims, big-endian sizes, then the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist_raw(root: Path, n_train: int = 40, n_test: int = 20, seed: int = 0) -> dict:
    """torchvision's layout ``root/MNIST/raw/*-ubyte``; returns the arrays written. Like digits, each
    image is a dark background with one bright stroke (a random rectangle), so an autoencoder can learn it."""
    rng = np.random.default_rng(seed)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 30, (n, 28, 28), dtype=np.uint8)
        for image in images:
            y, x = rng.integers(4, 14, 2)
            h, w = rng.integers(3, 11, 2)
            image[y : y + h, x : x + w] = rng.integers(200, 256, (h, w))
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        data[prefix] = (images, labels)
    return data


def write_stl10_binary(root: Path, counts=(("train", 20), ("test", 12), ("unlabeled", 16)), seed: int = 0) -> dict:
    """``root/stl10_binary/{train,test}_{X,y}.bin`` and ``unlabeled_X.bin``: uint8 images stored
    column-major (each channel written transposed), labels 1..10."""
    rng = np.random.default_rng(seed)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    data = {}
    for split, n in counts:
        images = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)
        (folder / f"{split}_X.bin").write_bytes(np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes())
        labels = None
        if split != "unlabeled":
            labels = (np.arange(n) % 10 + 1).astype(np.uint8)
            (folder / f"{split}_y.bin").write_bytes(labels.tobytes())
        data[split] = (images, labels)
    return data


def write_tumour_mat(path: Path, image: np.ndarray, mask: np.ndarray, label: int = 1) -> None:
    """A MATLAB v7.3 file like the Figshare set: a 512-byte MATLAB header, then HDF5 with the struct
    ``cjdata`` whose arrays are stored column-major (h5py sees them transposed)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        g = f.create_group("cjdata")
        g.create_dataset("image", data=image.T.astype(np.int16))
        g.create_dataset("tumorMask", data=mask.T.astype(np.uint8))
        g.create_dataset("label", data=np.array([[label]], dtype=np.float64))
        g.create_dataset("PID", data=np.frombuffer(b"12345", dtype=np.uint8).reshape(-1, 1).astype(np.uint16))
    with open(path, "r+b") as f:
        f.write(
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .".ljust(
                116
            )
        )


def tumour_slice(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A noisy square slice (int16 values 0..900) with a bright rectangular 'tumour' and its 0/1 mask."""
    mask = np.zeros((size, size), dtype=np.uint8)
    y, x = rng.integers(0, size // 2, 2)
    mask[y : y + size // 4, x : x + size // 3] = 1
    return (rng.integers(0, 300, (size, size)) + 600 * mask.astype(np.int64)).astype(np.int16), mask


def write_tumour_set(
    root: Path, n: int = 10, size: int = 64, seed: int = 0, types: int = 1
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``root/1.mat ... root/n.mat``, each a noisy square slice with a bright square 'tumour' in it;
    the files fall into ``types`` contiguous runs of labels 1, 2, 3."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(1, n + 1):
        image, mask = tumour_slice(rng, size)
        write_tumour_mat(root / f"{i}.mat", image, mask, label=1 + (i - 1) * types // n)
        written.append((image, mask))
    return written


def write_tumour_pngs(
    root: Path, labels: list[int], size: int = 32, seed: int = 0, csv: bool = True
) -> dict[int, tuple]:
    """The PNG layout of the set: ``root/images/N.png`` (8-bit grey), ``root/masks/N.png`` (0/255) for
    N = 1..len(labels) and ``root/labels.csv`` (rows in reverse order); returns ``{N: (image, mask, label)}``."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    written = {}
    for n, label in enumerate(labels, start=1):
        image, mask = tumour_slice(rng, size)
        image = (image / 900 * 255).astype(np.uint8)
        Image.fromarray(image).save(root / "images" / f"{n}.png")
        Image.fromarray(mask * 255).save(root / "masks" / f"{n}.png")
        written[n] = (image, mask, label)
    if csv:
        names = {1: "meningioma", 2: "glioma", 3: "pituitary"}
        rows = [f"{n}.png,{label},{names[label]},512" for n, label in enumerate(labels, start=1)]
        (root / "labels.csv").write_text("file,label,label_name,original_size\n" + "\n".join(reversed(rows)) + "\n")
    return written


@pytest.fixture
def formats() -> SimpleNamespace:
    """The fixture writers above (test modules cannot import conftest under importlib mode)."""
    return SimpleNamespace(
        cifar_classes=CIFAR_CLASSES,
        write_cifar_folders=write_cifar_folders,
        write_mnist_raw=write_mnist_raw,
        write_stl10_binary=write_stl10_binary,
        write_tumour_mat=write_tumour_mat,
        write_tumour_set=write_tumour_set,
        write_tumour_pngs=write_tumour_pngs,
    )


@pytest.fixture(scope="session")
def quick_runs(tmp_path_factory) -> Path:
    """Run every sub-command with --quick on tiny fixtures (in ``<base>/data``); returns the results root
    ``<base>/runs``, whose run folders are named ``<task>_quick``. Tests must not change them."""
    from autoencoders import main

    base = tmp_path_factory.mktemp("autoencoders")
    data = base / "data"
    write_cifar_folders(data / "CIFAR10")
    write_mnist_raw(data)
    write_stl10_binary(data)
    write_tumour_set(data / "tumour", n=30, size=32, types=3)
    results = base / "runs"
    common = ["--results-root", str(results), "--quick", "--workers", "0"]
    main.main(["cifar", "--data-dir", str(data), "--epochs", "2", *common])
    main.main(["mnist", "--data-dir", str(data), "--epochs", "3", "--batch-size", "8", "--lr", "0.01", *common])
    main.main(["stl10-cnn", "--data-dir", str(data), *common])
    main.main(["stl10-resnet", "--data-dir", str(data), "--no-pretrained", *common])
    main.main(["stl10-ae", "--data-dir", str(data), *common])
    # 64x64 slices keep the test fast; the default and the real runs use 240x240
    main.main(
        [
            "segment",
            "--data-dir",
            str(data / "tumour"),
            "--epochs",
            "2",
            "--sample-every",
            "1",
            "--size",
            "32",
            "--guard",
            "0",
            *common,
        ]
    )
    main.main(["segment", "--synthetic", "10", "--size", "64", *common])
    return results


PUBLISHED = {
    "cifar_quick": "cifar",
    "mnist_quick": "mnist",
    "stl10-ae_quick": "stl10-ae",
    "segment_quick": "segment_brain_tumor",
    "segment_synthetic_quick": "segment_synthetic",
}


@pytest.fixture(scope="session")
def published(quick_runs, tmp_path_factory) -> Path:
    """The quick runs under the names the README and the report look for, small files only (as published)."""
    root = tmp_path_factory.mktemp("results") / "autoencoders"
    for quick, name in PUBLISHED.items():
        shutil.copytree(quick_runs / quick, root / name, ignore=shutil.ignore_patterns("*.pt", "*.pth"))
    return root
