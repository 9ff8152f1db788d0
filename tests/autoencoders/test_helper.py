"""Training loops, noise model and the Dice loss."""
import pytest
import torch
import torch.nn as nn

from autoencoders import helper
from common.runs import load_checkpoint


def test_add_noise_is_clamped_gaussian_and_reproducible():
    x = torch.rand(500, 1, 28, 28)
    noisy = helper.add_noise(x, 0.5, torch.Generator().manual_seed(1))
    assert noisy.shape == x.shape and noisy.min() >= 0 and noisy.max() <= 1
    assert noisy.min() == 0 and noisy.max() == 1  # std 0.5 certainly leaves [0, 1] somewhere
    assert torch.equal(noisy, helper.add_noise(x, 0.5, torch.Generator().manual_seed(1)))
    mid = (x > 0.45) & (x < 0.55)  # far from the clamp, the noise keeps its standard deviation
    assert abs(float((helper.add_noise(x, 0.05)[mid] - x[mid]).std()) - 0.05) < 0.005
    assert torch.equal(helper.add_noise(x, 0.0), x)
    with pytest.raises(ValueError):
        helper.add_noise(x, -1.0)


def test_dice_loss_matches_the_formula_computed_by_hand():
    p = torch.tensor([[0.2, 0.8], [1.0, 0.0]], dtype=torch.float64).view(1, 1, 2, 2)
    t = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64).view(1, 1, 2, 2)
    # sum(p*t) = 0.8 + 1.0 = 1.8; sum(p^2) = 0.04 + 0.64 + 1.0 = 1.68; sum(t^2) = 2
    expected = 1 - (2 * 1.8 + 1e-6) / (1.68 + 2 + 1e-6)
    assert float(helper.dice_loss(p, t)) == pytest.approx(expected, rel=1e-6)
    assert float(helper.dice_loss(t, t)) == pytest.approx(0.0, abs=1e-7)
    assert float(helper.dice_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))) == pytest.approx(0.0)  # eps: 1 - eps/eps
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
    test = list(zip(*[t.split(32) for t in _blobs(64, 1)]))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = helper.train_supervised(model, train, test, optimizer, 3, torch.device("cpu"), tmp_path)
    assert len(history["train_loss"]) == len(history["test_acc"]) == 3
    assert history["test_acc"][-1] > 0.9 and history["train_loss"][-1] < history["train_loss"][0]
    model.load_state_dict(load_checkpoint(tmp_path / "best.pth"))
    assert helper.evaluate_accuracy(model, test, torch.device("cpu")) == max(history["test_acc"])


def test_resume_continues_the_same_history(tmp_path):
    train = list(zip(*[t.split(16) for t in _blobs(64, 0)]))
    test = list(zip(*[t.split(32) for t in _blobs(32, 1)]))

    def fresh():
        torch.manual_seed(0)
        model = nn.Linear(4, 2)
        return model, torch.optim.SGD(model.parameters(), lr=0.1)

    model, opt = fresh()
    first = helper.train_supervised(model, train, test, opt, 1, torch.device("cpu"), tmp_path)
    model, opt = fresh()
    resumed = helper.train_supervised(model, train, test, opt, 2, torch.device("cpu"), tmp_path, resume=True)
    assert len(resumed["train_loss"]) == 2 and resumed["train_loss"][0] == first["train_loss"][0]


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
    history = helper.train_unsupervised(spy, [images], [images], torch.optim.SGD(spy.parameters(), lr=0.0), 1,
                                        torch.device("cpu"), tmp_path, task=task, noise_std=0.2)  # fmt: skip
    fed = spy.inputs[0]
    if task == "reconstruction":
        assert torch.equal(fed, images)
        assert history["test_mse"] == [pytest.approx(0.0)]
    else:
        assert not torch.equal(fed, images) and fed.min() >= 0 and fed.max() <= 1
        assert history["test_mse"][0] == pytest.approx(float(((spy.inputs[-1] - images) ** 2).mean()), rel=1e-6)


def test_unsupervised_loop_rejects_an_unknown_task(tmp_path):
    with pytest.raises(ValueError):
        helper.train_unsupervised(_Spy(), [], [], None, 1, torch.device("cpu"), tmp_path, task="inpainting")


def test_segmentation_loop_keeps_sample_outputs_every_few_epochs(tmp_path):
    torch.manual_seed(0)
    x = torch.rand(4, 1, 16, 16)
    t = (x > 0.5).float()
    model = nn.Conv2d(1, 1, 1)
    history = helper.train_segmentation(model, [(x, t)] * 10, [(x, t)], torch.optim.Adam(model.parameters(), lr=0.1), 5,
                                        torch.device("cpu"), tmp_path, x[:2], sample_every=2)  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["epoch_002.npy", "epoch_004.npy", "epoch_005.npy"]
    assert set(history) >= {"train_loss", "test_loss", "test_dice", "test_iou"}
    assert history["test_dice"][-1] > history["test_dice"][0]
    assert all(0 <= v <= 1 for v in history["test_dice"] + history["test_iou"])
