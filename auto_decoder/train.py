"""``python main.py ad`` and ``python main.py vad``: train a (variational) auto-decoder, fit test latents, analyse.

1. Training (:func:`train`, shared with ``python main.py vae``): epochs of :func:`train_one_epoch`,
   where the decoder (one Adam step) and the latents of the batch's images (one
   :class:`~auto_decoder.AutoDecoder.RowAdam` step on the touched rows) move together. Latents
   start at their images' probabilistic-PCA posterior (``--init pca``). With ``--val-size N``, N
   training images are held out; after every epoch their latents are refitted to the current
   decoder (``--val-steps`` full-batch steps, warm-started), and that validation loss
   (:class:`Plateau`) halves the decoder's learning rate after ``--lr-patience`` stalled epochs and
   stops training after ``--patience``; the best validation epoch is kept. Without ``--val-size``
   (the course's setting) exactly ``--epochs`` epochs run.
2. Test (:func:`fit_test_latents`): the decoder is frozen and fresh latents for the first
   ``--test-size`` test images are fitted with the training objective until it stops improving.
3. Analysis (:func:`auto_decoder.analysis.finish`): reconstruction BCE and PSNR, figures, and the
   scores of ``--samples`` prior draws.

The run folder holds ``config.json``, ``checkpoint.pt`` (after every epoch, for ``--resume``),
``metrics.json`` and the figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from auto_decoder.analysis import Trained, find_classifier, finish, interpolation_pair, model_name
from auto_decoder.AutoDecoder import Decoder, LatentTable, PCAStart, RowAdam
from auto_decoder.evaluate import (
    BCE_EXPLODE_FACTOR,
    fit_latents,
    mean_objective,
    mean_reconstruction_loss,
    objective,
    reconstruction_scores,
)
from auto_decoder.utils import IndexedImages, RunData, in_order, load_run_data, run_device, take_first
from auto_decoder.VariationalAutoDecoder import VariationalLatentTable
from common.checkpoint import Progress, load_progress, load_state, save_extra, save_progress
from common.cli import DataError
from common.guard import DivergenceGuard
from common.runs import append_log, check_run, open_run

# Changing these mid-run would make the checkpoint meaningless, so --resume refuses it.
FIXED_ON_RESUME = (
    "seed",
    "subset",
    "batch_size",
    "latent_dim",
    "family",
    "kl_weight",
    "init",
    "init_scale",
    "val_size",
    "val_steps",
    "test_size",
    "test_steps",
    "test_lr",
)
TEST_TOL, TEST_WINDOW = 1e-3, 50  # the test fit has converged when 50 steps improve the objective by < 0.1 %
FIT_CHUNK = 2000  # images per step of a latent fit: rows are independent given the frozen decoder


# ----------------------------------------------------------------------- the plateau rule
class Decision(NamedTuple):
    best: bool  # the lowest validation loss so far: keep this model
    action: str  # "continue", "reduce" (the learning rate) or "stop"


class Plateau:
    """Learning-rate reduction and early stopping on a validation loss.

    An epoch *improves* when its loss is below ``(1 - threshold)`` times the last improving
    loss. After every ``lr_patience`` epochs in a row without improvement the caller scales
    the learning rates by ``factor``; after ``patience`` such epochs it stops. ``best`` marks
    the lowest loss so far, even by less than the threshold, so the kept model is the best one.

    The threshold is small (0.01 %, as in ``torch.optim.lr_scheduler.ReduceLROnPlateau``): each
    training latent moves once per epoch, so the models keep improving by small steps for many
    epochs, and a coarser threshold halves the learning rates while they still do (README: design choices).
    """

    def __init__(self, lr_patience: int = 2, patience: int = 4, factor: float = 0.5, threshold: float = 1e-4) -> None:
        if lr_patience < 1 or patience < 1:
            raise ValueError("patience and lr_patience must be at least 1")
        self.lr_patience, self.patience, self.factor, self.threshold = lr_patience, patience, factor, threshold
        self.reference, self.lowest, self.bad = float("inf"), float("inf"), 0

    def step(self, loss: float) -> Decision:
        best = loss < self.lowest
        self.lowest = min(self.lowest, loss)
        if loss < self.reference * (1 - self.threshold):
            self.reference, self.bad = loss, 0
            return Decision(best, "continue")
        self.bad += 1
        if self.bad >= self.patience:
            return Decision(best, "stop")
        return Decision(best, "reduce" if self.bad % self.lr_patience == 0 else "continue")

    def state_dict(self) -> dict:
        return {"reference": self.reference, "lowest": self.lowest, "bad": self.bad}

    def load_state_dict(self, state: dict) -> None:
        self.reference, self.lowest, self.bad = state["reference"], state["lowest"], state["bad"]


# ------------------------------------------------------------------------------ learners
class Learner:
    """What :func:`train` needs of a model: its modules and optimisers (saved and restored together), the
    names of the optimisers whose learning rate the plateau rule scales, one training epoch, a validation
    loss, and the latent codes ``(N, latent_dim)`` of the training images."""

    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    scheduled: tuple[str, ...]
    guard: DivergenceGuard | None = None  # set by :func:`train`; each train_epoch checks its losses with it

    @property
    def decoder(self) -> nn.Module:
        return self.modules["decoder"]

    def train_epoch(self, train_dl: DataLoader, device: torch.device) -> dict[str, float]:
        raise NotImplementedError

    def validation_loss(self, val_ds: IndexedImages, device: torch.device) -> float:
        raise NotImplementedError

    def train_codes(self, train_ds: IndexedImages, device: torch.device) -> torch.Tensor:
        raise NotImplementedError

    def lr(self) -> float:
        return self.optimizers[self.scheduled[0]].param_groups[0]["lr"]

    def scale_lr(self, factor: float) -> None:
        for name in self.scheduled:
            for group in self.optimizers[name].param_groups:
                group["lr"] *= factor


def make_table(args: argparse.Namespace, images: IndexedImages, start: PCAStart | None) -> nn.Module:
    """A latent table with one row per image of ``images``: plain for ``ad``, one distribution per image for
    ``vad``. With a ``start`` (``--init pca``) every row starts at its image's PCA posterior, else at random
    (locations from N(0, 0.1^2), VAD scales ``--init-scale``)."""
    if args.command == "ad":
        table = LatentTable(len(images), args.latent_dim)
    else:
        table = VariationalLatentTable(
            len(images), args.latent_dim, args.family, kl_weight=args.kl_weight, init_scale=args.init_scale
        )
    if start is not None:
        table.start_at(start.posterior_means(images), start.std)
    return table


def train_one_epoch(
    decoder: nn.Module,
    latents: nn.Module,
    train_dl: DataLoader,
    opt_decoder: torch.optim.Optimizer,
    opt_latents: torch.optim.Optimizer,
    device: torch.device,
    guard: DivergenceGuard | None = None,
) -> dict[str, float]:
    """One pass over the training images; returns the mean loss and reconstruction term.
    ``guard`` stops a diverged run (:class:`common.cli.Diverged`)."""
    decoder.train()
    total, recon_total, count = 0.0, 0.0, 0
    for indices, x in train_dl:
        indices, x = indices.to(device), x.to(device)
        loss, recon = objective(decoder, latents, indices, x)  # BCE (+ KL / pixels for a VAD)
        opt_decoder.zero_grad(set_to_none=True)
        opt_latents.zero_grad(set_to_none=True)
        loss.backward()
        opt_decoder.step()
        opt_latents.step()  # RowAdam: only the rows of this batch move
        value = guard.check(loss) if guard is not None else loss.item()
        total, recon_total, count = total + value * len(x), recon_total + recon.item() * len(x), count + len(x)
    return {"loss": total / count, "reconstruction": recon_total / count}


class AutoDecoderLearner(Learner):
    """An auto-decoder (``ad``) or variational auto-decoder (``vad``): the decoder, one latent table row per
    training image and, with validation images, a table for those (refitted after every epoch); with
    ``--init pca``, the :class:`~auto_decoder.AutoDecoder.PCAStart` every table starts from."""

    # The plateau rule slows the decoder only: each training latent is updated once per epoch, a few dozen
    # times in a full-set run, and RowAdam already bounds every update by --latent-lr; halving it too costs
    # the latents updates they still need (README: design choices).
    scheduled = ("decoder",)

    def __init__(self, args: argparse.Namespace, data: RunData, device: torch.device) -> None:
        self.val_steps = args.val_steps
        self.start = PCAStart(data.train, args.latent_dim) if args.init == "pca" else None
        self.modules = {
            "decoder": Decoder(args.latent_dim).to(device),
            "latents": make_table(args, data.train, self.start).to(device),
        }
        self.optimizers = {
            "decoder": torch.optim.Adam(self.decoder.parameters(), lr=args.lr),
            "latents": RowAdam(list(self.modules["latents"].parameters()), lr=args.latent_lr),
        }
        if data.val is not None:
            self.modules["val_latents"] = make_table(args, data.val, self.start).to(device)
            self.optimizers["val_latents"] = RowAdam(list(self.modules["val_latents"].parameters()), lr=args.test_lr)

    def train_epoch(self, train_dl, device):
        return train_one_epoch(
            self.decoder,
            self.modules["latents"],
            train_dl,
            self.optimizers["decoder"],
            self.optimizers["latents"],
            device,
            self.guard,
        )

    def validation_loss(self, val_ds, device):
        """A few full-batch steps of the validation latents, warm-started from the last epoch (the decoder
        moved a little since), then their noise-free objective (:func:`~auto_decoder.evaluate.mean_objective`)."""
        batches, latents = list(in_order(val_ds, FIT_CHUNK)), self.modules["val_latents"]
        fit_latents(
            self.decoder,
            batches,
            self.optimizers["val_latents"],
            latents,
            self.val_steps,
            device,
            desc="validation latents",
        )
        return mean_objective(self.decoder, latents, batches, device)

    @torch.no_grad()
    def train_codes(self, train_ds, device):
        return self.modules["latents"].mean(torch.arange(len(train_ds), device=device)).cpu()


# ------------------------------------------------------------------------------ training
def train(args: argparse.Namespace, run_dir: Path, learner: Learner, data: RunData, device: torch.device) -> Progress:
    """Train for at most ``--epochs`` (continuing a checkpoint on ``--resume``); returns the run's
    :class:`~common.checkpoint.Progress`, whose ``extra`` holds the history and ``stopped``: ``"plateau"`` (the
    validation loss stopped improving), ``"max_epochs"`` (it was still improving) or ``"fixed_epochs"`` (no
    validation images). The learner ends with its best weights."""
    ckpt_path = run_dir / "checkpoint.pt"
    plateau = Plateau(args.lr_patience, args.patience) if data.val is not None else None
    generator = getattr(data.train_dl, "generator", None)
    generators = {"loader": generator} if generator is not None else None
    progress = load_progress(
        ckpt_path, learner.modules, learner.optimizers, None, generators, resume=args.resume, device=device
    )
    state = progress.extra
    if not state:  # a new run; the untrained model's loss is what training has to beat
        codes = learner.train_codes(data.train, device)
        state.update(
            history=[],
            train_seconds=0.0,
            plateau_stop=False,
            untrained_loss=reconstruction_scores(learner.decoder, codes, data.train, device)["bce"],
        )
    elif plateau is not None:
        plateau.load_state_dict(state["plateau"])
    t0, seconds_before = time.time(), state["train_seconds"]
    learner.guard = DivergenceGuard(
        model_name(args), factor=BCE_EXPLODE_FACTOR
    )  # a diverged run stops with common.cli.Diverged
    epochs = [] if state["plateau_stop"] else range(progress.step, args.epochs)
    for epoch in (bar := tqdm(epochs, desc=model_name(args), unit="epoch", disable=None)):
        record = {"epoch": epoch + 1, "lr": learner.lr(), **learner.train_epoch(data.train_dl, device)}
        if plateau is not None:
            record["val_loss"] = learner.validation_loss(data.val, device)
            decision = plateau.step(record["val_loss"])
            if decision.best:
                progress.keep_best(learner.modules, record["val_loss"], epoch + 1)
            if decision.action == "reduce":
                learner.scale_lr(plateau.factor)
            state.update(plateau=plateau.state_dict(), plateau_stop=decision.action == "stop")
        state["history"].append(record)
        append_log(run_dir, record)
        bar.set_postfix({k: f"{v:.4f}" for k, v in record.items() if k in ("loss", "val_loss")})
        state.pop("test_latents", None)  # trained further: an earlier test fit no longer applies
        progress.step, state["train_seconds"] = epoch + 1, seconds_before + time.time() - t0
        save_progress(ckpt_path, progress, learner.modules, learner.optimizers, None, generators)
        if state["plateau_stop"]:
            break
    state["stopped"] = "plateau" if state["plateau_stop"] else "max_epochs" if plateau is not None else "fixed_epochs"
    if progress.best_model is not None:
        load_state(learner.modules, progress.best_model)
    return progress


def fit_test_latents(
    args: argparse.Namespace,
    run_dir: Path,
    state: dict,
    decoder: nn.Module,
    test_ds: IndexedImages,
    start: PCAStart | None,
    device: torch.device,
) -> nn.Module:
    """Fit a fresh latent table to ``test_ds`` with the decoder frozen: full-batch Adam (RowAdam updating
    every row) at ``--test-lr`` until converged (:data:`TEST_TOL`) or ``--test-steps``, from the same kind of
    start as the training latents (``start``). Done once: the table
    and ``state["test_fit"]`` (loss curve, steps, seconds) are kept in the checkpoint."""
    test_latents = make_table(args, test_ds, start).to(device)
    if "test_latents" not in state:
        t0 = time.time()
        batches = list(in_order(test_ds, FIT_CHUNK))
        before = mean_reconstruction_loss(decoder, test_latents, batches, device)
        opt = RowAdam(list(test_latents.parameters()), lr=args.test_lr)
        fit = fit_latents(
            decoder,
            batches,
            opt,
            test_latents,
            args.test_steps,
            device,
            stop=(TEST_TOL, TEST_WINDOW),
            desc="test latents",
        )
        state["test_latents"] = test_latents.state_dict()
        state["test_fit"] = {
            "steps": len(fit.loss),
            "converged": fit.converged,
            "loss_curve": fit.loss,
            "noise_free_every_50_steps": fit.checks,
            "reconstruction_before": before,
            "seconds": time.time() - t0,
        }
        save_extra(run_dir / "checkpoint.pt", state)
    test_latents.load_state_dict(state["test_latents"])
    return test_latents


# -------------------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> dict:
    """``python main.py ad|vad``: check everything, then train, fit the test latents, analyse, write metrics.json."""
    device = run_device(args)
    check_run(args, FIXED_ON_RESUME)  # a refused --resume or a finished run in the way ends here, before the data
    data, dataset = load_run_data(args, device, val_size=args.val_size)
    test_ds = take_first(data.test, args.test_size)
    pair = interpolation_pair(test_ds, args.interp)
    try:
        learner = AutoDecoderLearner(args, data, device)
    except ValueError as err:  # --init pca with more latent dimensions than pixels
        raise DataError(str(err)) from None
    scorer = find_classifier(args, device)
    with open_run(args, FIXED_ON_RESUME, command=args.command, dataset=dataset, device=str(device)) as run_dir:
        progress = train(args, run_dir, learner, data, device)
        test_latents = fit_test_latents(args, run_dir, progress.extra, learner.decoder, test_ds, learner.start, device)
        with torch.no_grad():
            test_codes = test_latents.mean(torch.arange(len(test_ds), device=device)).cpu()
        fit = progress.extra["test_fit"]
        codes = {"train": learner.train_codes(data.train, device), "test": test_codes}
        model = Trained(learner.decoder, learner.modules["latents"].sample_prior, codes, data, test_ds, pair)
        return finish(
            args,
            run_dir,
            progress,
            model,
            scorer,
            device,
            test_fit={k: v for k, v in fit.items() if k != "reconstruction_before"},
            test_reconstruction_loss_before_fit=fit["reconstruction_before"],
        )
