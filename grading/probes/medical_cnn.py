"""Probes of medical_cnn (tests/medical_cnn/test_mlp.py, test_utils.py, test_models.py): what each check observes."""

from __future__ import annotations

import math

import numpy as np

from grading.probes import probe, raised, raised_with, randn

A = "medical_cnn"


def _fill(module, rng: np.random.Generator) -> None:
    """Every floating parameter and buffer of ``module`` set from ``rng`` (positive where it must be: variances)."""
    import torch

    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if t.dtype.is_floating_point:
                values = rng.random(t.shape) + 0.5 if "var" in name else rng.standard_normal(t.shape) * 0.5
                t.copy_(torch.from_numpy(values.astype(np.float32)))


# ------------------------------------------------------------------ problem 1: Linear and MLP (test_mlp.py)
@probe(A, "1")
def test_linear_matches_nn_linear_with_the_same_weights(rng):
    import torch

    from medical_cnn.mlp import Linear

    layer = Linear(7, 5)
    shapes = {"weight_shape": tuple(layer.weight.shape), "bias_shape": tuple(layer.bias.shape)}
    with torch.no_grad():
        layer.weight.copy_(randn(rng, 5, 7))
        layer.bias.copy_(randn(rng, 5))
    x = randn(rng, 3, 4, 7)
    out = layer(x)
    out.square().sum().backward()
    return {**shapes, "out": out, "weight_grad": layer.weight.grad}


@probe(A, "1")
def test_linear_rejects_wrong_feature_size(rng):
    from medical_cnn.mlp import Linear

    return {"error": raised_with(Linear(4, 2), "expects", randn(rng, 3, 5))}


@probe(A, "1")
def test_mlp_is_built_from_our_linear_layers(rng):
    from torch import nn

    from medical_cnn.mlp import MLP, Linear

    model = MLP(12, [8, 6], 3)
    hidden, output = model._build_layers(12, [8, 6], 3)
    return {
        "hidden_is_module_list": isinstance(hidden, nn.ModuleList),
        "ours": all(type(m) is Linear for m in hidden) and type(output) is Linear,
        "sizes": [(m.in_features, m.out_features) for m in [*hidden, output]],
        "torch_linear_inside": any(isinstance(m, nn.Linear) for m in model.modules()),
    }


def _glorot(got: dict, want: dict) -> str | None:
    """Zero biases, mean near 0 and variance 2 / (fan_in + fan_out) within 3 % (5 % for a fresh MLP's layer)."""
    w = got["weight"].astype(np.float64)
    expected = 2.0 / (600 + 400)
    if np.count_nonzero(got["bias"]) or np.count_nonzero(got["mlp_bias"]):
        return "biases are not zero"
    if abs(w.mean()) >= 0.02 * math.sqrt(expected) or abs(w.var(ddof=1) / expected - 1) > 0.03:
        return f"weight variance {w.var(ddof=1):.3g}, expected 2 / (fan_in + fan_out) = {expected:.3g}"
    if abs(float(np.var(got["mlp_weight"], ddof=1)) / (2.0 / (784 + 500)) - 1) > 0.05:
        return "an MLP's own layers are not initialised this way"
    return None


@probe(A, "1", judge=_glorot)
def test_glorot_normal_variance_and_zero_bias(rng):
    from medical_cnn.mlp import MLP, Linear

    layer = Linear(600, 400)
    MLP._initialize_linear_layer(layer)
    model = MLP(784, [500], 10)
    return {
        "weight": layer.weight,
        "bias": layer.bias,
        "mlp_weight": model.hidden_layers[0].weight,
        "mlp_bias": model.output_layer.bias,
    }


def _normal_not_uniform(got: dict, want: dict) -> str | None:
    w = got["weight"].astype(np.float64).ravel()
    if w.size != 240_000:
        return f"expected a 400 x 600 weight, got {w.size} values"
    z = (w - w.mean()) / w.std(ddof=1)
    if np.abs(w).max() <= 1.5 * math.sqrt(6.0 / 1000) or abs((z**4).mean() - 3.0) > 0.1:
        return "the weights are not normally distributed (Glorot uniform?)"
    return None


@probe(A, "1", judge=_normal_not_uniform)
def test_glorot_weights_are_normal_not_uniform_with_the_same_variance(rng):
    from medical_cnn.mlp import MLP, Linear

    layer = Linear(600, 400)
    MLP._initialize_linear_layer(layer)
    return {"weight": layer.weight}


