"""ImageNet-pretrained ResNet-18 weights, shared by ``medical_cnn segment --study pretrained`` (the
encoder of smp's U-Net) and ``autoencoders stl10-resnet`` (the frozen backbone).

Both use the same file, torchvision's ``ResNet18_Weights.IMAGENET1K_V1`` (``resnet18-f37072fd.pth``;
smp's ``resnet18`` "imagenet" encoder holds the same ImageNet weights). The command's weights flag
says where they come from (:func:`resnet18_weights`):

* ``imagenet``: torchvision's own mechanism, ``torch.hub``: the file is read from the hub cache
  (``$TORCH_HOME/hub/checkpoints/``, by default ``~/.cache/torch/hub/checkpoints/``) when it is
  there and downloaded into it (hash-checked) otherwise, so a second run needs no network;
* a PATH: a torchvision or timm ResNet-18 state dict, e.g. a copy of ``resnet18-f37072fd.pth``;
* no flag, or ``imagenet`` when the download fails (no network): the weights are *unavailable*;
  the caller records its pretrained run as skipped, with the reason, and never trains a stand-in
  under the name "pretrained".

Run folders record :attr:`PretrainedWeights.source`: ``"ImageNet (torchvision IMAGENET1K_V1,
downloaded)"`` or ``"... cached)"``, ``"file PATH (sha256 f37072fd)"`` or ``"skipped: <reason>"``.
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from common.cli import DataError

IMAGENET = "imagenet"
IMAGENET_WEIGHTS = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class PretrainedWeights:
    """ResNet-18 backbone weights, or ``state_dict=None`` when they are unavailable.

    ``state_dict``: torchvision ResNet-18 names without the ImageNet classifier ``fc.*`` (first
    convolution ``conv1.weight`` of shape ``(64, 3, 7, 7)``); ``source``: what run folders record;
    ``reason``: why they are unavailable, with how to provide them (``None`` when available).
    """

    state_dict: dict[str, torch.Tensor] | None
    source: str
    reason: str | None = None

    @property
    def available(self) -> bool:
        return self.state_dict is not None


def imagenet_cache_file() -> Path:
    """Where ``torch.hub`` keeps the IMAGENET1K_V1 file (it honours ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(IMAGENET_WEIGHTS.url).path).name


def download_imagenet() -> dict[str, torch.Tensor]:
    """torchvision's ResNet-18 IMAGENET1K_V1 state dict through ``torch.hub``: read from its cache when there,
    else downloaded into it. Raises ``OSError`` (``URLError``, a timeout) when the machine is offline."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # torch.hub sets none: a network that drops packets would hang forever
    try:
        return IMAGENET_WEIGHTS.get_state_dict(progress=True, check_hash=True, map_location="cpu", weights_only=True)
    finally:
        socket.setdefaulttimeout(previous)


def how_to_provide(flag: str) -> str:
    cache = imagenet_cache_file()
    return (
        f"run with {flag} {IMAGENET} where download.pytorch.org is reachable (the file is kept in {cache} for later "
        f"offline runs) or pass {flag} PATH to a copy of {cache.name}"
    )


def _skipped(reason: str) -> PretrainedWeights:
    return PretrainedWeights(None, f"skipped: {reason}", reason)


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "reason", None) or error).strip()  # URLError keeps the cause in .reason
    return text.splitlines()[0] if text else type(error).__name__


def _unreadable(error: BaseException) -> str:
    """Why torch.load failed, briefly: torch's own message on a damaged file is long and suggests weights_only=False."""
    return error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__


def sha256_prefix(path: Path, length: int = 8) -> str:
    """The first ``length`` hex digits of the file's SHA-256 (torchvision names its files by the first 8)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def backbone_state(state: Any, what: str) -> dict[str, torch.Tensor]:
    """``state`` checked against torchvision's ResNet-18 and returned without its classifier ``fc.*``.

    Accepts a plain state dict or a checkpoint holding one under ``"state_dict"`` (timm); anything
    else, or other names or shapes, is a :class:`DataError` naming ``what``.
    """
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise DataError(f"{what} is not a ResNet-18 state dict (it holds a {type(state).__name__})")
    model = torchvision.models.resnet18(weights=None)
    model.fc = nn.Identity()  # both assignments replace the ImageNet classifier
    try:
        model.load_state_dict({k: v for k, v in state.items() if not str(k).startswith("fc.")})
    except RuntimeError as e:  # "Error(s) in loading state_dict for ResNet:" and one line per kind of mismatch
        problems = [line.strip() for line in str(e).splitlines()[1:]] or [str(e)]
        first = problems[0] if len(problems[0]) <= 160 else problems[0][:157] + "..."
        raise DataError(f"{what} is not a ResNet-18 state dict ({first})") from None
    return model.state_dict()


def _from_imagenet(flag: str) -> PretrainedWeights:
    cache = imagenet_cache_file()
    cached = cache.is_file()
    try:
        state = download_imagenet()
    except Exception as e:
        if cached:  # torch.load of a damaged file raises anything from UnpicklingError to KeyError
            raise DataError(
                f"{flag} {IMAGENET}: cannot read the cached {cache} ({_unreadable(e)}); delete it and run again"
            ) from None
        if isinstance(e, (OSError, HTTPException)):  # URLError, no DNS, a refused or timed-out connection
            return _skipped(f"the ImageNet weights could not be downloaded ({_first_line(e)}); {how_to_provide(flag)}")
        if isinstance(e, RuntimeError):  # torch.hub's hash check: the server sent something else
            raise DataError(
                f"{flag} {IMAGENET}: the download of {IMAGENET_WEIGHTS.url} failed ({_first_line(e)})"
            ) from None
        raise
    label = "cached" if cached else "downloaded"
    return PretrainedWeights(backbone_state(state, str(cache)), f"ImageNet (torchvision IMAGENET1K_V1, {label})")


def _from_file(path: Path, flag: str) -> PretrainedWeights:
    if not path.is_file():
        raise DataError(
            f"{flag} {path}: file not found (expected a ResNet-18 state dict such as torchvision's "
            f"{imagenet_cache_file().name})"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged file makes torch.load raise anything from UnpicklingError to KeyError
        raise DataError(
            f"{flag} {path}: cannot read it as a torch state dict ({_unreadable(e)}); expected a file written by "
            f"torch.save such as {imagenet_cache_file().name}"
        ) from None
    return PretrainedWeights(backbone_state(state, f"{flag} {path}"), f"file {path} (sha256 {sha256_prefix(path)})")


def resnet18_weights(choice: str | Path | None, flag: str) -> PretrainedWeights:
    """The ImageNet ResNet-18 weights that a command's ``flag`` names: ``None`` (flag not given), ``"imagenet"``
    (torch hub cache, else download) or a file path.

    No flag, or a failed download, gives unavailable weights with the reason; a missing or unreadable
    file, one that is not a ResNet-18 state dict, or a corrupt cached download is a :class:`DataError`.
    """
    if choice is None:
        return _skipped(f"no {flag} given; {how_to_provide(flag)}")
    if str(choice) == IMAGENET:
        return _from_imagenet(flag)
    return _from_file(Path(choice), flag)
