"""Probes of autoencoders (tests/autoencoders/test_helper.py, test_models.py)."""

from __future__ import annotations

from grading.probes import probe, raised, rand

A = "autoencoders"


# ------------------------------------------------------------------ problem 1: soft Dice loss of equation 1
@probe(A, "1", rtol=1e-6, atol=1e-9)
def test_dice_loss_matches_the_formula_computed_by_hand(rng):
    import torch

    from autoencoders import helper

    p = torch.tensor([[0.2, 0.8], [1.0, 0.0]], dtype=torch.float64).view(1, 1, 2, 2)
    t = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64).view(1, 1, 2, 2)
    return {
        "by_hand": helper.dice_loss(p, t),
        "perfect": helper.dice_loss(t, t),
        "empty": helper.dice_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)),
        "opposite": helper.dice_loss(1 - t, t),
        "mismatch": raised(helper.dice_loss, p, t[..., :1]),
    }


@probe(A, "1", rtol=1e-4, atol=1e-6)
def test_dice_loss_sums_over_the_whole_batch_and_has_the_right_gradient(rng):
    from autoencoders import helper

    p = rand(rng, 3, 1, 5, 5, dtype="float64").requires_grad_()
    t = rand(rng, 3, 1, 5, 5, dtype="float64").gt(0.5).double()
    loss = helper.dice_loss(p, t)
    loss.backward()
    return {"loss": loss, "gradient": p.grad}


# ------------------------------------------------------------------ problem 2: accuracy over a loader
@probe(A, "2", rtol=1e-6)
def test_evaluate_accuracy_counts_every_batch(rng):
    import torch
    from torch import nn

    from autoencoders import helper

    logits = rand(rng, 7, 3)
    labels = logits.argmax(1)
    labels[[0, 6]] = (labels[[0, 6]] + 1) % 3  # batches right 3/4, 2/2, 0/1: every one-batch shortcut differs from 5/7
    batches = [(logits[:4], labels[:4]), (logits[4:6], labels[4:6]), (logits[6:], labels[6:])]
    return {"accuracy": float(helper.evaluate_accuracy(nn.Identity(), batches, torch.device("cpu")))}


# ------------------------------------------------------------------ problems 3-5: the models
def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _shape_and_budget(name: str, in_shape: tuple, rng) -> dict:
    import torch

    from autoencoders import models

    model = getattr(models, name)().eval()
    with torch.no_grad():
        shape = tuple(model(rand(rng, *in_shape)).shape)
    return {"under_500k": _count(model) <= 500_000, "shape": shape}


def _wrong_shape(name: str, shape: tuple, rng) -> dict:
    from autoencoders import models

    return {"wrong_shape": raised(getattr(models, name)(), rand(rng, *shape))}


@probe(A, "3")
def test_cifar_cnn_has_batch_norm_dropout_relu_and_several_convolutions(rng):
    from torch import nn

    from autoencoders import models

    kinds = {type(m) for m in models.CifarCNN().modules()}
    convolutions = sum(issubclass(k, nn.Conv2d) for k in kinds)
    modules = list(models.CifarCNN().modules())
    return {
        "has_bn_dropout_relu_linear": {nn.BatchNorm2d, nn.Dropout, nn.ReLU, nn.Linear} <= kinds,
        "at_least_4_convolutions": sum(isinstance(m, nn.Conv2d) for m in modules) >= 4 and convolutions > 0,
    }


@probe(A, "3")
def test_every_model_is_under_500k_parameters_and_maps_the_right_shapes(rng):
    return _shape_and_budget("CifarCNN", (2, 3, 32, 32), rng)


@probe(A, "3")
def test_wrong_input_shape_raises_value_error(rng):
    return _wrong_shape("CifarCNN", (2, 1, 32, 32), rng)


@probe(A, "4")
def test_linear_autoencoder_has_exactly_the_prescribed_layers(rng):
    import torch
    from torch import nn

    from autoencoders import models

    model = models.LinearAutoEncoder()
    enc, dec = list(model.encoder), list(model.decoder)
    out = model(rand(rng, 3, 1, 28, 28))
    return {
        "flatten_first": isinstance(enc[0], nn.Flatten),
        "encoder_linear": [(m.in_features, m.out_features) for m in enc if isinstance(m, nn.Linear)],
        "decoder_linear": [(m.in_features, m.out_features) for m in dec if isinstance(m, nn.Linear)],
        "encoder_kinds": [type(m).__name__ for m in enc[1:]],
        "decoder_kinds": [type(m).__name__ for m in dec],
        "shape": tuple(out.shape),
        "in_0_1": bool(torch.all((out >= 0) & (out <= 1))),
    }


@probe(A, "4")
def test_every_model_is_under_500k_parameters_and_maps_the_right_shapes_linear(rng):
    return _shape_and_budget("LinearAutoEncoder", (2, 1, 28, 28), rng)


@probe(A, "4")
def test_wrong_input_shape_raises_value_error_linear(rng):
    return _wrong_shape("LinearAutoEncoder", (2, 1, 32, 32), rng)


@probe(A, "5")
def test_conv_autoencoder_uses_unpooling_with_indices_under_35k_parameters(rng):
    import torch
    from torch import nn

    from autoencoders import models

    model = models.AutoEncoder_CNN()
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    with torch.no_grad():
        out = model.eval()(rand(rng, 2, 1, 28, 28))
    return {
        "under_35k": _count(model) <= 35_000,
        "pools_return_indices": bool(pools) and all(p.return_indices for p in pools),
        "one_unpool_per_pool": sum(isinstance(m, nn.MaxUnpool2d) for m in model.modules()) == len(pools),
        "transposed_convolution": any(isinstance(m, nn.ConvTranspose2d) for m in model.modules()),
        "smaller_than_linear": _count(model) < _count(models.LinearAutoEncoder()),
        "in_0_1": bool(torch.all((out >= 0) & (out <= 1))),
    }


@probe(A, "5")
def test_every_model_is_under_500k_parameters_and_maps_the_right_shapes_conv(rng):
    return _shape_and_budget("AutoEncoder_CNN", (2, 1, 28, 28), rng)


@probe(A, "5")
def test_wrong_input_shape_raises_value_error_conv(rng):
    return _wrong_shape("AutoEncoder_CNN", (2, 28, 28), rng)
