"""Fixtures shared by the whole suite."""

import os
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")  # no screen on CI


@pytest.fixture
def execute_notebook(monkeypatch):
    """Return ``run(path, env=None, timeout=600)`` that executes a notebook headless and returns it.

    The kernel is this interpreter (its folder goes first on PATH), ``env`` entries are
    exported to it (e.g. the run folder the report should read), and it starts in the
    notebook's own folder. A failing cell raises ``nbclient.exceptions.CellExecutionError``.
    """
    from lab.report import execute

    def run(path, env=None, timeout=600):
        monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, str(value))
        return execute(Path(path), timeout)

    return run


@pytest.fixture(scope="session")
def resnet18_state() -> dict:
    """A full torchvision ResNet-18 state dict (random, real-shaped) standing in for the ImageNet file in the
    pretrained-weights tests, which never touch the network."""
    import torch
    import torchvision

    torch.manual_seed(1)
    return torchvision.models.resnet18().state_dict()


@pytest.fixture
def weights_flag(resnet18_state, tmp_path, monkeypatch):
    """``make(source) -> (flag value, expected start of the recorded source)`` for ``source`` "imagenet" (the download
    replaced by :func:`resnet18_state`, as if online) or "file" (that state dict saved to a file)."""
    import torch

    from common import pretrained

    def make(source: str) -> tuple[str, str]:
        if source == "imagenet":
            monkeypatch.setattr(pretrained, "download_imagenet", lambda: resnet18_state)
            return "imagenet", "ImageNet (torchvision IMAGENET1K_V1, downloaded)"
        torch.save(resnet18_state, tmp_path / "resnet18.pth")
        return str(tmp_path / "resnet18.pth"), f"file {tmp_path / 'resnet18.pth'} (sha256 "

    return make
