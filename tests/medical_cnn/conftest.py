"""Tiny datasets in the real file formats: a MedMNIST .npz and a DRIVE folder tree (tif + gif written with PIL)."""

import numpy as np
import pytest
from PIL import Image


def write_medmnist_npz(path, n_channels=1, n_classes=2, sizes=(60, 20, 20), seed=0):
    """Images whose mean brightness depends on the class, so a classifier can learn them."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in zip(("train", "val", "test"), sizes):
        labels = np.arange(n) % n_classes
        rng.shuffle(labels)
        base = 40 + 160 * labels / max(1, n_classes - 1)
        shape = (n, 28, 28) if n_channels == 1 else (n, 28, 28, n_channels)
        noise = rng.normal(0, 20, shape)
        images = np.clip(base.reshape((n,) + (1,) * (len(shape) - 1)) + noise, 0, 255).astype(np.uint8)
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = labels.reshape(n, 1).astype(np.uint8)
    np.savez_compressed(path, **arrays)
    return path


def write_drive_tree(root, n_train=3, n_test=2, size=(52, 50), seed=0):
    """DRIVE layout: images/NN_<split>.tif (RGB), 1st_manual/NN_manual1.gif, mask/NN_<split>_mask.gif (0/255)."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    fov = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (0.45 * min(h, w)) ** 2
    numbering = {"training": range(21, 21 + n_train), "test": range(1, 1 + n_test)}
    for split, numbers in numbering.items():
        for sub in ("images", "1st_manual", "mask"):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
        for number in numbers:
            vessels = np.zeros((h, w), bool)
            for _ in range(4):  # a few dark lines as vessels
                if rng.random() < 0.5:
                    vessels[rng.integers(h), :] = True
                else:
                    vessels[:, rng.integers(w)] = True
            vessels &= fov
            rgb = np.stack([np.full((h, w), 150.0), np.where(vessels, 60.0, 140.0), np.full((h, w), 50.0)], -1)
            rgb = np.clip(rgb + rng.normal(0, 8, rgb.shape), 0, 255) * fov[..., None]
            Image.fromarray(rgb.astype(np.uint8)).save(root / split / "images" / f"{number:02d}_{split}.tif")
            Image.fromarray((vessels * 255).astype(np.uint8)).save(
                root / split / "1st_manual" / f"{number:02d}_manual1.gif"
            )
            Image.fromarray((fov * 255).astype(np.uint8)).save(root / split / "mask" / f"{number:02d}_{split}_mask.gif")
    return root


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One intra-op thread: on a busy 2-core machine, 2 spinning threads per op make the tiny models here
    several times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def medmnist_dir(tmp_path):
    folder = tmp_path / "medmnist"
    folder.mkdir()
    write_medmnist_npz(folder / "pneumoniamnist.npz", n_channels=1, n_classes=2)
    write_medmnist_npz(folder / "pathmnist.npz", n_channels=3, n_classes=9, sizes=(45, 18, 18))
    return folder


@pytest.fixture
def drive_dir(tmp_path):
    return write_drive_tree(tmp_path / "DRIVE")


@pytest.fixture(scope="session")
def quick_runs(tmp_path_factory):
    """Every command once in --quick mode on the tiny fixtures; returns (results root, {run folder name: metrics}).

    In the lr study the first run's model outputs NaN, so the sweep must record it as
    diverged and carry on. Shared by the command tests and the report-notebook test.
    """
    import torch
    from torch import nn

    from medical_cnn import main as cli
    from medical_cnn import segment

    base = tmp_path_factory.mktemp("medical_cnn")
    medmnist = base / "medmnist"
    medmnist.mkdir()
    write_medmnist_npz(medmnist / "pneumoniamnist.npz")
    drive = write_drive_tree(base / "DRIVE")
    root = base / "runs"
    common = ["--quick", "--results-root", str(root), "--device", "cpu"]
    seg = ["segment", "--data-dir", str(drive), *common]
    metrics = {
        "conv_quick": cli.main(["conv", *common]),
        "classify-pneumoniamnist_quick": cli.main(
            ["classify", "--data-dir", str(medmnist), "--dataset", "pneumoniamnist", *common]
        ),
        "segment-skip_quick": cli.main([*seg, "--study", "skip"]),
        "segment-augment_quick": cli.main([*seg, "--study", "augment"]),
        "segment-pretrained_quick": cli.main([*seg, "--study", "pretrained"]),
        "segment-long_quick": cli.main(
            [*seg, "--study", "lr", "--lrs", "0.001", "--lr-schedule", "cosine", "--name", "segment-long"]
        ),
    }

    class NaNNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x * self.scale * float("nan")

    real_build, calls = segment.build_segmenter, []

    def build(kind, args):
        calls.append(kind)
        return NaNNet() if len(calls) == 1 else real_build(kind, args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(segment, "build_segmenter", build)
        metrics["segment-lr_quick"] = cli.main([*seg, "--study", "lr"])
    return root, metrics
