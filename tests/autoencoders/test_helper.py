"""The training loops (cifar.train, mnist_ae.train, segment.train), the evaluation helpers and the Dice loss."""

import pytest
import torch
import torch.nn as nn

from autoencoders import cifar, helper, mnist_ae, models, segment
from common.noise import add_noise
from common.runs import load_checkpoint

CPU = torch.device("cpu")


def test_dice_loss_matches_the_formula_computed_by_hand():
    p = torch.tensor([[0.2, 0.8], [1.0, 0.0]], dtype=torch.float64).view(1, 1, 2, 2)
    t = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64).view(1, 1, 2, 2)
    # sum(p*t) = 0.8 + 1.0 = 1.8; sum(p^2) = 0.04 + 0.64 + 1.0 = 1.68; sum(t^2) = 2
    expected = 1 - (2 * 1.8 + 1e-6) / (1.68 + 2 + 1e-6)
    assert float(helper.dice_loss(p, t)) == pytest.approx(expected, rel=1e-6)
    assert float(helper.dice_loss(t, t)) == pytest.approx(0.0, abs=1e-7)
    assert float(helper.dice_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))) == pytest.approx(
        0.0
    )  # eps: 1 - eps/eps
    assert float(helper.dice_loss(1 - t, t)) == pytest.approx(1 - 1e-6 / (4 + 1e-6))
    with pytest.raises(ValueError):
        helper.dice_loss(p, t[..., :1])


def test_dice_loss_sums_over_the_whole_batch_and_has_the_right_gradient():
    p = torch.rand(3, 1, 5, 5, dtype=torch.float64, requires_grad=True)
    t = (torch.rand(3, 1, 5, 5) > 0.5).double()
    loss = helper.dice_loss(p, t)
    a, b = float((p * t).sum().detach()), float((p.detach() ** 2).sum() + (t**2).sum())
    assert float(loss.detach()) == pytest.approx(1 - (2 * a + 1e-6) / (b + 1e-6), rel=1e-6)
    loss.backward()
    manual = -(2 * t * (b + 1e-6) - (2 * a + 1e-6) * 2 * p.detach()) / (b + 1e-6) ** 2
    torch.testing.assert_close(p.grad, manual, rtol=1e-4, atol=1e-6)


def _blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 4, generator=g) + 2.5 * (2 * y[:, None] - 1).float()
    return x, y


def test_supervised_loop_learns_returns_histories_and_keeps_the_best_weights(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
    train = list(zip(*[t.split(16) for t in _blobs(128, 0)]))
    val = list(zip(*[t.split(32) for t in _blobs(64, 1)]))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = cifar.train(model, train, val, helper.Fit(optimizer, 3, CPU, tmp_path))
    assert len(history["train_loss"]) == len(history["val_acc"]) == 3 and "test_acc" not in history
    assert history["val_acc"][-1] > 0.9 and history["train_loss"][-1] < history["train_loss"][0]
    model.load_state_dict(load_checkpoint(tmp_path / "best.pth"))
    assert helper.evaluate_accuracy(model, val, CPU) == max(history["val_acc"])
    assert not (tmp_path / "best_test.pth").exists()  # only with a test_loader (the course's CIFAR-10 protocol)


def test_evaluate_accuracy_counts_every_batch():
    model = nn.Identity()  # the inputs are the logits
    batches = [
        (torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0])),
        (torch.tensor([[0.0, 1.0]]), torch.tensor([1])),
    ]
    assert helper.evaluate_accuracy(model, batches, CPU) == pytest.approx(2 / 3)


