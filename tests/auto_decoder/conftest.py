"""Tiny Fashion-MNIST fixtures in both real on-disk formats, and tiny run folders."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

N_TRAIN, N_TEST = 60, 30


def fake_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 28x28 images (a bright class-dependent bar on noise) and labels cycling 0..9."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.uint8) % 10
    images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    for img, label in zip(images, labels):
        img[2 * label + 2 : 2 * label + 6, 4:24] = 250
    return images, labels


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """The raw idx files torchvision reads: big-endian magic 0x803 / 0x801, then the sizes, then bytes."""
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
        struct.pack(">IIII", 0x803, len(images), 28, 28) + images.tobytes()
    )
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, len(labels)) + labels.tobytes())


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """The course CSV: header, then ``label, pixel1..pixel784`` per row."""
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    table = np.concatenate([labels[:, None].astype(np.int64), images.reshape(len(images), -1).astype(np.int64)], axis=1)
    np.savetxt(path, table, fmt="%d", delimiter=",", header=header, comments="")


@pytest.fixture(autouse=True)
def _one_thread():
    """One BLAS/OpenMP thread: tiny problems run faster and repeatably on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory) -> Path:
    """``root`` with ``FashionMNIST/raw/`` idx files, as torchvision lays them out."""
    root = tmp_path_factory.mktemp("tv")
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw, "train", *fake_split(N_TRAIN, 0))
    write_idx(raw, "t10k", *fake_split(N_TEST, 1))
    return root


@pytest.fixture(scope="session")
def csv_dir(tmp_path_factory) -> Path:
    """A folder with the course's ``fashion-mnist_train.csv`` and ``fashion-mnist_test.csv``."""
    root = tmp_path_factory.mktemp("csv")
    write_csv(root / "fashion-mnist_train.csv", *fake_split(N_TRAIN, 0))
    write_csv(root / "fashion-mnist_test.csv", *fake_split(N_TEST, 1))
    return root


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory, csv_dir) -> Path:
    """A results root holding --quick classifier, auto-decoder, Gaussian/logistic VAD and VAE runs
    (``classifier_quick``, ``ad-n256_quick``, ``vad-gaussian-n256_quick``, ``vad-logistic-n256_quick``,
    ``vae-n256_quick``); the logistic VAD holds 10 images out and stops on the plateau (4 epochs at most)."""
    from auto_decoder.main import main

    root = tmp_path_factory.mktemp("runs")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        base = ["--quick", "--data-dir", str(csv_dir), "--results-root", str(root), "--batch-size", "16"]
        main(["classifier", *base])
        main(["ad", *base])
        main(["vad", "--family", "gaussian", *base])
        main(["vad", "--family", "logistic", *base, "--val-size", "10", "--patience", "1", "--lr-patience", "1"])
        main(["vae", *base])
    torch.set_num_threads(threads)
    return root
