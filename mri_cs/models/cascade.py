"""An unrolled reconstruction (the DC-CNN / MoDL family): small CNNs alternating with data consistency.

Stage ``t`` refines the complex image with a residual CNN, ``x <- x + cnn_t(x)``, then pulls its k-space back
towards the measurements, ``k <- k + w_t * m * (y - k)``, with a learned weight ``w_t = sigmoid(a_t)`` in
``(0, 1)``: soft data consistency, because measured samples carry noise (``w_t -> 1`` is the hard
replacement). Every stage sees the measurements again, where a single network with one final data
consistency (``model.py``) must get everything right in one pass. Each CNN's last convolution starts at zero,
so the untrained model returns its zero-filled input, which is already consistent with the measurements.
"""

from __future__ import annotations

import torch
from torch import nn

from mri_cs.data.transforms import complex_abs, fft2, ifft2
from mri_cs.models.subsampling import SubsamplingLayer

DC_START = 2.0  # a_t at initialisation: w_t = sigmoid(2) ~ 0.88


def stage_cnn(width: int, layers: int) -> nn.Sequential:
    """``layers`` 3x3 convolutions ``2 -> width -> ... -> 2`` with LeakyReLU between; the last starts at zero."""
    chans = [2] + [width] * (layers - 1) + [2]
    convs = [nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans[:-1], chans[1:])]
    nn.init.zeros_(convs[-1].weight)
    nn.init.zeros_(convs[-1].bias)
    body: list[nn.Module] = []
    for conv in convs[:-1]:
        body += [conv, nn.LeakyReLU(0.1, inplace=True)]
    return nn.Sequential(*body, convs[-1])


class CascadeModel(nn.Module):
    """Subsampling -> zero-filled complex image -> ``stages`` x (residual CNN, soft data consistency) -> magnitude.

    ``forward``: full k-space ``(B, H, W, 2)`` -> magnitude ``(B, 1, H, W)``; only the samples the layer
    ``self.subsample`` keeps are used. Same signature as :class:`~mri_cs.models.model.ReconstructionModel`.
    """

    def __init__(
        self,
        drop_rate: float,
        device: torch.device | str,
        learn_mask: bool,
        shape: tuple[int, int] = (128, 128),
        mask_seed: int = 0,
        width: int = 32,
        stages: int = 5,
        layers: int = 4,
    ):
        super().__init__()
        if stages < 1 or layers < 2:
            raise ValueError(f"a cascade needs at least 1 stage of at least 2 layers, got {stages} and {layers}")
        self.subsample = SubsamplingLayer(drop_rate, device, learn_mask, shape, seed=mask_seed)
        self.cnns = nn.ModuleList([stage_cnn(width, layers) for _ in range(stages)])
        self.dc_logits = nn.Parameter(torch.full((stages,), DC_START))

    def forward(self, kspace: torch.Tensor) -> torch.Tensor:
        """Reconstructed magnitude ``(B, 1, H, W)`` of full k-space ``(B, H, W, 2)`` (subsampled inside)."""
        mask = self.subsample.mask()[None, :, :, None]
        measured = kspace * mask
        image = ifft2(measured)  # (B, H, W, 2)
        for cnn, logit in zip(self.cnns, self.dc_logits):
            image = image + cnn(image.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
            k = fft2(image)
            image = ifft2(k + torch.sigmoid(logit) * mask * (measured - k))
        return complex_abs(image).unsqueeze(1)
