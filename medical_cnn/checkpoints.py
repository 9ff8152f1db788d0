"""Resuming a training run (``--resume``) from the checkpoint ``classify`` and ``segment`` write after each step."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torch import nn

from common.cli import DataError
from common.runs import load_checkpoint


def resume_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device) -> dict:
    """Load model and optimiser state from ``path`` (weights only); the whole checkpoint is returned."""
    try:
        ckpt = load_checkpoint(path, device)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
    except (RuntimeError, KeyError, ValueError, EOFError, OSError, pickle.UnpicklingError) as e:
        first_line = (str(e).splitlines() or [e.__class__.__name__])[0]
        raise DataError(f"cannot resume from {path}: it does not match this model and flags ({first_line}); "
                        f"start the run again with --overwrite") from None
    return ckpt