def test_resume_continues_the_same_history_and_weights(tmp_path):
    """Interrupted after epoch 1 and resumed == two epochs in one go (shuffling and dropout included)."""
    x, y = _blobs(64, 0)
    test = list(zip(*[t.split(32) for t in _blobs(32, 1)]))

    def fresh(folder):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2))
        g = torch.Generator().manual_seed(0)
        loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), 16, shuffle=True, generator=g)
        return model, loader, torch.optim.Adam(model.parameters(), lr=0.05), folder

    model, loader, opt, folder = fresh(tmp_path / "straight")
    folder.mkdir()
    straight = cifar.train(model, loader, test, helper.Fit(opt, 2, CPU, folder))
    folder = tmp_path / "resumed"
    folder.mkdir()
    model1, loader1, opt1, _ = fresh(folder)
    first = cifar.train(model1, loader1, test, helper.Fit(opt1, 1, CPU, folder))  # "interrupted" after epoch 1
    model2, loader2, opt2, _ = fresh(folder)
    torch.manual_seed(123)  # a resumed process starts from another random state
    resumed = cifar.train(model2, loader2, test, helper.Fit(opt2, 2, CPU, folder, resume=True))
    assert resumed["train_loss"][0] == first["train_loss"][0] and len(resumed["train_loss"]) == 2
    for key in ("train_loss", "val_acc"):
        assert resumed[key] == straight[key], key
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        assert torch.equal(a, b)


class _Spy(nn.Module):
    """Identity with one parameter that records what it is fed."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))
        self.inputs = []

    def forward(self, x):
        self.inputs.append(x.detach().clone())
        return x * self.w


@pytest.mark.parametrize("task", helper.TASKS)
def test_unsupervised_loop_feeds_clean_or_noisy_images_and_targets_the_clean_one(tmp_path, task):
    images = torch.rand(8, 1, 28, 28) * 0.5 + 0.25
    spy = _Spy()
    fit = helper.Fit(torch.optim.SGD(spy.parameters(), lr=0.0), 1, CPU, tmp_path)
    history = mnist_ae.train(spy, [images], [images], fit, task=task, noise_std=0.2)
    fed = spy.inputs[0]
    if task == "reconstruction":
        assert torch.equal(fed, images)
        assert history["val_mse"] == [pytest.approx(0.0)]
    else:
        assert not torch.equal(fed, images) and fed.min() >= 0 and fed.max() <= 1
        assert history["val_mse"][0] == pytest.approx(float(((spy.inputs[-1] - images) ** 2).mean()), rel=1e-6)


def test_unsupervised_loop_rejects_an_unknown_task(tmp_path):
    with pytest.raises(ValueError):
        mnist_ae.train(_Spy(), [], [], helper.Fit(None, 1, CPU, tmp_path), task="inpainting")


def _strokes(n: int, seed: int) -> torch.Tensor:
    """Digit-like images: dark background, one bright rectangle."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 28, 28)
    for img in x:
        r, c, h, w = torch.randint(4, 12, (4,), generator=g).tolist()
        img[0, r : r + h, c : c + w] = 1.0
    return x


def test_denoising_autoencoder_beats_the_noisy_input(tmp_path):
    """A few epochs of the denoising loop: the conv autoencoder's output is closer to the clean test
    images than the noisy input it is given (a loop that trained on clean inputs or on nothing fails)."""
    torch.manual_seed(0)
    train, test = _strokes(256, 0), _strokes(64, 1)
    model = models.AutoEncoder_CNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    untrained = helper.autoencoder_test_mse(model, [test], CPU, "denoising", 0.4)
    fit = helper.Fit(optimizer, 4, CPU, tmp_path)
    history = mnist_ae.train(model, list(train.split(32)), [test], fit, task="denoising", noise_std=0.4)
    noisy = add_noise(test, 0.4, torch.Generator().manual_seed(0), clamp=(0, 1))
    input_mse = float(((noisy - test) ** 2).mean())
    assert history["val_mse"][-1] < 0.5 * input_mse < untrained


def test_segmentation_loop_keeps_sample_outputs_every_few_epochs(tmp_path):
    torch.manual_seed(0)
    x = torch.rand(4, 1, 16, 16)
    t = (x > 0.5).float()
    model = nn.Conv2d(1, 1, 1)
    fit = helper.Fit(torch.optim.Adam(model.parameters(), lr=0.1), 5, CPU, tmp_path)
    history = segment.train(model, [(x, t)] * 10, [(x, t)], fit, x[:2], sample_every=2)
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "epoch_002.npz",
        "epoch_004.npz",
        "epoch_005.npz",
    ]
    assert set(history) >= {"train_loss", "val_loss", "val_dice", "val_iou"}
    assert history["val_dice"][-1] > history["val_dice"][0]
    assert all(0 <= v <= 1 for v in history["val_dice"] + history["val_iou"])
