"""The training driver: the plateau rule, early stopping with the best model kept, resume; and the VAE."""

import argparse

import pytest
import torch
from torch import nn

from auto_decoder.AutoDecoder import Decoder
from auto_decoder.train import Learner, Plateau, train
from auto_decoder.utils import IndexedImages, RunData
from auto_decoder.vae import VAE, Encoder, VAELearner
from common.runs import load_checkpoint

from .conftest import fake_split


def test_plateau_reduces_then_stops_and_marks_the_best():
    plateau = Plateau(lr_patience=2, patience=5, threshold=0.01)
    losses = [1.0, 0.9, 0.895, 0.896, 0.85, 0.849, 0.86, 0.86, 0.86, 0.86]
    decisions = [plateau.step(x) for x in losses]
    # 0.895 and 0.849 are new lows but less than 1 % better: best without resetting the patience
    assert [d.best for d in decisions] == [True, True, True, False, True, True, False, False, False, False]
    assert [d.action for d in decisions] == [
        "continue",
        "continue",
        "continue",
        "reduce",
        "continue",
        "continue",
        "reduce",
        "continue",
        "reduce",
        "stop",
    ]
    restored = Plateau(lr_patience=2, patience=5, threshold=0.01)
    restored.load_state_dict(Plateau(2, 5, threshold=0.01).state_dict())
    for x in losses[:4]:
        restored.step(x)
    copy = Plateau(lr_patience=2, patience=5, threshold=0.01)
    copy.load_state_dict(restored.state_dict())  # a resumed run decides as the uninterrupted one
    assert [copy.step(x) for x in losses[4:]] == decisions[4:]
    with pytest.raises(ValueError):
        Plateau(lr_patience=0)


class ScriptedLearner(Learner):
    """A learner whose weights count the epochs trained (a bias starting at 0) and whose validation
    loss after epoch k is ``val_losses[k - 1]``."""

    scheduled = ("decoder",)

    def __init__(self, val_losses, interrupt_at=None):
        self.modules = {"decoder": Decoder(latent_dim=2)}
        nn.init.zeros_(self.decoder.net[0].bias)
        self.optimizers = {"decoder": torch.optim.SGD(self.decoder.parameters(), lr=1.0)}
        self.val_losses, self.interrupt_at, self.epochs_run = list(val_losses), interrupt_at, 0

    @property
    def trained(self) -> int:
        return round(self.decoder.net[0].bias[0].item())

    def train_epoch(self, train_dl, device):
        if self.trained + 1 == self.interrupt_at:
            raise KeyboardInterrupt
        self.epochs_run += 1
        with torch.no_grad():
            self.decoder.net[0].bias.add_(1.0)
        return {"loss": 1.0 / self.trained, "reconstruction": 1.0 / self.trained}

    def validation_loss(self, val_ds, device):
        return self.val_losses[self.trained - 1]

    def train_codes(self, train_ds, device):
        return torch.zeros(len(train_ds), 2)


def tiny_data(val: bool) -> RunData:
    images, labels = fake_split(6, 8)
    ds = IndexedImages(torch.from_numpy(images), torch.from_numpy(labels))
    return RunData(ds, [None], ds if val else None, ds, [None])


def run_args(**kw) -> argparse.Namespace:
    return argparse.Namespace(**{"epochs": 20, "lr_patience": 2, "patience": 3, "resume": False, "command": "ad", **kw})


def test_training_stops_on_the_plateau_and_keeps_the_best_model(tmp_path):
    losses = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 3.0, 2.0]  # the last is never reached: 3 epochs without improvement
    learner = ScriptedLearner(losses)
    progress = train(run_args(), tmp_path, learner, tiny_data(val=True), "cpu")
    state = progress.extra
    assert state["stopped"] == "plateau" and progress.step == 6 and progress.best_step == 3
    assert learner.trained == 3  # the weights of epoch 3
    assert [h["val_loss"] for h in state["history"]] == losses[:6]
    assert [h["lr"] for h in state["history"]] == [1.0, 1.0, 1.0, 1.0, 1.0, 0.5]  # halved after 2 bad epochs
    assert load_checkpoint(tmp_path / "checkpoint.pt")["extra"]["plateau_stop"]


