"""One checkpoint layout for every training loop, and its one save and resume path.

Every loop writes the same dict after each epoch or validation step (:func:`save_progress`,
atomically, through :func:`common.runs.save_checkpoint`)::

    model       the network's state_dict (a dict of them for a loop that trains several modules)
    optimizer   the optimiser's state_dict (a dict of them; {} without one)
    scheduler   the learning-rate schedule's state_dict ({} without one)
    step        epochs or iterations done
    best_model  a copy of the weights with the best validation score so far (None before the first)
    best_score  that score, and best_step the step it was reached at
    rng         random-number states: torch, cuda (one per device, [] without CUDA), numpy, python,
                and the loop's own generators by name
    extra       the loop's own records (history, seconds, ...): tensors, numbers, strings, lists, dicts

:func:`load_progress` restores all of it on ``--resume``, so a resumed run continues as the
uninterrupted one would; a checkpoint that is damaged or does not fit the model is refused in one
line (:class:`common.cli.RunError`, exit 2). Which arguments a resume must repeat is checked before,
by :func:`common.runs.check_run`.
"""

from __future__ import annotations

import pickle
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from common.cli import RunError
from common.runs import load_checkpoint, save_checkpoint

KEYS = ("model", "optimizer", "scheduler", "step", "best_model", "best_score", "best_step", "rng", "extra")
_DAMAGED = (
    RuntimeError,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    EOFError,
    OSError,
    pickle.UnpicklingError,
)


@dataclass
class Progress:
    """How far a loop got: ``step`` done, the best weights so far and their score, and the loop's ``extra`` records."""

    step: int = 0
    best_model: Any = None
    best_score: float | None = None
    best_step: int = 0
    extra: dict = field(default_factory=dict)

    def improves(self, score: float, higher_is_better: bool = True) -> bool:
        """Whether ``score`` beats the best so far (always true for the first one)."""
        if self.best_score is None:
            return True
        return score > self.best_score if higher_is_better else score < self.best_score

    def keep_best(self, model: Any, score: float, step: int) -> None:
        """Keep a copy of ``model``'s weights as the best, with their ``score`` and ``step``."""
        self.best_model, self.best_score, self.best_step = copy_weights(model), score, step


def state_of(obj: Any) -> Any:
    """``obj.state_dict()``; for a dict of modules or optimisers, a dict of them; {} for None."""
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return {k: state_of(v) for k, v in obj.items()}
    return obj.state_dict()


def load_state(obj: Any, state: Any) -> None:
    """The inverse of :func:`state_of`: load ``state`` into ``obj`` (a dict of them key by key)."""
    if obj is None:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            load_state(v, state[k])
    else:
        obj.load_state_dict(state)


def copy_weights(model: Any) -> Any:
    """A detached copy of ``model``'s state_dict (a dict of them for a dict of modules):
    the live tensors keep changing."""
    if isinstance(model, dict):
        return {k: copy_weights(v) for k, v in model.items()}
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def rng_state(generators: dict[str, torch.Generator] | None = None) -> dict:
    """The global random-number states (torch, CUDA, NumPy, Python ``random``) and those of ``generators``."""
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss_next": gauss_next},
        "generators": {name: g.get_state() for name, g in (generators or {}).items()},
    }


def set_rng_state(state: dict, generators: dict[str, torch.Generator] | None = None) -> None:
    """Restore what :func:`rng_state` recorded; the CUDA states only on a machine with as many devices."""
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"].tolist()), p["gauss_next"]))
    for name, g in (generators or {}).items():
        g.set_state(state["generators"][name].cpu())


def save_progress(
    path: str | Path,
    progress: Progress,
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    generators: dict[str, torch.Generator] | None = None,
) -> None:
    """Write the checkpoint of the layout above to ``path``, atomically.

    Args:
        path: the checkpoint file (``checkpoint.pt``, or one per model of a run that trains several).
        progress: the step done, the best weights and score, the loop's ``extra`` records.
        model: a module (or a dict of modules); optimizer, scheduler: likewise, or None.
        generators: the loop's own random generators by name (a loader's shuffling, augmentation).
    """
    save_checkpoint(
        path,
        {
            "model": state_of(model),
            "optimizer": state_of(optimizer),
            "scheduler": state_of(scheduler),
            "step": progress.step,
            "best_model": progress.best_model,
            "best_score": progress.best_score,
            "best_step": progress.best_step,
            "rng": rng_state(generators),
            "extra": progress.extra,
        },
    )


def load_progress(
    path: str | Path,
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    generators: dict[str, torch.Generator] | None = None,
    *,
    resume: bool,
    device: str | torch.device = "cpu",
    required: bool = False,
) -> Progress:
    """A fresh :class:`Progress`, or with ``resume`` the one saved at ``path``, everything restored.

    Args:
        path: the checkpoint :func:`save_progress` wrote.
        model, optimizer, scheduler, generators: what :func:`save_progress` was given; loaded in place.
        resume: ``--resume``; without it nothing is read.
        device: where the checkpoint's tensors go.
        required: refuse a resume without a checkpoint at ``path`` (else it starts afresh, as a run that
            trains several models does for one it had not reached).

    Returns:
        The :class:`Progress` to continue from. Raises :class:`common.cli.RunError` (one line) for a missing
        (``required``), damaged or mismatched checkpoint.
    """
    path = Path(path)
    if not resume or not (required or path.is_file()):
        return Progress()
    if not path.is_file():
        raise RunError(f"--resume: {path.parent} has no {path.name}; start it again with --overwrite")
    try:
        ckpt = load_checkpoint(path, device)
        if missing := [k for k in KEYS if k not in ckpt]:
            raise KeyError(f"no {', '.join(missing)}: another layout")
        load_state(model, ckpt["model"])
        load_state(optimizer, ckpt["optimizer"] if optimizer is not None else None)
        load_state(scheduler, ckpt["scheduler"] if scheduler is not None else None)
        set_rng_state(ckpt["rng"], generators)
        progress = Progress(ckpt["step"], ckpt["best_model"], ckpt["best_score"], ckpt["best_step"], ckpt["extra"])
    except _DAMAGED as e:
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise RunError(
            f"cannot resume from {path}: it is damaged or does not match this model and flags "
            f"({type(e).__name__}: {first_line}); start the run again with --overwrite"
        ) from None
    print(f"resuming {path} after step {progress.step}")
    return progress


def save_extra(path: str | Path, extra: dict) -> None:
    """Replace the ``extra`` records of the checkpoint at ``path`` (results computed after training, such as a
    finished run's test fit), atomically; weights, optimiser and random states stay as they were saved."""
    ckpt = load_checkpoint(path)
    save_checkpoint(path, {**ckpt, "extra": extra})
