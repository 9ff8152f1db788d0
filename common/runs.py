"""Run-folder plumbing every assignment's ``main.py`` needs: device, seeding,
run folders, JSON records and atomic, resumable checkpoints.

A run folder looks like::

    <results_root>/<name>/
        config.json     # the arguments, the dataset used, the device
        metrics.json    # the numbers the run produced
        checkpoint.pt   # written atomically; ``--resume`` continues from it
        *.png           # figures
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch


def pick_device(name: str | None = None) -> torch.device:
    """``name`` if given (``"cpu"``, ``"cuda"``, ``"cuda:1"``), else CUDA when available, else CPU."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name} requested but CUDA is not available on this machine")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so runs repeat."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_run_dir(results_root: str | Path, name: str) -> Path:
    """Create (or reuse, for ``--resume``) the folder ``results_root/name``."""
    run_dir = Path(results_root) / name
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.device):
        return str(obj)
    if isinstance(obj, (torch.Tensor, np.ndarray)):
        return obj.tolist()  # a 0-d tensor or array gives a plain number
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON (tensors, arrays and paths converted), atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(_jsonable(obj), f, indent=2, sort_keys=False)
            f.write("\n")

    _atomic_write(Path(path), write)


def load_json(path: str | Path) -> Any:
    with open(path) as f:
        return json.load(f)


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """``torch.save`` atomically. Keep ``state`` to tensors, numbers, strings, lists and dicts
    so that :func:`load_checkpoint` can read it with ``weights_only=True``."""
    _atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code is unpickled)."""
    return torch.load(path, map_location=map_location, weights_only=True)
