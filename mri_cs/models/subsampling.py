"""The k-space subsampling layer: a fixed random mask or one learned jointly with the network.

Every k-space position ``(u, v)`` of an ``H x W`` grid has a continuous score; the binary mask keeps
the ``k = round((1 - drop_rate) * H * W)`` highest (top-k), so the sampling budget is exact at every
step. One mask entry covers the real and the imaginary part of a sample together.

Fixed mask (``learn_mask=False``, the course's baseline): seeded uniform random scores, i.e. a uniform
random mask; ``mask=`` picks another family (``masks.py``), fixed or as a learned mask's start.

Learned mask (``learn_mask=True``): the backward pass goes straight through top-k
(``hard + scores - scores.detach()``), so a dropped position's gradient says how much measuring it would
lower the loss. The scores are a buffer, not a parameter; the training loop calls
:meth:`SubsamplingLayer.mask_grad` after ``optimizer.step()``. Rules that make the mask settle: a
variable-density start, a step standardised separately over measured and dropped positions and capped
at ``lr``, an always-measured central region (``CENTRE_FRACTION``), and a step annealed to 0 for the last
third of the epochs (``train.py``). Why each rule exists: the README's "The subsampling layer and how the
mask learns".
"""

from __future__ import annotations

import torch
from torch import nn

from mri_cs.data.transforms import complex_abs, ifft2
from mri_cs.models.masks import (
    CARTESIAN,
    PRIOR_WEIGHT,
    cartesian_lines,
    centre_distance,  # noqa: F401 (re-exported)
    course_family,
    initial_scores,
)

CENTRE_FRACTION = 0.02  # share of k-space, closest to the centre, that a learned mask always measures


