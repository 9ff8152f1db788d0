"""Every network of the assignment, each under 500,000 trainable parameters.

Part 1: :class:`CifarCNN`, :class:`LinearAutoEncoder`, :class:`AutoEncoder_CNN`.
Part 2: :class:`STL10CNN`, :func:`resnet18_transfer`, :class:`STL10AutoEncoder`,
:class:`EncoderClassifier`, :class:`SegmentationNet`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torchvision


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (only those with ``requires_grad`` when ``trainable_only``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _check_input(x: torch.Tensor, channels: int, size: int | None, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != channels or (size is not None and tuple(x.shape[-2:]) != (size, size)):
        expected = f"(B, {channels}, {size}, {size})" if size else f"(B, {channels}, H, W)"
        raise ValueError(f"{name} expects {expected}, got {tuple(x.shape)}")


def conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    """3x3 convolution (padding keeps the size), batch norm, ReLU. No conv bias: BN has its own."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


# ------------------------------------------------------------------- Part 1
class CifarCNN(nn.Module):
    """CIFAR-10 classifier, ``(B, 3, 32, 32) -> (B, 10)`` logits.

    A stem convolution, then three stages of conv -> max-pool -> conv, each with batch
    norm and ReLU, halving the resolution 32 -> 16 -> 8 -> 4 while the width grows.
    Pooling right after the first conv of a stage keeps most of the compute at low
    resolution, which is what makes CPU training fast. A global max-pool and dropout
    feed the linear classifier. With the default widths it has 420,330 parameters.
    """

    def __init__(self, widths: tuple[int, ...] = (32, 48, 96, 128), num_classes: int = 10, dropout: float = 0.2):
        # BEGIN SOLUTION
        super().__init__()
        layers = conv_bn_relu(3, widths[0])
        c = widths[0]
        for w in widths[1:]:
            layers += conv_bn_relu(c, w) + [nn.MaxPool2d(2)] + conv_bn_relu(w, w)
            c = w
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, num_classes)
        )
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 10)`` of images ``(B, 3, 32, 32)``."""
        # BEGIN SOLUTION
        _check_input(x, 3, None, "CifarCNN")
        return self.classifier(self.features(x))
        # END SOLUTION


class LinearAutoEncoder(nn.Module):
    """Fully connected MNIST autoencoder, ``(B, 1, 28, 28) -> (B, 1, 28, 28)`` through a 15-d code;
    223,391 parameters."""

    def __init__(self):
        # BEGIN SOLUTION
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 32),
            nn.ReLU(),
            nn.Linear(32, 15),
        )
        self.decoder = nn.Sequential(
            nn.Linear(15, 32),
            nn.ReLU(),
            nn.Linear(32, 64),
            nn.ReLU(),
            nn.Linear(64, 128),
            nn.ReLU(),
            nn.Linear(128, 784),
            nn.Sigmoid(),
        )
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``(B, 1, 28, 28)`` of ``x (B, 1, 28, 28)``."""
        # BEGIN SOLUTION
        _check_input(x, 1, 28, "LinearAutoEncoder")
        return self.decoder(self.encoder(x)).reshape(-1, 1, 28, 28)
        # END SOLUTION


