"""Fixed-mask families: the initial scores of a :class:`~mri_cs.models.subsampling.SubsamplingLayer`.

Every family gives scores ``(H, W)`` in ``[0, 1]`` whose top ``num_keep`` entries are its mask, so the layer's
top-k (and a learned mask's first step) works the same for all of them:

* ``uniform``: uniform random scores, the course's fixed mask.
* ``variable-density``: the learned mask's start, ``w * (1 - r) + (1 - w) * u`` with the central
  ``CENTRE_FRACTION`` always measured (the layer adds that region); ``w`` (``PRIOR_WEIGHT`` by default) shapes
  the density from uniform (0) to a fully sampled disc (1), and the benchmark tunes it on validation.
* ``cartesian-random`` / ``cartesian-equispaced``: whole phase-encode lines (columns, each of H samples, as
  fastMRI's ``RandomMaskFunc`` / ``EquispacedMaskFunc``): a fully sampled band of ``round(centre_fraction * W)``
  central columns, the rest of the ``(1 - drop_rate) * W`` lines random or equispaced (seeded offset). deepinv's
  generators floor the band instead of rounding it; the tests check that the two agree where floor and round do.

torch is imported inside the functions that need it: ``main.py`` checks a Cartesian budget with
:func:`cartesian_lines` before torch loads.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

FAMILIES = ("uniform", "variable-density", "cartesian-random", "cartesian-equispaced")
CARTESIAN = ("cartesian-random", "cartesian-equispaced")
PRIOR_WEIGHT = 0.5  # the course's share of the centre-first prior in the variable-density scores (rest: uniform)
# The central band holds this share of the measured lines: fastMRI's pairs, 0.08 of the lines at 4x, 0.04 at 8x.
BAND_SHARE = 0.32


def centre_distance(shape: tuple[int, int]) -> torch.Tensor:
    """Distance ``(H, W)`` of every k-space position from the centre ``(H // 2, W // 2)``, per axis in units of
    the half size, scaled so that the corners are 1."""
    import torch

    h, w = shape
    yy, xx = torch.meshgrid(torch.arange(h) - h // 2, torch.arange(w) - w // 2, indexing="ij")
    r = torch.hypot(yy / (h / 2), xx / (w / 2))
    return r / r.max()


def course_family(learn_mask: bool) -> str:
    """The family of the course's two scenarios: ``uniform`` for a fixed mask, the centre-first
    ``variable-density`` start for a learned one."""
    return "variable-density" if learn_mask else "uniform"


def default_centre_fraction(drop_rate: float) -> float:
    """fastMRI's centre fraction for a drop rate: ``BAND_SHARE / acceleration`` (0.08 at 4x, 0.04 at 8x)."""
    return BAND_SHARE * (1.0 - drop_rate)


def cartesian_lines(width: int, drop_rate: float, centre_fraction: float | None = None) -> tuple[int, int]:
    """``(lines measured, lines in the central band)`` of a Cartesian mask over ``width`` columns.

    Raises ``ValueError`` when the band rounds to no line (a grid too small for it) or when the band alone
    exceeds the budget of ``(1 - drop_rate) * width`` lines by more than one line.
    """
    fraction = default_centre_fraction(drop_rate) if centre_fraction is None else centre_fraction
    target = (1.0 - drop_rate) * width
    band = round(fraction * width)
    if band < 1:
        raise ValueError(
            f"a Cartesian mask's central band of {fraction:.3g} x {width} lines rounds to no line: "
            f"the {width}-line grid is too small for it (use a larger --resolution or --centre-fraction)"
        )
    lines = max(round(target), band)
    if lines - target > 1:
        raise ValueError(
            f"a Cartesian mask's central band of {band} lines exceeds the budget of {target:.1f} of "
            f"{width} lines (drop rate {drop_rate:g}) by more than one line (use a smaller --centre-fraction)"
        )
    return min(lines, width), band


def cartesian_mask(
    shape: tuple[int, int], drop_rate: float, equispaced: bool, seed: int = 0, centre_fraction: float | None = None
) -> torch.Tensor:
    """Binary mask ``(H, W)`` of whole columns: the central band plus random or equispaced outer columns."""
    import torch

    h, w = shape
    lines, band = cartesian_lines(w, drop_rate, centre_fraction)
    start = (w - band + 1) // 2  # fastMRI's pad
    columns = torch.zeros(w, dtype=torch.bool)
    columns[start : start + band] = True
    outer = (~columns).nonzero().flatten()
    n_outer = lines - band
    gen = torch.Generator().manual_seed(seed)
    if n_outer > 0:
        if equispaced:  # n_outer columns spaced evenly over the outer ones, a seeded offset within one spacing
            step = len(outer) / n_outer
            offset = float(torch.rand((), generator=gen)) * step
            picked = outer[[min(math.floor(offset + i * step), len(outer) - 1) for i in range(n_outer)]]
        else:
            picked = outer[torch.randperm(len(outer), generator=gen)[:n_outer]]
        columns[picked] = True
    return columns[None, :].expand(h, w).float()


def initial_scores(
    family: str,
    shape: tuple[int, int],
    drop_rate: float,
    seed: int = 0,
    centre_fraction: float | None = None,
    prior_weight: float = PRIOR_WEIGHT,
) -> tuple[torch.Tensor, int]:
    """``(scores (H, W) in [0, 1], num_keep)`` of a family; the mask is the top ``num_keep`` scores.

    ``uniform`` and ``variable-density`` keep ``round((1 - drop_rate) * H * W)`` positions and draw their
    noise exactly as the course's layer does (``torch.rand`` with ``seed``); a Cartesian family keeps its lines.
    """
    import torch

    if family not in FAMILIES:
        raise ValueError(f"unknown mask family {family!r}; choose one of {', '.join(FAMILIES)}")
    uniform = torch.rand(tuple(shape), generator=torch.Generator().manual_seed(seed))
    if family == "uniform":
        return uniform, round((1.0 - drop_rate) * shape[0] * shape[1])
    if family == "variable-density":
        if not 0.0 <= prior_weight <= 1.0:
            raise ValueError(f"the variable-density prior weight must be in [0, 1], got {prior_weight}")
        scores = prior_weight * (1 - centre_distance(tuple(shape))) + (1 - prior_weight) * uniform
        return scores, round((1.0 - drop_rate) * shape[0] * shape[1])
    mask = cartesian_mask(tuple(shape), drop_rate, family == "cartesian-equispaced", seed, centre_fraction)
    return 0.5 * mask + 0.5 * uniform * (1 - 1e-6), int(mask.sum())  # measured lines above every other score
