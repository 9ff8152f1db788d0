"""U-Net (Ronneberger et al. 2015) with padded convolutions, with or without skip connections.

Layout, for base width ``w`` (the paper's ``w = 64``)::

    encoder_block1  double conv           in -> w        H
    encoder_block2  max-pool, double conv  w -> 2w       H/2
    encoder_block3                        2w -> 4w       H/4
    encoder_block4                        4w -> 8w       H/8
    encoder_block5  (bottleneck)          8w -> 16w      H/16
    decoder_block1  up-conv, concat e4, double conv  16w -> 8w
    decoder_block2                                    8w -> 4w
    decoder_block3                                    4w -> 2w
    decoder_block4                                    2w -> w
    head            1x1 conv                           w -> num_classes

Padding 1 in every 3x3 convolution keeps the input's height and width (the paper crops
instead), so ``H`` and ``W`` must be multiples of 16. Batch norm after each convolution (not in
the paper) lets the network train in a few thousand steps. Without skip connections every decoder
block sees only the upsampled coarse features: the ablation the assignment asks for.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class DoubleConv(nn.Sequential):
    """(3x3 conv, padding 1 -> BN -> ReLU) twice: ``(B, in, H, W) -> (B, out, H, W)``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        # BEGIN SOLUTION
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )
        # END SOLUTION


class EncoderBlock(nn.Sequential):
    """2x2 max-pool then double conv: ``(B, in, H, W) -> (B, out, H/2, W/2)``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        # BEGIN SOLUTION
        super().__init__(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))
        # END SOLUTION


class DecoderBlock(nn.Module):
    """2x2 up-convolution, concatenation with the encoder's skip features, double conv.

    Shapes: ``x (B, in_channels, h, w)``, ``skip (B, skip_channels, 2h, 2w)`` ->
    ``(B, out_channels, 2h, 2w)``. ``skip_channels`` defaults to ``out_channels``
    (the U-Net case); with ``skip_channels=0`` the block takes no skip (``skip=None``).
    """

    def __init__(self, in_channels: int, out_channels: int, skip_channels: int | None = None) -> None:
        # BEGIN SOLUTION
        super().__init__()
        self.skip_channels = out_channels if skip_channels is None else skip_channels
        self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        self.conv = DoubleConv(out_channels + self.skip_channels, out_channels)
        # END SOLUTION

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        """``x (B, in_channels, h, w)`` and ``skip (B, skip_channels, 2h, 2w)`` (or None)
        -> ``(B, out_channels, 2h, 2w)``."""
        # BEGIN SOLUTION
        x = self.up(x)
        if self.skip_channels:
            if skip is None or skip.shape[1] != self.skip_channels or skip.shape[-2:] != x.shape[-2:]:
                got = None if skip is None else tuple(skip.shape)
                raise ValueError(
                    f"DecoderBlock expects skip (B, {self.skip_channels}, {x.shape[-2]}, {x.shape[-1]}), got {got}"
                )
            x = torch.cat([skip, x], dim=1)
        elif skip is not None:
            raise ValueError("this DecoderBlock was built without a skip connection (skip_channels=0); pass skip=None")
        return self.conv(x)
        # END SOLUTION


class UNet(nn.Module):
    """U-Net for ``num_classes`` output maps (logits): ``(B, C, H, W) -> (B, num_classes, H, W)``.

    Args:
        input_shape: input channels ``C``, or a shape ``(C, H, W)`` whose first entry is used.
        num_classes: output channels (1 for a binary mask used with a sigmoid loss).
        base_channels: width of the first block; the paper uses 64 (then 128, ..., 1024).
        skip_connections: ``False`` builds the ablation without encoder-decoder skips.
    """

    def __init__(
        self, input_shape: int | Sequence[int], num_classes: int, base_channels: int = 64, skip_connections: bool = True
    ) -> None:
        # BEGIN SOLUTION
        super().__init__()
        in_channels = input_shape if isinstance(input_shape, int) else int(input_shape[0])
        self.in_channels, self.skip_connections = in_channels, skip_connections
        w = [base_channels * 2**i for i in range(5)]
        self.encoder_block1 = DoubleConv(in_channels, w[0])
        self.encoder_block2 = EncoderBlock(w[0], w[1])
        self.encoder_block3 = EncoderBlock(w[1], w[2])
        self.encoder_block4 = EncoderBlock(w[2], w[3])
        self.encoder_block5 = EncoderBlock(w[3], w[4])
        skip = None if skip_connections else 0
        self.decoder_block1 = DecoderBlock(w[4], w[3], skip)
        self.decoder_block2 = DecoderBlock(w[3], w[2], skip)
        self.decoder_block3 = DecoderBlock(w[2], w[1], skip)
        self.decoder_block4 = DecoderBlock(w[1], w[0], skip)
        self.head = nn.Conv2d(w[0], num_classes, kernel_size=1)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes, H, W)`` of ``x (B, C, H, W)``, ``H`` and ``W`` multiples of 16."""
        # BEGIN SOLUTION
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[-2] % 16 or x.shape[-1] % 16:
            raise ValueError(
                f"UNet expects (B, {self.in_channels}, H, W) with H and W multiples of 16, got {tuple(x.shape)}"
            )
        e1 = self.encoder_block1(x)
        e2 = self.encoder_block2(e1)
        e3 = self.encoder_block3(e2)
        e4 = self.encoder_block4(e3)
        d = self.encoder_block5(e4)
        skips = (e4, e3, e2, e1) if self.skip_connections else (None,) * 4
        for block, skip in zip(
            (self.decoder_block1, self.decoder_block2, self.decoder_block3, self.decoder_block4), skips
        ):
            d = block(d, skip)
        return self.head(d)
        # END SOLUTION