class AutoEncoder_CNN(nn.Module):  # noqa: N801 (the assignment's name)
    """Convolutional MNIST autoencoder, ``(B, 1, 28, 28) -> (B, 1, 28, 28)``, 14,425 parameters.

    Encoder: conv(1->16) -> max-pool 28->14 -> conv(16->32) -> max-pool 14->7 -> conv(32->8).
    Decoder: the mirror image with transposed convolutions, and ``MaxUnpool2d`` using the
    pooling indices so each value returns to the position its maximum came from.
    """

    def __init__(self):
        # BEGIN SOLUTION
        super().__init__()
        self.enc1 = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.pool1 = nn.MaxPool2d(2, return_indices=True)
        self.enc2 = nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())
        self.pool2 = nn.MaxPool2d(2, return_indices=True)
        self.enc3 = nn.Sequential(nn.Conv2d(32, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.dec3 = nn.Sequential(nn.ConvTranspose2d(8, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU())
        self.unpool2 = nn.MaxUnpool2d(2)
        self.dec2 = nn.Sequential(nn.ConvTranspose2d(32, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.unpool1 = nn.MaxUnpool2d(2)
        self.dec1 = nn.Sequential(nn.ConvTranspose2d(16, 1, 3, padding=1), nn.Sigmoid())
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``(B, 1, 28, 28)`` of ``x (B, 1, 28, 28)`` through the ``(B, 8, 7, 7)`` code."""
        # BEGIN SOLUTION
        _check_input(x, 1, 28, "AutoEncoder_CNN")
        h, idx1 = self.pool1(self.enc1(x))  # (B, 16, 14, 14)
        h, idx2 = self.pool2(self.enc2(h))  # (B, 32, 7, 7)
        code = self.enc3(h)  # (B, 8, 7, 7)
        h = self.unpool2(self.dec3(code), idx2)  # (B, 32, 14, 14)
        h = self.unpool1(self.dec2(h), idx1)  # (B, 16, 28, 28)
        return self.dec1(h)
        # END SOLUTION


# ------------------------------------------------------------------- Part 2
class STL10CNN(nn.Module):
    """STL-10 classifier from scratch, ``(B, 3, 96, 96) -> (B, 10)``: five conv/BN/ReLU/max-pool
    stages (96 -> 48 -> 24 -> 12 -> 6 -> 3), global average pooling, dropout, linear head; 464,682 parameters."""

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 128, 192), num_classes: int = 10, dropout: float = 0.3):
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for w in widths:
            layers += conv_bn_relu(c, w) + [nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 10)`` of images ``(B, 3, 96, 96)``."""
        _check_input(x, 3, None, "STL10CNN")
        return self.classifier(self.features(x))


def resnet18_transfer(backbone_state: dict[str, torch.Tensor] | None, num_classes: int = 10) -> EncoderClassifier:
    """torchvision ResNet-18, every weight frozen, with a new trainable 512 -> ``num_classes`` head.

    ``backbone_state`` holds the ImageNet weights without the classifier ``fc.*``
    (:func:`common.pretrained.resnet18_weights`); ``None`` keeps the RANDOM initialisation, which
    only makes sense for smoke tests. Only the 5,130 head parameters train.
    """
    backbone = torchvision.models.resnet18(weights=None)
    in_features = backbone.fc.in_features
    backbone.fc = nn.Identity()  # the backbone now returns the (B, 512) pooled features
    if backbone_state is not None:
        backbone.load_state_dict(backbone_state)
    return EncoderClassifier(backbone, nn.Linear(in_features, num_classes))


class STL10AutoEncoder(nn.Module):
    """Convolutional autoencoder for ``(B, 3, 96, 96)`` images, 200,771 parameters.

    Encoder: five stride-2 3x3 conv/BN/ReLU layers, 96 -> 48 -> 24 -> 12 -> 6 -> 3, giving a
    ``(B, 64, 3, 3)`` code. Decoder: five stride-2 3x3 transposed convolutions (``output_padding=1``
    doubles the size exactly) back to 96x96, ending in a sigmoid since the images are in [0, 1].
    """

    def __init__(self, widths: tuple[int, ...] = (32, 48, 48, 64, 64)):
        super().__init__()
        enc: list[nn.Module] = []
        c = 3
        for w in widths:
            enc += [nn.Conv2d(c, w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            c = w
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = []
        for w in list(reversed(widths))[1:]:
            dec += [
                nn.ConvTranspose2d(c, w, 3, 2, 1, output_padding=1, bias=False),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
            ]
            c = w
        dec += [nn.ConvTranspose2d(c, 3, 3, 2, 1, output_padding=1), nn.Sigmoid()]
        self.decoder = nn.Sequential(*dec)
        self.code_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``(B, 3, 96, 96)`` of ``x (B, 3, 96, 96)``."""
        _check_input(x, 3, 96, "STL10AutoEncoder")
        return self.decoder(self.encoder(x))


class EncoderClassifier(nn.Module):
    """A frozen pretrained ``encoder`` with a trainable ``head`` on its output, ``(B, 3, H, W) -> (B, classes)``.

    The encoder stays in eval mode even while training, so its batch-norm statistics are the
    pretrained ones and only ``head`` learns.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder, self.head = encoder, head
        for p in self.encoder.parameters():
            p.requires_grad = False

    def train(self, mode: bool = True) -> EncoderClassifier:
        super().train(mode)
        self.encoder.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, classes)`` of ``x (B, 3, H, W)``; no gradient reaches the frozen encoder."""
        _check_input(x, 3, None, "EncoderClassifier")
        with torch.no_grad():
            code = self.encoder(x)
        return self.head(code)


def code_classifier_head(
    code_channels: int, num_classes: int = 10, hidden: int = 256, dropout: float = 0.3
) -> nn.Module:
    """MLP on a flattened ``(B, code_channels, 3, 3)`` autoencoder code."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(code_channels * 9, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )


class SegmentationNet(nn.Module):
    """Symmetric encoder-decoder for ``(B, 1, 240, 240)`` slices -> ``(B, 1, 240, 240)`` mask logits.

    Four encoder levels (two padded 3x3 conv/BN/ReLU each, then 2x2 max-pool: 240 -> 120 -> 60
    -> 30 -> 15), a bottleneck, and four mirrored decoder levels (2x2 transposed conv doubling the
    size, then two conv/BN/ReLU on the concatenation with the encoder features of that size).
    Padding everywhere keeps 240 = 15 * 2**4 exact, so the mask matches the input. 469,121 parameters.
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 48, 64), bottleneck: int = 80):
        super().__init__()
        self.down = nn.ModuleList()
        c = 1
        for w in widths:
            self.down.append(nn.Sequential(*conv_bn_relu(c, w), *conv_bn_relu(w, w)))
            c = w
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = nn.Sequential(*conv_bn_relu(c, bottleneck), *conv_bn_relu(bottleneck, bottleneck))
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        c = bottleneck
        for w in reversed(widths):
            self.up.append(nn.ConvTranspose2d(c, w, 2, stride=2))
            self.dec.append(nn.Sequential(*conv_bn_relu(2 * w, w), *conv_bn_relu(w, w)))
            c = w
        self.head = nn.Conv2d(c, 1, 1)
        self.factor = 2 ** len(widths)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mask logits ``(B, 1, H, W)`` of slices ``(B, 1, H, W)``, ``H`` and ``W`` divisible by ``self.factor``."""
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[-1] % self.factor or x.shape[-2] % self.factor:
            raise ValueError(
                f"SegmentationNet expects (B, 1, H, W) with H, W divisible by {self.factor}, got {tuple(x.shape)}"
            )
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.head(x)
