"""Checks of data values, run by every loader before training starts.

A loader that reads a file calls these with the file's name; each raises
:class:`common.cli.DataError` with one line naming the file and what is wrong with it, so bad
data never trains silently (labels outside the classes, NaN pixels, masks that are not
binary). They accept NumPy arrays and torch tensors alike and never copy more than needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from common.cli import DataError


def _array(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def check_not_empty(n: int, source: Any, what: str = "images") -> None:
    """At least one item: an empty split cannot train or be scored."""
    if n <= 0:
        raise DataError(f"{source}: no {what} (an empty split)")


def check_labels(labels: Any, n_classes: int, source: Any, n_items: int | None = None) -> None:
    """Whole-number class labels in ``0 .. n_classes - 1``, one per item (``n_items`` when given)."""
    arr = _array(labels)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or (n_items is not None and len(arr) != n_items):
        want = f"({n_items},)" if n_items is not None else "one per image"
        raise DataError(f"{source}: labels of shape {tuple(_array(labels).shape)}, expected {want}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise DataError(f"{source}: labels must be whole class numbers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        bad = arr[(arr < 0) | (arr >= n_classes)]
        raise DataError(
            f"{source}: label {bad[0]:g} is outside the {n_classes} classes 0..{n_classes - 1} ({len(bad)} such labels)"
        )


def check_images(
    images: Any,
    source: Any,
    *,
    value_range: tuple[float, float] | None = None,
    dtypes: Sequence[str] | None = None,
    ndim: int | Sequence[int] | None = None,
) -> None:
    """Finite pixels (or complex k-space samples) of an expected dtype kind
    (``dtypes``, e.g. ``("uint8",)`` or ``("float",)``), dimension count and value range (inclusive)."""
    arr = _array(images)
    if dtypes is not None and not any(_dtype_matches(arr.dtype, d) for d in dtypes):
        raise DataError(f"{source}: images of dtype {arr.dtype}, expected {' or '.join(dtypes)}")
    if ndim is not None and arr.ndim not in ((ndim,) if isinstance(ndim, int) else tuple(ndim)):
        raise DataError(f"{source}: images of shape {arr.shape}, expected {ndim} dimensions")
    if arr.dtype.kind == "b" or arr.size == 0:
        return
    if arr.dtype.kind not in "iufc":
        raise DataError(f"{source}: images of dtype {arr.dtype}, expected numbers")
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        n = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise DataError(f"{source}: {n} pixels are NaN or infinite")
    if value_range is not None and arr.dtype.kind != "c":
        lo, hi = float(arr.min()), float(arr.max())
        if lo < value_range[0] or hi > value_range[1]:
            raise DataError(
                f"{source}: pixel values span {lo:g}..{hi:g}, expected {value_range[0]:g}..{value_range[1]:g}"
            )


def check_mask(mask: Any, source: Any, shape: tuple[int, ...] | None = None) -> None:
    """A binary segmentation mask (only two values: 0 and 1, or 0 and 255, or booleans), of ``shape`` when given."""
    arr = _array(mask)
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise DataError(f"{source}: mask of shape {tuple(arr.shape)}, the image is {tuple(shape)}")
    if arr.dtype.kind == "b":
        return
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise DataError(f"{source}: the mask holds NaN or infinite values")
    values = np.unique(arr)
    if not (set(values.tolist()) <= {0, 1} or set(values.tolist()) <= {0, 255}):
        shown = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if len(values) > 5 else "")
        raise DataError(f"{source}: the mask is not binary (values {shown}); expected 0/1 or 0/255")


def _dtype_matches(dtype: np.dtype, name: str) -> bool:
    if name == "float":
        return dtype.kind == "f"
    if name == "int":
        return dtype.kind in "iu"
    return dtype == np.dtype(name)
