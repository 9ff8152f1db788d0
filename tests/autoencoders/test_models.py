"""Architectures: the parameter budgets and the exact layers the assignment prescribes."""

import pytest
import torch
import torch.nn as nn
import torchvision

from autoencoders import models

OWN_MODELS = {
    "CifarCNN": (models.CifarCNN, (2, 3, 32, 32), (2, 10)),
    "LinearAutoEncoder": (models.LinearAutoEncoder, (2, 1, 28, 28), (2, 1, 28, 28)),
    "AutoEncoder_CNN": (models.AutoEncoder_CNN, (2, 1, 28, 28), (2, 1, 28, 28)),
    "STL10CNN": (models.STL10CNN, (2, 3, 96, 96), (2, 10)),
    "STL10AutoEncoder": (models.STL10AutoEncoder, (2, 3, 96, 96), (2, 3, 96, 96)),
    "SegmentationNet": (models.SegmentationNet, (1, 1, 240, 240), (1, 1, 240, 240)),
}


EXACT_COUNTS = {
    "CifarCNN": 420_330,
    "LinearAutoEncoder": 223_391,
    "AutoEncoder_CNN": 14_425,
    "STL10CNN": 464_682,
    "STL10AutoEncoder": 200_771,
    "SegmentationNet": 469_121,
}


@pytest.mark.parametrize("name", OWN_MODELS)
def test_parameter_counts_are_the_ones_the_docstrings_state(name):
    cls = OWN_MODELS[name][0]
    count = models.count_parameters(cls())
    assert count == EXACT_COUNTS[name]
    assert f"{count:,} parameters" in " ".join(cls.__doc__.split())


@pytest.mark.parametrize("name", OWN_MODELS)
def test_every_model_is_under_500k_parameters_and_maps_the_right_shapes(name):
    cls, in_shape, out_shape = OWN_MODELS[name]
    model = cls().eval()
    assert models.count_parameters(model) <= 500_000
    with torch.no_grad():
        assert model(torch.rand(in_shape)).shape == out_shape


def test_transfer_models_train_under_500k_parameters():
    resnet = models.resnet18_transfer(None)
    assert models.count_parameters(resnet, trainable_only=True) == 512 * 10 + 10
    ae = models.STL10AutoEncoder()
    clf = models.EncoderClassifier(ae.encoder, models.code_classifier_head(ae.code_channels))
    assert models.count_parameters(clf, trainable_only=True) <= 500_000
    assert models.count_parameters(clf.encoder, trainable_only=True) == 0


def test_linear_autoencoder_has_exactly_the_prescribed_layers():
    model = models.LinearAutoEncoder()
    enc, dec = list(model.encoder), list(model.decoder)
    assert isinstance(enc[0], nn.Flatten)
    linear_sizes = lambda seq: [(m.in_features, m.out_features) for m in seq if isinstance(m, nn.Linear)]  # noqa: E731
    assert linear_sizes(enc) == [(784, 128), (128, 64), (64, 32), (32, 15)]
    assert linear_sizes(dec) == [(15, 32), (32, 64), (64, 128), (128, 784)]
    # ReLU after every Linear but the last; the decoder ends in a Sigmoid.
    assert [type(m) for m in enc[1:]] == [nn.Linear, nn.ReLU] * 3 + [nn.Linear]
    assert [type(m) for m in dec] == [nn.Linear, nn.ReLU] * 3 + [nn.Linear, nn.Sigmoid]
    out = model(torch.rand(3, 1, 28, 28))
    assert out.shape == (3, 1, 28, 28) and out.min() >= 0 and out.max() <= 1


def test_conv_autoencoder_uses_unpooling_with_indices_under_35k_parameters():
    model = models.AutoEncoder_CNN()
    assert models.count_parameters(model) <= 35_000
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert pools and all(p.return_indices for p in pools)
    assert len([m for m in model.modules() if isinstance(m, nn.MaxUnpool2d)]) == len(pools)
    assert any(isinstance(m, nn.ConvTranspose2d) for m in model.modules())
    assert models.count_parameters(model) < models.count_parameters(models.LinearAutoEncoder())
    out = model.eval()(torch.rand(2, 1, 28, 28))
    assert out.min() >= 0 and out.max() <= 1


def test_cifar_cnn_has_batch_norm_dropout_relu_and_several_convolutions():
    model = models.CifarCNN()
    kinds = {type(m) for m in model.modules()}
    assert {nn.BatchNorm2d, nn.Dropout, nn.ReLU, nn.Linear} <= kinds
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) >= 4


def test_stl10_autoencoder_is_about_200k_with_4_to_5_conv_and_deconv_layers():
    model = models.STL10AutoEncoder()
    assert 150_000 <= models.count_parameters(model) <= 250_000
    n_conv = sum(isinstance(m, nn.Conv2d) for m in model.encoder.modules())
    n_deconv = sum(isinstance(m, nn.ConvTranspose2d) for m in model.decoder.modules())
    assert 4 <= n_conv <= 5 and 4 <= n_deconv <= 5
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize(
    "name, shape",
    [
        ("CifarCNN", (2, 1, 32, 32)),
        ("LinearAutoEncoder", (2, 1, 32, 32)),
        ("AutoEncoder_CNN", (2, 28, 28)),
        ("SegmentationNet", (1, 1, 100, 100)),
        ("STL10AutoEncoder", (1, 3, 64, 64)),
    ],
)
def test_wrong_input_shape_raises_value_error(name, shape):
    # built inside the test, so one model that fails to build fails only its own cases (the grader relies on it)
    model = getattr(models, name)()
    with pytest.raises(ValueError):
        model(torch.rand(shape))


def test_frozen_encoder_does_not_change_while_the_head_trains():
    ae = models.STL10AutoEncoder()
    clf = models.EncoderClassifier(ae.encoder, models.code_classifier_head(ae.code_channels))
    before = {k: v.clone() for k, v in clf.encoder.state_dict().items()}
    head_before = [p.clone() for p in clf.head.parameters()]
    optimizer = torch.optim.SGD([p for p in clf.parameters() if p.requires_grad], lr=0.1)
    clf.train()
    loss = nn.functional.cross_entropy(clf(torch.rand(4, 3, 96, 96)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    for k, v in clf.encoder.state_dict().items():  # weights and batch-norm running statistics
        assert torch.equal(v, before[k]), k
    assert any(not torch.equal(a, b) for a, b in zip(head_before, clf.head.parameters()))


def test_resnet18_loads_backbone_weights():
    reference = torchvision.models.resnet18(weights=None)
    model = models.resnet18_transfer({k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")})
    assert torch.equal(model.encoder.conv1.weight, reference.conv1.weight)
    assert model.eval()(torch.rand(2, 3, 96, 96)).shape == (2, 10)
