"""Tiny data in the real formats: grey/RGB PNG folders and MNIST raw idx files."""

import struct
from pathlib import Path

import numpy as np
from PIL import Image


def smooth_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A uint8 image with some structure (smooth gradients plus a few rectangles), not just noise."""
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    a, b, c = rng.uniform(-1, 1, 3)
    im = 0.5 + 0.3 * np.sin(4 * a * xx + 3 * b * yy + c)
    for _ in range(3):
        top, left = rng.integers(0, height - 4), rng.integers(0, width - 4)
        im[top : top + rng.integers(3, height // 2), left : left + rng.integers(3, width // 2)] = rng.uniform(0, 1)
    return np.clip(im * 255, 0, 255).astype(np.uint8)


def write_image_folder(
    folder: Path, count: int, height: int, width: int, seed: int, rgb_every: int = 3
) -> list[np.ndarray]:
    """``count`` PNGs (every ``rgb_every``-th saved as RGB with equal channels); returns the grey arrays."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images = []
    for i in range(count):
        im = smooth_image(rng, height, width)
        pil = Image.fromarray(im)
        (pil.convert("RGB") if i % rgb_every == 0 else pil).save(folder / f"img_{i:03d}.png")
        images.append(im)
    return images


def bar_digits(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 28, 28)`` uint8 "digits": a few vertical strokes from row 4 to row 23 on a dark background,
    so the hidden bottom half is predictable from the top half (as for real digits)."""
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for image in images:
        for col in rng.choice(np.arange(4, 24), size=3, replace=False):
            image[4:24, col : col + 2] = rng.integers(150, 256)
    return images


def write_mnist_raw(root: Path, n_train: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's layout ``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` of
    :func:`bar_digits`; returns the train and test images."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = bar_digits(rng, n)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())
        out.append(images)
    return out[0], out[1]