def test_training_without_validation_runs_every_epoch(tmp_path):
    learner = ScriptedLearner([])
    progress = train(run_args(epochs=4), tmp_path, learner, tiny_data(val=False), "cpu")
    assert progress.extra["stopped"] == "fixed_epochs" and learner.epochs_run == 4 and progress.best_model is None
    learner = ScriptedLearner([3.0, 2.0, 1.0])
    progress = train(run_args(epochs=3), tmp_path / "max", learner, tiny_data(val=True), "cpu")
    assert progress.extra["stopped"] == "max_epochs" and progress.best_step == 3


def test_interrupted_training_resumes_where_it_stopped(tmp_path):
    losses = [5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 3.0]
    expected = train(run_args(), tmp_path / "whole", ScriptedLearner(losses), tiny_data(True), "cpu")
    with pytest.raises(KeyboardInterrupt):
        train(run_args(), tmp_path, ScriptedLearner(losses, interrupt_at=5), tiny_data(True), "cpu")
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 4
    resumed = ScriptedLearner(losses)  # a fresh process: weights, optimiser and plateau come from the checkpoint
    progress = train(run_args(resume=True), tmp_path, resumed, tiny_data(True), "cpu")
    assert progress.extra["history"] == expected.extra["history"] and progress.best_step == expected.best_step == 3
    assert resumed.epochs_run == 2 and progress.extra["stopped"] == "plateau" and resumed.trained == 3
    again = ScriptedLearner(losses)  # resuming a run that already stopped trains nothing
    assert (
        train(run_args(resume=True), tmp_path, again, tiny_data(True), "cpu").extra["history"]
        == expected.extra["history"]
    )
    assert again.epochs_run == 0


# ------------------------------------------------------------------------------------ VAE
def test_vae_uses_the_same_decoder_class_and_shapes():
    vae = VAE(latent_dim=6, kl_weight=1.0)
    assert type(vae.decoder) is Decoder and vae.decoder.latent_dim == 6
    assert sum(p.numel() for p in vae.decoder.parameters()) == sum(p.numel() for p in Decoder(6).parameters())
    x = torch.rand(5, 1, 28, 28)
    loc, scale = vae.posterior(x)
    assert loc.shape == scale.shape == (5, 6) and (scale > 0).all()
    assert vae.decoder(loc).shape == x.shape and vae.sample_prior(7).shape == (7, 6)
    with pytest.raises(ValueError):
        Encoder(6)(torch.rand(5, 28, 28))


def test_vae_loss_is_the_negative_elbo_per_pixel():
    torch.manual_seed(0)
    vae = VAE(latent_dim=4, kl_weight=2.0)
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        loss, recon = vae(x, sample=False)
        loc, scale = vae.posterior(x)
        manual_recon = nn.functional.binary_cross_entropy(vae.decoder(loc), x)
    kl = (0.5 * (scale**2 + loc**2 - 1) - scale.log()).sum(1).mean()  # KL(N(loc, scale^2) || N(0, 1))
    assert float(recon) == pytest.approx(float(manual_recon), rel=1e-5)
    assert float(loss) == pytest.approx(float(manual_recon + 2.0 * kl / 784), rel=1e-5)
    torch.manual_seed(1)
    with torch.no_grad():
        sampled, _ = vae(x)  # a draw instead of the mean: a different, noisy reconstruction term
    assert float(sampled) != pytest.approx(float(loss), rel=1e-6)


def test_vae_learner_trains_and_its_codes_are_the_posterior_means():
    torch.manual_seed(0)
    images, labels = fake_split(32, 9)
    ds = IndexedImages(torch.from_numpy(images), torch.from_numpy(labels))
    dl = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0))
    learner = VAELearner(argparse.Namespace(latent_dim=4, kl_weight=1.0, lr=3e-3), "cpu")
    before = learner.validation_loss(ds, "cpu")
    for _ in range(5):
        learner.train_epoch(dl, "cpu")
    assert learner.validation_loss(ds, "cpu") < before - 0.05
    codes = learner.encode(ds, "cpu")
    with torch.no_grad():
        assert torch.allclose(codes, learner.vae.posterior(ds.batch(torch.arange(32)))[0], atol=1e-6)
