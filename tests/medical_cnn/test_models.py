"""MobileNet (Table 1 of Howard et al. 2017) and U-Net shapes and structure."""

import pytest
import torch
from torch import nn

from medical_cnn.mobileNet import DepthwiseSeparableBlock, DepthwiseSeparableConv, MobileNet
from medical_cnn.unet import DecoderBlock, UNet


def test_depthwise_separable_block_structure_and_strides():
    block = DepthwiseSeparableConv(32, 64, stride_dw=2, stride_pw=1)
    assert DepthwiseSeparableBlock is DepthwiseSeparableConv
    assert block.depthwise.groups == 32 and block.depthwise.kernel_size == (3, 3)
    assert block.pointwise.kernel_size == (1, 1) and block.pointwise.out_channels == 64
    assert isinstance(block.bn1, nn.BatchNorm2d) and isinstance(block.bn2, nn.BatchNorm2d)
    assert block(torch.randn(2, 32, 15, 16)).shape == (2, 64, 8, 8)


def test_depthwise_separable_block_applies_relu_after_each_batch_norm():
    torch.manual_seed(0)
    block = DepthwiseSeparableConv(8, 16).eval()
    x = torch.randn(2, 8, 9, 9)
    hidden = torch.relu(block.bn1(block.depthwise(x)))  # Fig. 3 of the paper: 3x3 depthwise, BN, ReLU
    expected = torch.relu(block.bn2(block.pointwise(hidden)))  # then 1x1 conv, BN, ReLU
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected)
        without_first_relu = torch.relu(block.bn2(block.pointwise(block.bn1(block.depthwise(x)))))
        assert not torch.allclose(block(x), without_first_relu)  # the check above can tell the two apart


def test_mobilenet_parameter_count_matches_the_paper():
    # Table 8 of the paper: 1.0 MobileNet-224 has 4.2 million parameters (1000 classes).
    n = sum(p.numel() for p in MobileNet(1000).parameters())
    assert 4.15e6 < n < 4.25e6


def test_mobilenet_layout_follows_table_1():
    model = MobileNet(10)
    blocks = [m for m in model.modules() if isinstance(m, DepthwiseSeparableConv)]
    assert len(blocks) == 13
    assert [b.depthwise.stride[0] for b in blocks] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
    assert [b.pointwise.out_channels for b in blocks] == [
        64,
        128,
        128,
        256,
        256,
        512,
        512,
        512,
        512,
        512,
        512,
        1024,
        1024,
    ]


@torch.no_grad()
def test_mobilenet_output_shapes_at_224_and_28():
    assert MobileNet(10).eval()(torch.randn(4, 3, 224, 224)).shape == (4, 10)
    assert MobileNet(9, in_channels=1).eval()(torch.randn(2, 1, 28, 28)).shape == (2, 9)
    with pytest.raises(ValueError):
        MobileNet(9, in_channels=1)(torch.randn(2, 3, 28, 28))


def block_width(block: nn.Module) -> int:
    """Output channels of a U-Net block: those of its last convolution."""
    return [m for m in block.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))][-1].out_channels


@pytest.mark.parametrize("kwargs", [{}, {"base_channels": 64}], ids=["class-default", "base_channels=64"])
def test_unet_has_the_paper_widths_64_to_1024(kwargs):
    model = UNet(1, 2, **kwargs)
    assert [block_width(getattr(model, f"encoder_block{i}")) for i in range(1, 6)] == [64, 128, 256, 512, 1024]
    assert [block_width(getattr(model, f"decoder_block{i}")) for i in range(1, 5)] == [512, 256, 128, 64]
    assert model.head.out_channels == 2


@torch.no_grad()
def test_unet_output_shape():
    model = UNet(3, 5, base_channels=8).eval()
    assert model(torch.randn(2, 3, 160, 160)).shape == (2, 5, 160, 160)


def test_unet_has_named_blocks_and_the_skip_variant_differs():
    with_skip, without = UNet(1, 1, base_channels=8), UNet(1, 1, base_channels=8, skip_connections=False)
    for name in [f"encoder_block{i}" for i in range(1, 6)] + [f"decoder_block{i}" for i in range(1, 5)]:
        assert hasattr(with_skip, name) and hasattr(without, name)
    # the decoder's first convolution sees 2x the channels when the skip is concatenated
    assert with_skip.decoder_block4.conv[0].in_channels == 16 and without.decoder_block4.conv[0].in_channels == 8
    x = torch.randn(1, 1, 32, 48)
    assert without.eval()(x).shape == (1, 1, 32, 48)


def test_decoder_block_shapes_and_errors():
    block = DecoderBlock(32, 16)
    out = block(torch.randn(2, 32, 5, 6), torch.randn(2, 16, 10, 12))
    assert out.shape == (2, 16, 10, 12)
    with pytest.raises(ValueError, match="skip"):
        block(torch.randn(2, 32, 5, 6), None)
    no_skip = DecoderBlock(32, 16, skip_channels=0)
    assert no_skip(torch.randn(2, 32, 5, 6)).shape == (2, 16, 10, 12)


def test_unet_rejects_sizes_not_divisible_by_16():
    with pytest.raises(ValueError, match="multiples of 16"):
        UNet(1, 1, base_channels=4)(torch.randn(1, 1, 30, 32))