@probe(A, "1")
def test_initialisation_leaves_other_modules_alone(rng):
    from torch import nn

    from medical_cnn.mlp import MLP

    conv = nn.Conv2d(1, 1, 3)
    before = conv.weight.detach().clone()
    MLP._initialize_linear_layer(conv)
    return {"largest_change": (conv.weight.detach() - before).abs().max()}


@probe(A, "1")
def test_activation_fn_matches_torch(rng):
    import torch

    from medical_cnn.mlp import MLP

    x = torch.linspace(-3, 3, 13)
    return {name: MLP(4, [3], 2).activation_fn(name, x) for name in ("relu", "tanh", "sigmoid")}


@probe(A, "1")
def test_unknown_activation_is_a_value_error(rng):
    import torch

    from medical_cnn.mlp import MLP

    return {
        "gelu": raised_with(MLP.activation_fn, "unknown activation", "gelu", torch.zeros(2)),
        "softplus": raised_with(lambda: MLP(4, [3], 2, activation="softplus"), "unknown activation"),
    }


@probe(A, "1", rtol=1e-4, atol=1e-5)
def test_forward_flattens_images_and_uses_the_activation(rng):
    import torch

    from medical_cnn.mlp import MLP

    model = MLP(3 * 28 * 28, [64, 32], 9, activation="tanh")
    with torch.no_grad():
        for layer in [*model.hidden_layers, model.output_layer]:
            layer.weight.copy_(randn(rng, *layer.weight.shape) * 0.05)
            layer.bias.copy_(randn(rng, *layer.bias.shape) * 0.1)
    x = randn(rng, 5, 3, 28, 28)
    return {"out": model(x), "wrong_shape": raised(model, randn(rng, 5, 1, 28, 28))}


# ------------------------------------------------------------------ problem 2: 2-D convolution (test_utils.py)
SHAPES = [
    ((16, 16), (3, 3)),
    ((13, 20), (5, 5)),
    ((9, 7), (4, 3)),
    ((8, 8), (2, 6)),
    ((5, 6), (9, 9)),
    ((1, 1), (1, 1)),
]


@probe(A, "2", rtol=0, atol=1e-9)
def test_matches_scipy_correlate2d_same(rng):
    from medical_cnn.utils import discrete_2d_convolution, naive_2d_convolution

    out = {}
    for i, (image_shape, kernel_shape) in enumerate(SHAPES):
        image, kernel = rng.standard_normal(image_shape), rng.standard_normal(kernel_shape)
        out[f"fast{i}"] = np.asarray(discrete_2d_convolution(image, kernel), dtype=np.float64)
        out[f"naive{i}"] = np.asarray(naive_2d_convolution(image, kernel), dtype=np.float64)
    return out


@probe(A, "2", rtol=0, atol=1e-9)
def test_is_correlation_not_convolution(rng):
    from medical_cnn.utils import discrete_2d_convolution

    return {"out": np.asarray(discrete_2d_convolution(rng.standard_normal((10, 10)), np.arange(9.0).reshape(3, 3)))}


@probe(A, "2", rtol=0, atol=1e-9)
def test_zero_padding_at_the_border(rng):
    from medical_cnn.utils import discrete_2d_convolution

    return {"out": np.asarray(discrete_2d_convolution(np.ones((4, 5)), np.ones((3, 3))), dtype=np.float64)}


@probe(A, "2", rtol=1e-4, atol=1e-5)
def test_torch_tensors_come_back_as_tensors(rng):
    import torch

    from medical_cnn.utils import discrete_2d_convolution

    out = discrete_2d_convolution(randn(rng, 12, 11), randn(rng, 3, 3))
    return {"is_tensor": isinstance(out, torch.Tensor), "dtype": str(getattr(out, "dtype", "")), "out": out}


@probe(A, "2")
def test_wrong_dimensions_are_value_errors(rng):
    from medical_cnn.utils import discrete_2d_convolution, naive_2d_convolution

    return {
        "3d_image": raised_with(discrete_2d_convolution, "2-D", np.zeros((3, 4, 4)), np.ones((3, 3))),
        "1d_kernel": raised_with(naive_2d_convolution, "2-D", np.zeros((4, 4)), np.ones(3)),
    }


