"""The k-space subsampling layer: a fixed random mask or one learned jointly with the network.

Every k-space position ``(u, v)`` of an ``H x W`` grid has a continuous score. The
binary mask keeps the ``k = round((1 - drop_rate) * H * W)`` positions with the highest
scores (top-k), so the sampling budget is exactly the requested one at every step.
One mask entry covers both the real and the imaginary part of a sample: an MRI
scanner measures the complex value or nothing.

Fixed mask (``learn_mask=False``, the course's baseline): the scores are uniform random
numbers seeded by ``seed``, so the mask is a uniform random mask; nothing below applies.
The ``mask`` keyword picks another family (``masks.py``: variable-density, Cartesian lines), fixed
or as a learned mask's start; its default keeps the course's two scenarios as they are.

Learning the mask (``learn_mask=True``). top-k has zero gradient almost everywhere, so
the backward pass goes *straight through* it: ``mask = hard + scores - scores.detach()``
equals the binary mask in the forward pass and has ``d mask / d scores = 1``. The
gradient at a dropped position therefore tells how much the loss would fall if that
sample were measured. The optimizer never sees the scores (they are a buffer, not a
parameter); the training loop calls :meth:`SubsamplingLayer.mask_grad` after
``optimizer.step()``. Four rules make the learned mask settle instead of jumping:

* **Variable-density start.** The scores start as ``PRIOR_WEIGHT * (1 - r) + (1 -
  PRIOR_WEIGHT) * u``: ``r`` the distance from the k-space centre (0 at the centre, 1 in
  the corners), ``u`` the same seeded uniform numbers as the fixed mask. The first mask
  is a variable-density random mask (dense centre, sparse edges, the classical
  compressed-sensing design), not a uniform one whose first steps must first drag the
  centre in. Runs at different drop rates with the same seed start from the same
  scores, so their initial masks are nested: a higher drop rate keeps a subset.
* **Measured and dropped positions standardised apart, capped step.** The straight-through
  gradient is biased by the mask itself: at a dropped position it says how much measuring
  the sample would help, at a measured one how much measuring it "more" would, and the two
  groups differ systematically (measured samples look removable, dropped ones addable).
  The course's step (gradient minus its mean over all positions, divided by its standard
  deviation; clipped as below) therefore pushed every measured score down and every
  dropped score up, and the scores collapsed onto the top-k threshold: at the end of a
  25-epoch default run 14,384 of the 16,384 scores were within 0.001 of it, and 19 to
  38 % of the mask had changed in every epoch, the central samples included
  (``results/mri_cs/mask_trials``). :meth:`mask_grad` standardises the gradient within each
  group instead (measured positions against measured ones, dropped against dropped): a
  step moves a measured sample down only if it helps less than the other measured ones,
  a dropped one up only if it would help more than the other dropped ones, and the mask
  changes where the two meet. The standardised gradient is then clipped to ``[-1, 1]``:
  no score moves by more than ``lr`` in one step (one batch's central gradient is dozens
  of standard deviations out, and without the clip it threw a score across the whole
  ``[0, 1]`` range in one step). A step scaled by the 99th percentile of the gradient's
  magnitude instead of the standard deviation was also tried and reverted (2cd6f14): it
  moved the bulk by up to ``lr`` every step. The scores are clamped to ``[0, 1]`` in place
  afterwards.
* **A small central region is always measured.** :meth:`hard_mask` ranks the
  ``CENTRE_FRACTION`` (2 %) of positions closest to the k-space centre first for a learned
  mask, like the fully sampled calibration region of clinical undersampling patterns:
  they carry the image's mean and coarse shape, no reconstruction does without them, and
  their straight-through gradient is the least trustworthy of all (large and of either
  sign while measured: removing one of them changes the image far beyond the first-order
  estimate). With only the DC sample forced, samples next to it left and re-entered the
  mask: from epoch 3 on at most 2 % of the mask changed per epoch, and yet the validation
  zero-filled PSNR jumped between 14.5 and 37.9 dB. The region is left out of the
  standardisation above.
* **Frozen end.** The training loop (``train.py``, ``--mask-freeze``) calls
  ``mask_grad(0)`` in the last third of the epochs: the mask is final and the network
  adapts to that mask while its own learning rate anneals, so the validation PSNR of
  those epochs moves only with the network. Before that the step decays along a half
  cosine to 0 at the freeze (``train.mask_step_factor``), so the mask settles first.
"""

from __future__ import annotations

import torch
from torch import nn

from mri_cs.data.transforms import complex_abs, ifft2
from mri_cs.models.masks import (CARTESIAN, PRIOR_WEIGHT, cartesian_lines, centre_distance,  # noqa: F401 (re-exported)
                                 course_family, initial_scores)

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
    """

    def __init__(self, drop_rate: float, device: torch.device | str, learn_mask: bool,
                 shape: tuple[int, int] = (128, 128), seed: int = 0, mask: str | None = None,
                 centre_fraction: float | None = None):
        super().__init__()
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.drop_rate = drop_rate
        self.learn_mask = learn_mask
        self.shape = tuple(shape)
        self.family, self.centre_fraction = mask or course_family(learn_mask), centre_fraction
        scores, self.num_keep = initial_scores(self.family, self.shape, drop_rate, seed, centre_fraction)
        # A buffer, not a Parameter: saved in state_dict (the mask travels with the checkpoint)
        # but invisible to optimizer(model.parameters()).
        self.register_buffer("scores", scores.to(device))
        # Not saved: it follows from the shape and the drop rate (and checkpoints of earlier code still load).
        centre = learn_mask or self.family == "variable-density"  # the fixed variable-density mask: the learned start
        self.register_buffer("always", self.centre_region() if centre else torch.zeros(self.shape, dtype=torch.bool),
                             persistent=False)
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
            raise ValueError(f"kspace must have shape (B, {self.shape[0]}, {self.shape[1]}, 2), got {tuple(kspace.shape)}")
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
        info = {"family": self.family, "num_keep": self.num_keep, "keep_fraction": self.num_keep / (h * w),
                "target_keep_fraction": 1.0 - self.drop_rate}
        if self.family in CARTESIAN:
            lines, band = cartesian_lines(w, self.drop_rate, self.centre_fraction)
            info.update(lines=lines, centre_lines=band, line_axis="columns (W): each line is a full column of H samples")
        return info

    def extra_repr(self) -> str:
        return (f"drop_rate={self.drop_rate}, learn_mask={self.learn_mask}, shape={self.shape}, keep={self.num_keep}, "
                f"family={self.family}")