class SubsamplingLayer(nn.Module):
    """Drop a fraction ``drop_rate`` of k-space and return the zero-filled magnitude image.

    Args:
        drop_rate: fraction of k-space positions dropped, in ``[0, 1)``.
        device: where the scores live.
        learn_mask: whether :meth:`mask_grad` updates the scores.
        shape: k-space size ``(H, W)``.
        seed: seed of the random initial scores, so a fixed mask is the same for every model of a run.
        mask: the family of the (initial) mask, one of ``masks.FAMILIES``; ``None``: the course's
            (:func:`course_family`). A Cartesian family keeps whole lines, ``num_keep`` a multiple of ``H``.
        centre_fraction: a Cartesian mask's central band, a fraction of the lines (``None``: fastMRI's).
        prior_weight: the variable-density family's share of the centre-first prior (``masks.PRIOR_WEIGHT``).
    """

    def __init__(
        self,
        drop_rate: float,
        device: torch.device | str,
        learn_mask: bool,
        shape: tuple[int, int] = (128, 128),
        seed: int = 0,
        mask: str | None = None,
        centre_fraction: float | None = None,
        prior_weight: float = PRIOR_WEIGHT,
    ):
        super().__init__()
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.drop_rate = drop_rate
        self.learn_mask = learn_mask
        self.shape = tuple(shape)
        self.family, self.centre_fraction = mask or course_family(learn_mask), centre_fraction
        self.prior_weight = prior_weight
        scores, self.num_keep = initial_scores(self.family, self.shape, drop_rate, seed, centre_fraction, prior_weight)
        # A buffer, not a Parameter: saved in state_dict (the mask travels with the checkpoint)
        # but invisible to optimizer(model.parameters()).
        self.register_buffer("scores", scores.to(device))
        # Not saved: it follows from the shape and the drop rate (and checkpoints of earlier code still load).
        centre = learn_mask or self.family == "variable-density"  # the fixed variable-density mask: the learned start
        self.register_buffer(
            "always", self.centre_region() if centre else torch.zeros(self.shape, dtype=torch.bool), persistent=False
        )
        self.always = self.always.to(device)

    def centre_region(self) -> torch.Tensor:
        """``(H, W)`` bool: the ``round(CENTRE_FRACTION * H * W)`` positions closest to the k-space centre (at most
        ``num_keep``; the DC sample always among them)."""
        n = min(max(round(CENTRE_FRACTION * self.scores.numel()), 1), self.num_keep)
        region = torch.zeros(self.scores.numel(), dtype=torch.bool)
        region[torch.argsort(centre_distance(self.shape).flatten(), stable=True)[:n]] = True
        return region.view(self.shape)

    def hard_mask(self) -> torch.Tensor:
        """The binary mask ``(H, W)``: 1 at the ``num_keep`` highest scores (a learned mask ranks its central
        region first)."""
        ranked = self.scores.detach().masked_fill(self.always, float("inf"))
        flat = torch.zeros(ranked.numel(), device=ranked.device)
        flat[torch.topk(ranked.flatten(), self.num_keep).indices] = 1.0
        return flat.view(self.shape)

    def mask(self) -> torch.Tensor:
        """The mask ``(H, W)`` used in the forward pass: binary values, straight-through gradient to the scores."""
        hard = self.hard_mask()
        if not (self.learn_mask and self.training):
            return hard
        # model.to(...) swaps buffers for copies that autograd records as results, not leaves, and only
        # leaves collect .grad: make sure the scores are a leaf that requires grad.
        if not (self.scores.is_leaf and self.scores.requires_grad):
            self.scores = self.scores.detach().requires_grad_()
        return hard + self.scores - self.scores.detach()

    def subsample(self, kspace: torch.Tensor) -> torch.Tensor:
        """Masked k-space ``(B, H, W, 2)`` (dropped samples set to zero) of a full k-space ``(B, H, W, 2)``."""
        if kspace.ndim != 4 or tuple(kspace.shape[1:]) != (*self.shape, 2):
            raise ValueError(
                f"kspace must have shape (B, {self.shape[0]}, {self.shape[1]}, 2), got {tuple(kspace.shape)}"
            )
        return kspace * self.mask()[None, :, :, None]  # same mask entry for the real and the imaginary part

    def forward(self, kspace: torch.Tensor) -> torch.Tensor:
        """Zero-filled magnitude image ``(B, 1, H, W)`` of a full k-space ``(B, H, W, 2)``."""
        return complex_abs(ifft2(self.subsample(kspace))).unsqueeze(1)

    @torch.no_grad()
    def mask_grad(self, lr: float) -> float:
        """One capped, standardised gradient step on the scores, then clamp them to ``[0, 1]``, in place.

        The gradient is standardised (minus its mean, over its standard deviation) separately over
        the measured (outside the central region) and over the dropped positions of the current mask,
        then clipped to ``[-1, 1]``: no score moves by more than ``lr``. Returns the largest score
        change of this step (0 when the mask is fixed, ``lr`` is 0, or no gradient has reached the
        scores yet).
        """
        if not self.learn_mask or self.scores.grad is None:
            return 0.0
        grad, kept = self.scores.grad, self.hard_mask().bool()
        z = torch.zeros_like(grad)
        for group in (kept & ~self.always, ~kept):  # the always-measured centre takes no step
            if int(group.sum()) > 1:
                z[group] = (grad[group] - grad[group].mean()) / (grad[group].std() + 1e-12)
        before = self.scores.clone()
        self.scores.sub_(lr * z.clamp(-1.0, 1.0)).clamp_(0.0, 1.0)
        self.scores.grad = None
        return float((self.scores - before).abs().max())

    def mask_info(self) -> dict:
        """What a run folder records of the mask: family, budget asked for, positions (and lines) kept."""
        h, w = self.shape
        info = {
            "family": self.family,
            "num_keep": self.num_keep,
            "keep_fraction": self.num_keep / (h * w),
            "target_keep_fraction": 1.0 - self.drop_rate,
        }
        if self.family == "variable-density":
            info["prior_weight"] = self.prior_weight
        if self.family in CARTESIAN:
            lines, band = cartesian_lines(w, self.drop_rate, self.centre_fraction)
            info.update(
                lines=lines, centre_lines=band, line_axis="columns (W): each line is a full column of H samples"
            )
        return info

    def extra_repr(self) -> str:
        return (
            f"drop_rate={self.drop_rate}, learn_mask={self.learn_mask}, shape={self.shape}, keep={self.num_keep}, "
            f"family={self.family}"
        )