# ------------------------------------------------------------------ problem 3: depthwise separable block
@probe(A, "3")
def test_depthwise_separable_block_structure_and_strides(rng):
    from torch import nn

    from medical_cnn.mobileNet import DepthwiseSeparableBlock, DepthwiseSeparableConv

    block = DepthwiseSeparableConv(32, 64, stride_dw=2, stride_pw=1)
    return {
        "alias": DepthwiseSeparableBlock is DepthwiseSeparableConv,
        "depthwise": [block.depthwise.groups, *block.depthwise.kernel_size],
        "pointwise": [*block.pointwise.kernel_size, block.pointwise.out_channels],
        "batch_norms": isinstance(block.bn1, nn.BatchNorm2d) and isinstance(block.bn2, nn.BatchNorm2d),
        "shape": tuple(block(randn(rng, 2, 32, 15, 16)).shape),
    }


def _relu_after_each_batch_norm(got: dict, want: dict) -> str | None:
    """Recompute conv -> BN -> ReLU -> 1x1 conv -> BN -> ReLU from the block's own weights, here."""
    import torch
    import torch.nn.functional as F

    t = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in got.items() if k != "names"}

    def bn(x, p):
        return F.batch_norm(x, t[p + "running_mean"], t[p + "running_var"], t[p + "weight"], t[p + "bias"], eps=1e-5)

    dw_bias = t.get("depthwise.bias")
    hidden = torch.relu(bn(F.conv2d(t["x"], t["depthwise.weight"], dw_bias, padding=1, groups=8), "bn1."))
    expected = torch.relu(bn(F.conv2d(hidden, t["pointwise.weight"], t.get("pointwise.bias")), "bn2."))
    if tuple(t["out"].shape) != tuple(expected.shape):
        return f"output shape {tuple(t['out'].shape)}, expected {tuple(expected.shape)}"
    if not torch.allclose(t["out"], expected, rtol=1e-4, atol=1e-5):
        return "the output is not ReLU(BN(1x1 conv(ReLU(BN(3x3 depthwise conv(x))))))"
    return None


@probe(A, "3", judge=_relu_after_each_batch_norm)
def test_depthwise_separable_block_applies_relu_after_each_batch_norm(rng):
    import torch

    from medical_cnn.mobileNet import DepthwiseSeparableConv

    block = DepthwiseSeparableConv(8, 16).eval()
    parts = {"depthwise": block.depthwise, "bn1": block.bn1, "pointwise": block.pointwise, "bn2": block.bn2}
    values = {}
    for prefix, module in parts.items():
        _fill(module, rng)
        state = module.state_dict()
        values.update({f"{prefix}.{k}": v for k, v in state.items() if v.dtype.is_floating_point})
    x = randn(rng, 2, 8, 9, 9)
    with torch.no_grad():
        values.update(x=x, out=block(x))
    return values


# ------------------------------------------------------------------ problem 4: MobileNet
@probe(A, "4", rtol=0.012)
def test_mobilenet_parameter_count_matches_the_paper(rng):
    from medical_cnn.mobileNet import MobileNet

    return {"parameters": float(sum(p.numel() for p in MobileNet(1000).parameters()))}


@probe(A, "4")
def test_mobilenet_layout_follows_table_1(rng):
    from medical_cnn.mobileNet import DepthwiseSeparableConv, MobileNet

    blocks = [m for m in MobileNet(10).modules() if isinstance(m, DepthwiseSeparableConv)]
    return {
        "strides": [b.depthwise.stride[0] for b in blocks],
        "widths": [b.pointwise.out_channels for b in blocks],
    }


@probe(A, "4")
def test_mobilenet_output_shapes_at_224_and_28(rng):
    import torch

    from medical_cnn.mobileNet import MobileNet

    with torch.no_grad():
        big = MobileNet(10).eval()(randn(rng, 4, 3, 224, 224)).shape
        small_model = MobileNet(9, in_channels=1).eval()
        small = small_model(randn(rng, 2, 1, 28, 28)).shape
    return {"224": tuple(big), "28": tuple(small), "wrong_channels": raised(small_model, randn(rng, 2, 3, 28, 28))}


# ------------------------------------------------------------------ problem 5: U-Net
def _width(block) -> int:
    from torch import nn

    return [m for m in block.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))][-1].out_channels


