"""``python main.py vae``: the baseline with an encoder, to measure what the auto-decoders give up without one.

A variational auto-encoder (Kingma & Welling, 2014) with everything but the encoder
taken from the Gaussian variational auto-decoder: the same
:class:`~auto_decoder.AutoDecoder.Decoder` class and latent size, the same N(0, I)
prior and Gaussian posterior family (:class:`~auto_decoder.VariationalAutoDecoder.Gaussian`),
the same loss (:func:`~auto_decoder.evaluate.penalised_loss` with ``--kl-weight``), and
the same training budget and rules (:func:`auto_decoder.train.train`: batch size,
learning rate, ``--epochs`` as a maximum, the validation plateau). The only difference is
where each image's posterior ``q(z | x) = N(loc, scale^2)`` comes from: an encoder
network computes it from the image, so every step improves the posteriors of *all*
images at once, and a test image is encoded in one pass instead of being fitted.

Its test reconstructions decode the encoder's ``loc``; the validation loss is the
noise-free objective of the held-out images (no fit needed).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader

from auto_decoder.analysis import Trained, find_classifier, finish, interpolation_pair
from auto_decoder.AutoDecoder import Decoder
from auto_decoder.evaluate import penalised_loss
from auto_decoder.train import Learner, train
from auto_decoder.utils import IndexedImages, in_order, load_run_data, run_device, take_first
from auto_decoder.VariationalAutoDecoder import FAMILIES
from common.runs import check_run, open_run

FIXED_ON_RESUME = ("seed", "subset", "batch_size", "latent_dim", "kl_weight", "val_size", "test_size")


class Encoder(nn.Module):
    """Image ``(B, 1, 28, 28)`` -> posterior parameters ``(loc, log_scale)``, each ``(B, latent_dim)``.

    The :class:`~auto_decoder.AutoDecoder.Decoder`'s layers in reverse order, so the two halves
    have the same capacity (about 0.43 M parameters each with the defaults):

    * ``PixelUnshuffle(2) -> Conv2d(4, 16, 3) -> ReLU``: 28x28 -> 14x14x16, a stride-2 view of
      6x6 patches (a strided convolution over the single input channel does the same, but is
      several times slower on a CPU);
    * ``Conv2d(16, 32, 4, stride 2) -> ReLU``: 14x14 -> 7x7x32;
    * ``Linear(1568, 256) -> ReLU -> Linear(256, 2 * latent_dim)``: the loc and log scale of
      every latent coordinate.
    """

    def __init__(self, latent_dim: int = 32, hidden: int = 256, channels: int = 32) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = nn.Sequential(
            nn.PixelUnshuffle(2),
            nn.Conv2d(4, channels // 2, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels // 2, channels, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(channels * 7 * 7, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * latent_dim),
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loc, log_scale)``, each ``(B, latent_dim)``, of images ``(B, 1, 28, 28)``."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected images (B, 1, 28, 28), got {tuple(x.shape)}")
        loc, log_scale = self.net(x).chunk(2, dim=1)
        return loc, log_scale


class VAE(nn.Module):
    """:class:`Encoder` + :class:`~auto_decoder.AutoDecoder.Decoder` with a Gaussian posterior and N(0, I) prior.

    ``vae(x)`` -> ``(loss, reconstruction)`` of a batch ``(B, 1, 28, 28)``: the decoder decodes one
    reparameterised draw ``z ~ q(z | x)``, and the loss adds ``kl_weight * KL(q || prior) / pixels``.
    """

    family = FAMILIES["gaussian"]

    def __init__(self, latent_dim: int = 32, kl_weight: float = 1.0) -> None:
        super().__init__()
        self.latent_dim, self.kl_weight = latent_dim, kl_weight
        self.encoder, self.decoder = Encoder(latent_dim), Decoder(latent_dim)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loc, scale)`` of q(z | x), each ``(B, latent_dim)``."""
        loc, log_scale = self.encoder(x)
        return loc, log_scale.exp()

    def forward(self, x: torch.Tensor, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, reconstruction)``; ``sample=False`` decodes ``loc`` instead of a draw (noise-free)."""
        loc, scale = self.posterior(x)
        z = self.family.rsample(loc, scale) if sample else loc
        return penalised_loss(x, self.decoder(z), self.family.kl(loc, scale).sum(1), self.kl_weight)

    def sample_prior(self, n: int) -> torch.Tensor:
        """``n`` draws ``(n, latent_dim)`` from N(0, I)."""
        return self.family.sample_prior((n, self.latent_dim), device=next(self.parameters()).device)


class VAELearner(Learner):
    """The VAE for :func:`auto_decoder.train.train`: one Adam over encoder and decoder."""

    scheduled = ("model",)

    def __init__(self, args: argparse.Namespace, device: torch.device) -> None:
        self.vae = VAE(args.latent_dim, args.kl_weight).to(device)
        self.modules = {"encoder": self.vae.encoder, "decoder": self.vae.decoder}
        self.optimizers = {"model": torch.optim.Adam(self.vae.parameters(), lr=args.lr)}

    def train_epoch(self, train_dl: DataLoader, device: torch.device) -> dict[str, float]:
        self.vae.train()
        opt = self.optimizers["model"]
        total, recon_total, count = 0.0, 0.0, 0
        for _, x in train_dl:
            x = x.to(device)
            loss, recon = self.vae(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            value = self.guard.check(loss) if self.guard is not None else loss.item()
            total, recon_total, count = total + value * len(x), recon_total + recon.item() * len(x), count + len(x)
        return {"loss": total / count, "reconstruction": recon_total / count}

    @torch.no_grad()
    def validation_loss(self, val_ds: IndexedImages, device: torch.device) -> float:
        self.vae.eval()
        total = sum(float(self.vae(x.to(device), sample=False)[0]) * len(x) for _, x in in_order(val_ds))
        return total / len(val_ds)

    @torch.no_grad()
    def encode(self, ds: IndexedImages, device: torch.device) -> torch.Tensor:
        """The posterior means ``(len(ds), latent_dim)`` of the images of ``ds``."""
        self.vae.eval()
        return torch.cat([self.vae.posterior(x.to(device))[0].cpu() for _, x in in_order(ds)])

    def train_codes(self, train_ds: IndexedImages, device: torch.device) -> torch.Tensor:
        return self.encode(train_ds, device)


def run(args: argparse.Namespace) -> dict:
    """``python main.py vae``: check everything, then train, encode the test images, analyse, write metrics.json."""
    device = run_device(args)
    check_run(args, FIXED_ON_RESUME)  # a refused --resume or a finished run in the way ends here, before the data
    data, dataset = load_run_data(args, device, val_size=args.val_size)
    test_ds = take_first(data.test, args.test_size)
    pair = interpolation_pair(test_ds, args.interp)
    learner = VAELearner(args, device)
    scorer = find_classifier(args, device)
    with open_run(args, FIXED_ON_RESUME, command=args.command, dataset=dataset, device=str(device)) as run_dir:
        progress = train(args, run_dir, learner, data, device)
        codes = {"train": learner.train_codes(data.train, device), "test": learner.encode(test_ds, device)}
        model = Trained(learner.decoder, learner.vae.sample_prior, codes, data, test_ds, pair)
        return finish(args, run_dir, progress, model, scorer, device)
