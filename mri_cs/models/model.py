"""The reconstruction network: a U-Net on the zero-filled complex image, a residual
connection to that image, and a data-consistency step.

Loss: L1 between the output magnitude and the fully sampled magnitude. The reported score is
PSNR (an MSE), but L1 trains MRI U-Nets to sharper images and equal or better PSNR (the fastMRI
baselines use it), and its gradient does not fade as the error gets small, which keeps the mask
scores moving late in training. Why each part:

* 2 input channels, the real and imaginary part: subsampling spreads every pixel's energy into
  aliasing that has a phase, which the magnitude alone has thrown away;
* residual: the zero-filled image is already close to the target, so the network only predicts
  the aliasing to remove. The U-Net's last convolution starts at zero, so the untrained model
  returns exactly its zero-filled input;
* data consistency: the measured samples are known exactly, so the k-space of the output is
  overwritten with them. Written as ``k + m * (kspace - k)``, its gradient with respect to the
  mask ``m`` at a dropped position is how much the true sample would correct the prediction
  there, exactly the signal mask learning needs.
"""

from __future__ import annotations

import torch
from torch import nn

from mri_cs.data.transforms import complex_abs, fft2, ifft2
from mri_cs.models.subsampling import SubsamplingLayer


def conv_block(in_ch: int, out_ch: int) -> nn.Sequential:
    """Two 3x3 convolutions, each followed by instance norm and LeakyReLU (the fastMRI U-Net block)."""
    # BEGIN SOLUTION
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
        nn.InstanceNorm2d(out_ch),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
        nn.InstanceNorm2d(out_ch),
        nn.LeakyReLU(0.2, inplace=True),
    )
    # END SOLUTION


class UNet(nn.Module):
    """U-Net ``(B, in_ch, H, W) -> (B, out_ch, H, W)``; ``H`` and ``W`` must be divisible by ``2**depth``.

    Channels double at every one of the ``depth`` poolings, starting from ``width``.
    """

    def __init__(self, in_ch: int = 2, out_ch: int = 2, width: int = 32, depth: int = 3):
        # BEGIN SOLUTION
        super().__init__()
        self.depth = depth
        chans = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList(
            [conv_block(in_ch, chans[0])] + [conv_block(chans[i], chans[i + 1]) for i in range(depth)]
        )
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in reversed(range(depth))]
        )
        self.merge = nn.ModuleList([conv_block(2 * chans[i], chans[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(chans[0], out_ch, 1)
        self.pool = nn.AvgPool2d(2)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, H, W) -> (B, out_ch, H, W)``, ``H`` and ``W`` divisible by ``2**depth``."""
        # BEGIN SOLUTION
        if x.ndim != 4 or x.shape[-2] % 2**self.depth or x.shape[-1] % 2**self.depth:
            raise ValueError(f"expected (B, C, H, W) with H, W divisible by {2**self.depth}, got {tuple(x.shape)}")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()  # the bottleneck is x itself
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)
        # END SOLUTION


class ReconstructionModel(nn.Module):
    """Subsampling -> zero-filled complex image -> residual U-Net -> data consistency -> magnitude.

    ``forward``: full k-space ``(B, H, W, 2)`` -> reconstructed magnitude ``(B, 1, H, W)``.
    Only the measured samples of the input are ever used in the forward pass.
    """

    def __init__(
        self,
        drop_rate: float,
        device: torch.device | str,
        learn_mask: bool,
        shape: tuple[int, int] = (128, 128),
        mask_seed: int = 0,
        width: int = 32,
        depth: int = 3,
    ):
        # BEGIN SOLUTION
        super().__init__()
        self.subsample = SubsamplingLayer(drop_rate, device, learn_mask, shape, seed=mask_seed)
        self.unet = UNet(2, 2, width, depth)
        nn.init.zeros_(self.unet.head.weight)  # start as the identity on the zero-filled image
        nn.init.zeros_(self.unet.head.bias)
        # END SOLUTION

    def forward(self, kspace: torch.Tensor) -> torch.Tensor:
        """Reconstructed magnitude ``(B, 1, H, W)`` of full k-space ``(B, H, W, 2)`` (subsampled inside)."""
        # BEGIN SOLUTION
        zero_filled = ifft2(self.subsample.subsample(kspace)).permute(0, 3, 1, 2)  # (B, 2, H, W)
        image = (zero_filled + self.unet(zero_filled)).permute(0, 2, 3, 1)  # (B, H, W, 2)
        predicted = fft2(image)
        mask = self.subsample.mask()[None, :, :, None]
        consistent = predicted + mask * (kspace - predicted)
        return complex_abs(ifft2(consistent)).unsqueeze(1)
        # END SOLUTION