@probe(A, "5")
def test_unet_has_the_paper_widths_64_to_1024(rng):
    from medical_cnn.unet import UNet

    out = {}
    for key, kwargs in (("default", {}), ("base64", {"base_channels": 64})):
        model = UNet(1, 2, **kwargs)
        out[key + "_encoder"] = [_width(getattr(model, f"encoder_block{i}")) for i in range(1, 6)]
        out[key + "_decoder"] = [_width(getattr(model, f"decoder_block{i}")) for i in range(1, 5)]
        out[key + "_head"] = model.head.out_channels
    return out


@probe(A, "5")
def test_unet_output_shape(rng):
    import torch

    from medical_cnn.unet import UNet

    with torch.no_grad():
        return {"shape": tuple(UNet(3, 5, base_channels=8).eval()(randn(rng, 2, 3, 160, 160)).shape)}


@probe(A, "5")
def test_unet_has_named_blocks_and_the_skip_variant_differs(rng):
    import torch

    from medical_cnn.unet import UNet

    with_skip, without = UNet(1, 1, base_channels=8), UNet(1, 1, base_channels=8, skip_connections=False)
    names = [f"encoder_block{i}" for i in range(1, 6)] + [f"decoder_block{i}" for i in range(1, 5)]
    with torch.no_grad():
        shape = tuple(without.eval()(randn(rng, 1, 1, 32, 48)).shape)
    return {
        "named": all(hasattr(with_skip, n) and hasattr(without, n) for n in names),
        "first_conv_in": [with_skip.decoder_block4.conv[0].in_channels, without.decoder_block4.conv[0].in_channels],
        "shape": shape,
    }


@probe(A, "5")
def test_decoder_block_shapes_and_errors(rng):
    from medical_cnn.unet import DecoderBlock

    block = DecoderBlock(32, 16)
    no_skip = DecoderBlock(32, 16, skip_channels=0)
    return {
        "shape": tuple(block(randn(rng, 2, 32, 5, 6), randn(rng, 2, 16, 10, 12)).shape),
        "no_skip_given": raised_with(block, "skip", randn(rng, 2, 32, 5, 6), None),
        "no_skip_shape": tuple(no_skip(randn(rng, 2, 32, 5, 6)).shape),
    }


@probe(A, "5")
def test_unet_rejects_sizes_not_divisible_by_16(rng):
    from medical_cnn.unet import UNet

    return {"error": raised_with(UNet(1, 1, base_channels=4), "multiples of 16", randn(rng, 1, 1, 30, 32))}


# ------------------------------------------------------------------ problem 6: Dice losses (test_utils.py)
@probe(A, "6", rtol=1e-10, atol=1e-12)
def test_dice_loss_matches_a_hand_computation_over_the_whole_batch(rng):
    from medical_cnn.utils import DiceLoss

    logits = randn(rng, 3, 1, 5, 4, dtype="float64")
    targets = randn(rng, 3, 1, 5, 4, dtype="float64").gt(0.25).double()
    out = {}
    for smooth in (1.0, 0.1):
        loss = DiceLoss()(logits, targets, smooth=smooth)
        out[f"smooth{smooth}"], out[f"ndim{smooth}"] = loss, loss.ndim
    return out


@probe(A, "6", rtol=1e-4, atol=1e-5)
def test_dice_loss_extremes(rng):
    import torch

    from medical_cnn.utils import DiceLoss

    targets = randn(rng, 2, 1, 8, 8).gt(0).float()
    return {
        "perfect": DiceLoss()(torch.where(targets > 0, 50.0, -50.0), targets),
        "wrong": DiceLoss()(torch.where(targets > 0, -50.0, 50.0), targets),
    }


@probe(A, "6", rtol=1e-5, atol=1e-6)
def test_dice_ce_is_half_dice_plus_half_bce(rng):
    import torch

    from medical_cnn.utils import DiceCELoss

    logits = randn(rng, 2, 1, 6, 6).requires_grad_()
    targets = randn(rng, 2, 1, 6, 6).gt(0).float()
    loss = DiceCELoss()(logits, targets)
    loss.backward()
    finite = logits.grad is not None and bool(torch.isfinite(logits.grad).all())
    return {"loss": loss, "gradient_is_finite": finite}


@probe(A, "6")
def test_losses_reject_mismatched_shapes(rng):
    import torch

    from medical_cnn.utils import DiceCELoss, DiceLoss

    return {
        "dice": raised_with(DiceLoss(), "same shape", torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 4)),
        "dice_ce": raised_with(DiceCELoss(), "same shape", torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 5)),
    }
