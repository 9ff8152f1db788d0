"""MobileNet v1 (Howard et al. 2017, "MobileNets", Table 1) with width and resolution multipliers of 1.

Every 3x3 convolution after the first is factorised into a depthwise 3x3
convolution (one filter per channel) and a pointwise 1x1 convolution that mixes
channels, each followed by batch norm and ReLU. The final average pool is
adaptive, so the same network takes 224x224 ImageNet-size images and 28x28
MedMNIST images. Table 1 has five stride-2 stages (the first convolution and four
depthwise layers): a 28x28 input is 14, 7, 4 and 2 pixels wide after the first
four and 1x1 after the fifth, so the layers after it act as 1x1 convolutions.
"""

from __future__ import annotations

import torch
from torch import nn

# Table 1 after the first convolution: (output channels of the pointwise conv, depthwise stride).
# The paper prints "s2" for the last depthwise layer, but its input and output are both
# 7x7 in the same table (and the reference implementations use stride 1), so s1 here.
MOBILENET_V1_LAYERS: list[tuple[int, int]] = [
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    *[(512, 1)] * 5,
    (1024, 2),
    (1024, 1),
]


class DepthwiseSeparableConv(nn.Module):
    """Depthwise 3x3 conv -> BN -> ReLU -> pointwise 1x1 conv -> BN -> ReLU.

    Shapes: ``(B, in_channels, H, W) -> (B, out_channels, H / (stride_dw * stride_pw), ...)``
    (sizes rounded up, as with padding 1).
    """

    def __init__(self, in_channels: int, out_channels: int, stride_dw: int = 1, stride_pw: int = 1) -> None:
        # BEGIN SOLUTION
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels, in_channels, 3, stride=stride_dw, padding=1, groups=in_channels, bias=False
        )
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, stride=stride_pw, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W) -> (B, out_channels, H', W')`` (the strides of the class docstring)."""
        # BEGIN SOLUTION
        x = self.relu(self.bn1(self.depthwise(x)))
        return self.relu(self.bn2(self.pointwise(x)))
        # END SOLUTION


DepthwiseSeparableBlock = DepthwiseSeparableConv  # the handout's name


class MobileNet(nn.Module):
    """MobileNet v1: ``(B, in_channels, H, W) -> (B, num_classes)`` logits (softmax left to the loss).

    Args:
        num_classes: size of the classifier output.
        in_channels: 3 for RGB, 1 for grey-scale images.
    """

    def __init__(self, num_classes: int, in_channels: int = 3) -> None:
        # BEGIN SOLUTION
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
        )
        blocks, channels = [], 32
        for out_channels, stride in MOBILENET_V1_LAYERS:
            blocks.append(DepthwiseSeparableConv(channels, out_channels, stride_dw=stride, stride_pw=1))
            channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        self.in_channels = in_channels
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)`` of images ``(B, in_channels, H, W)``."""
        # BEGIN SOLUTION
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"MobileNet expects (B, {self.in_channels}, H, W), got shape {tuple(x.shape)}")
        x = self.pool(self.features(self.stem(x)))
        return self.classifier(torch.flatten(x, 1))
        # END SOLUTION
