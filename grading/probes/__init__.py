"""Probes: what the worker asks of the student's code, one probe per graded check of the rubric.

A probe runs in the sandboxed worker (:mod:`grading.worker`): it builds the check's inputs from a seeded
generator, calls the student's code, and returns what it observed (tensors, arrays, numbers, strings).
It decides nothing. The grader's trusted process runs the same probe on the reference solution first, and
compares (:mod:`grading.judge`): by default every value must match the reference's (within ``rtol``/``atol``;
strings, shapes and integers exactly); a probe with a ``judge`` is decided by that function instead, which
gets the student's values and the reference's and returns the reason it failed, or ``None``.

A probe is named after the rubric's test it stands for (``grading/rubric.py``), so the public tests a
student runs locally and the grader ask the same questions; ``tests/grading`` checks the pairing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

ASSIGNMENTS = ("medical_cnn", "autoencoders", "auto_decoder", "backprop", "mri_cs")


@dataclass(frozen=True)
class Check:
    """One probe: where it belongs, what it runs, and how its values are compared."""

    assignment: str
    problem: str
    name: str
    run: Callable[[np.random.Generator], dict[str, Any]]
    rtol: float = 1e-5
    atol: float = 1e-6
    judge: Callable[[dict, dict], str | None] | None = None


REGISTRY: list[Check] = []


def probe(assignment: str, problem: str, rtol: float = 1e-5, atol: float = 1e-6, judge=None) -> Callable:
    """Register the decorated function as the probe of check ``<its name>`` of ``assignment`` problem ``problem``."""

    def register(fn: Callable) -> Callable:
        REGISTRY.append(Check(assignment, problem, fn.__name__, fn, rtol, atol, judge))
        return fn

    return register


def load_all() -> None:
    for name in ASSIGNMENTS:
        importlib.import_module(f"grading.probes.{name}")


def checks_of(assignment: str, problem: str) -> list[Check]:
    """The probes of one problem, in the order they are written."""
    importlib.import_module(f"grading.probes.{assignment}")
    return [c for c in REGISTRY if c.assignment == assignment and c.problem == problem]


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, at most 200 characters."""
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def to_array(value: Any) -> np.ndarray:
    """A plain (never object) array of ``value``: a tensor, an array, a number, a string, a list of these."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind == "O":
        array = np.asarray([str(v) for v in np.ravel(array)])
    if array.dtype.kind == "V":
        raise TypeError("structured arrays are not accepted")
    return array


def to_arrays(values: dict[str, Any]) -> dict[str, np.ndarray]:
    return {str(key): to_array(value) for key, value in values.items()}


def raised(fn: Callable, *args, **kwargs) -> str:
    """The name of the exception ``fn(*args)`` raises, or ``"no error"``."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__
    return "no error"


def raised_with(fn: Callable, text: str, *args) -> str:
    """``"ValueError mentioning 'text'"`` style: the exception's name and whether its message holds ``text``."""
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}" + (f" mentioning {text!r}" if text in str(exc) else " without the words " + text)
    return "no error"


def randn(rng: np.random.Generator, *shape: int, dtype: str = "float32"):
    """A torch tensor of standard normal values from ``rng`` (independent of torch's global generator)."""
    import torch

    return torch.from_numpy(rng.standard_normal(shape).astype(dtype))


def rand(rng: np.random.Generator, *shape: int, dtype: str = "float32"):
    import torch

    return torch.from_numpy(rng.random(shape).astype(dtype))
