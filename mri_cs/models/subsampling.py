"""The k-space subsampling layer: a fixed random mask or one learned jointly with the network.

Every k-space position ``(u, v)`` of an ``H x W`` grid has a continuous score. The
binary mask keeps the ``k = round((1 - drop_rate) * H * W)`` positions with the highest
scores (top-k), so the sampling budget is exactly the requested one at every step.
One mask entry covers both the real and the imaginary part of a sample: an MRI
scanner measures the complex value or nothing.

Learning the mask (``learn_mask=True``). top-k has zero gradient almost everywhere, so
the backward pass goes *straight through* it: ``mask = hard + scores - scores.detach()``
equals the binary mask in the forward pass and has ``d mask / d scores = 1``. The
gradient at a dropped position therefore tells how much the loss would fall if that
sample were measured. The optimizer never sees the scores (they are a buffer, not a
parameter); the training loop calls :meth:`SubsamplingLayer.mask_grad` after
``optimizer.step()``, which takes a normalised gradient step on the scores and clamps
them in place to ``[0, 1]``.

Only ranks matter for top-k, so :meth:`mask_grad` removes the mean of the gradient
(a shift of all scores changes nothing) and divides by its standard deviation: the
k-space gradient spans orders of magnitude between the centre and the edges, and the
normalised step makes ``lr`` a step in score units, comparable to the ``[0, 1)``
spread of the initial random scores, so the ranks can actually change.
"""

from __future__ import annotations

import torch
from torch import nn

from mri_cs.data.transforms import complex_abs, ifft2


class SubsamplingLayer(nn.Module):
    """Drop a fraction ``drop_rate`` of k-space and return the zero-filled magnitude image.

    Args:
        drop_rate: fraction of k-space positions dropped, in ``[0, 1)``.
        device: where the scores live.
        learn_mask: whether :meth:`mask_grad` updates the scores.
        shape: k-space size ``(H, W)``.
        seed: seed of the random initial scores, so a fixed mask is the same for every model of a run.
    """

    def __init__(self, drop_rate: float, device: torch.device | str, learn_mask: bool,
                 shape: tuple[int, int] = (128, 128), seed: int = 0):
        super().__init__()
        if not 0.0 <= drop_rate < 1.0:
            raise ValueError(f"drop_rate must be in [0, 1), got {drop_rate}")
        self.drop_rate = drop_rate
        self.learn_mask = learn_mask
        self.shape = tuple(shape)
        self.num_keep = round((1.0 - drop_rate) * shape[0] * shape[1])
        generator = torch.Generator().manual_seed(seed)
        # A buffer, not a Parameter: saved in state_dict (the mask travels with the checkpoint)
        # but invisible to optimizer(model.parameters()).
        self.register_buffer("scores", torch.rand(self.shape, generator=generator).to(device))

    def hard_mask(self) -> torch.Tensor:
        """The binary mask ``(H, W)``: 1 at the ``num_keep`` highest scores."""
        flat = torch.zeros(self.scores.numel(), device=self.scores.device)
        flat[torch.topk(self.scores.detach().flatten(), self.num_keep).indices] = 1.0
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
    def mask_grad(self, lr: float) -> None:
        """One normalised gradient step on the scores, then clamp them to ``[0, 1]``, in place.

        Does nothing when the mask is fixed or no gradient has reached the scores yet.
        """
        if not self.learn_mask or self.scores.grad is None:
            return
        grad = self.scores.grad
        grad = (grad - grad.mean()) / (grad.std() + 1e-12)
        self.scores.sub_(lr * grad).clamp_(0.0, 1.0)
        self.scores.grad = None

    def extra_repr(self) -> str:
        return f"drop_rate={self.drop_rate}, learn_mask={self.learn_mask}, shape={self.shape}, keep={self.num_keep}"
