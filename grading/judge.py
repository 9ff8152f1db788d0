"""The verdicts, in the grader's trusted process: the worker's arrays against the reference's.

Nothing here imports or runs the student's code. A worker's output is read from its folder without following
links, size-capped, and loaded with ``allow_pickle=False``; a missing, unreadable or forged file fails the
problem's checks with the worker's fate (timed out, crashed) as the reason.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np

from grading.probes import Check
from grading.worker import ERROR, SEPARATOR

MAX_OUTPUT = 64 * 2**20
HIDDEN = "hidden check failed"


def read_private(path: Path, limit: int, owner: int | None = None) -> bytes | None:
    """The bytes of a regular file (not a link, at most ``limit`` bytes, owned by ``owner``), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit or (owner is not None and info.st_uid != owner):
            return None
        return os.read(fd, limit + 1)[:limit]
    finally:
        os.close(fd)


def load_output(path: Path, owner: int | None = None) -> dict[str, dict[str, np.ndarray]] | None:
    """``{check: {key: array}}`` of a worker's ``.npz``, or None when it is absent or not a plain npz of arrays."""
    data = read_private(path, MAX_OUTPUT, owner)
    if data is None:
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            flat = {key: npz[key] for key in npz.files}
    except Exception:  # noqa: BLE001  (anything malformed is simply no result)
        return None
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, value in flat.items():
        check, _, name = key.partition(SEPARATOR)
        out.setdefault(check, {})[name] = value
    return out


def _text(value: np.ndarray) -> str:
    text = str(value.item()) if value.ndim == 0 else np.array2string(value, threshold=8, edgeitems=2)
    return text if len(text) <= 80 else text[:77] + "..."


def compare(key: str, got: np.ndarray | None, want: np.ndarray, check: Check) -> str | None:
    """Why ``got`` is not the reference's ``want`` (None when it matches)."""
    if got is None:
        return f"{key}: no value"
    if want.dtype.kind in "USb" or got.dtype.kind in "USb":
        if got.shape != want.shape or not np.array_equal(got, want):
            return f"{key}: expected {_text(want)}, got {_text(got)}"
        return None
    if got.shape != want.shape:
        return f"{key}: expected shape {tuple(want.shape)}, got {tuple(got.shape)}"
    if want.dtype.kind in "iu" and got.dtype.kind in "iu":
        return None if np.array_equal(got, want) else f"{key}: expected {_text(want)}, got {_text(got)}"
    g, w = got.astype(np.complex128 if "c" in (got.dtype.kind, want.dtype.kind) else np.float64), want
    if np.allclose(g, w, rtol=check.rtol, atol=check.atol, equal_nan=True):
        return None
    if want.size == 1:
        return f"{key}: expected {_text(want)}, got {_text(got)}"
    diff = np.abs(g - w)
    worst = float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan")
    return f"{key}: differs from the expected values (largest difference {worst:.3g})"


def verdict(check: Check, got: dict[str, np.ndarray] | None, want: dict[str, np.ndarray], why_none: str) -> str | None:
    """The one-line reason ``check`` failed, or None when it passed."""
    if ERROR in want:
        return f"the reference failed this check ({_text(want[ERROR])}): a grader bug, tell the staff"
    if got is None:
        return why_none
    if ERROR in got:
        return _text(got[ERROR]) if got[ERROR].dtype.kind in "US" else "raised an error"
    if check.judge is not None:
        try:
            return check.judge(got, want)
        except Exception as exc:  # noqa: BLE001  (malformed values from the worker)
            return f"unexpected values ({type(exc).__name__})"
    for key, value in want.items():
        reason = compare(key, got.get(key), value, check)
        if reason:
            return reason
    return None
