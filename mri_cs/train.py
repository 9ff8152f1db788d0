"""One run: data, model, the training loop, the checkpoint chosen on validation, the test at the end.

``run(args)`` is what ``python main.py ...`` does. Every training batch is augmented
(``--augment``, ``augment.py``; validation and test never are), then acquired with a new phase and
noise (``--acquisition``, ``data/acquisition.py``); validation and test slices are acquired with seeded
draws, the same for every run and method. With ``--learn-mask`` the
loop calls ``model.subsample.mask_grad(mask_lr)`` after every ``optimizer.step()``; the
optimizer itself only updates the network. ``mask_lr`` decays along a half cosine to 0 at
the start of the last ``--mask-freeze`` of the epochs and stays 0 there
(:func:`mask_step_factor`). The checkpoint with the best validation PSNR is kept; the
test set is used once, at the end. ``metrics.json`` records per epoch how much of the
mask changed, and whether the validation PSNR of the last third of the epochs stayed
within 1 dB of its best so far.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from common.checkpoint import Progress, load_progress, save_progress
from common.cli import DataError, RunError
from common.guard import DivergenceGuard
from common.precision import autocast, resolve_precision
from common.runs import (
    append_log,
    check_run,
    open_run,
    pick_device,
    save_checkpoint,
    save_json,
    save_npz,
    seed_everything,
)
from mri_cs import utils
from mri_cs.augment import augment_batch
from mri_cs.data import build_datasets, describe_split
from mri_cs.data.acquisition import AcquiredSlices, Acquisition, fully_sampled_psnr
from mri_cs.models.cascade import CascadeModel
from mri_cs.models.masks import PRIOR_WEIGHT, course_family
from mri_cs.models.model import ReconstructionModel
from mri_cs.models.subsampling import SubsamplingLayer
from mri_cs.models.vanilla import VanillaModel

MODELS = {"unet": ReconstructionModel, "cascade": CascadeModel, "vanilla": VanillaModel}
DRAW_SEEDS = {"train": 0, "val": 1, "test": 2}  # the seeded acquisition of each split: 1000 * --seed + this
# Arguments that must not change when a run is resumed.
FIXED_ON_RESUME = (
    "drop_rate",
    "learn_mask",
    "model",
    "resolution",
    "width",
    "data_dir",
    "seed",
    "quick",
    "augment",
    "mask_freeze",
    "mask",
    "centre_fraction",
    "acquisition",
    "noise_sigma",
    "loss",
    "stages",
    "vd_weight",
    "train_slices",
)
STABLE_DIP_DB = (
    1.0  # a learned mask's run: the last third of the epochs at most this far below the best validation PSNR
)
# bf16 training reaches fp32's test PSNR here (results/mri_cs/unet_drop0.3_learned against its _fp32 twin),
# so --precision auto takes it.
BF16_OK = True


def load_data(args: argparse.Namespace) -> tuple[dict, dict]:
    """The clean train/val/test datasets (a few slices of each with ``--quick``) and their description."""
    datasets, data_info = build_datasets(args.data_dir, args.resolution, args.seed)
    if args.quick:  # a few slices spread over each split
        datasets = {
            k: Subset(d, np.linspace(0, len(d) - 1, 16 if k == "train" else 8).astype(int).tolist())
            for k, d in datasets.items()
        }
        data_info["sizes_used"] = {k: len(d) for k, d in datasets.items()}
    if getattr(args, "train_slices", None) and args.train_slices < len(datasets["train"]):
        n = len(datasets["train"])
        datasets["train"] = Subset(datasets["train"], np.linspace(0, n - 1, args.train_slices).astype(int).tolist())
        data_info["train_slices_used"] = args.train_slices
    return datasets, data_info


def acquisition_of(args: argparse.Namespace) -> Acquisition:
    return Acquisition(args.acquisition, args.noise_sigma)


def acquired(datasets: dict, args: argparse.Namespace) -> dict:
    """Every split acquired with its seeded draw (``DRAW_SEEDS``): what the model is evaluated on."""
    acq = acquisition_of(args)
    return {k: AcquiredSlices(d, acq, 1000 * args.seed + DRAW_SEEDS[k]) for k, d in datasets.items()}


def acquisition_record(measured: dict, args: argparse.Namespace) -> dict:
    """The config's ``acquisition``: kind, noise, phase model, draw seeds, the fully sampled PSNR per split and,
    for a noisy acquisition, TV on fully sampled data (:func:`tv_reference`)."""
    return {
        **acquisition_of(args).record(),
        "draw_seeds": {k: 1000 * args.seed + v for k, v in DRAW_SEEDS.items()},
        "fully_sampled_psnr": {k: fully_sampled_psnr(measured[k]) for k in ("val", "test")},
        "tv_fully_sampled": tv_reference(measured) if args.noise_sigma > 0 else None,
    }


def tv_reference(measured: dict, n: int = 8) -> dict:
    """Complex TV on every (noisy) sample of ``n`` test slices, its weight chosen on ``n`` validation slices: what
    denoising alone reaches with no sample missing, an upper reference for the reconstructions."""
    from mri_cs import cs  # numpy and PyWavelets only

    picked = {
        split: utils.stack_slices(measured[split], cs.subset(len(measured[split]), n)) for split in ("val", "test")
    }
    full = torch.ones(picked["val"][0].shape[1:3])
    lam, _ = cs.choose_lambda("tv", *picked["val"], full, cs.LAMBDAS[4:10])
    psnr = cs.mean_psnr(cs.reconstruct("tv", picked["test"][0], full, lam), picked["test"][1])
    return {"lambda": lam, "test_psnr": psnr, "test_slices": cs.subset(len(measured["test"]), n)}


def reconstruction_loss(output: torch.Tensor, target: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, MSE)`` of ``output`` against ``target`` ``(B, 1, H, W)``: ``psnr`` is the mean over slices of
    ``10 log10(MSE)`` (minus the mean PSNR up to a constant per slice), ``mse`` or ``l1``."""
    mse = (output - target).pow(2).flatten(1).mean(1)
    if kind == "psnr":
        return 10 * torch.log10(mse.clamp_min(1e-12)).mean(), mse.mean()
    return (mse.mean() if kind == "mse" else F.l1_loss(output, target)), mse.mean()


def build_model(args: argparse.Namespace, device: torch.device) -> torch.nn.Module:
    """The run's model; a mask family other than the course's (``--mask``) replaces its ``subsample`` layer, so
    any model with the course's signature and its layer as ``self.subsample`` takes every family."""
    kwargs = {"unet": {"width": args.width}, "cascade": {"width": args.width, "stages": args.stages}}
    shape = (args.resolution, args.resolution)
    model = MODELS[args.model](
        args.drop_rate, device, args.learn_mask, shape, mask_seed=args.seed, **kwargs.get(args.model, {})
    )
    custom = args.mask != course_family(args.learn_mask) or args.centre_fraction is not None
    if custom or args.vd_weight is not None:
        model.subsample = SubsamplingLayer(
            args.drop_rate,
            device,
            args.learn_mask,
            shape,
            seed=args.seed,
            mask=args.mask,
            centre_fraction=args.centre_fraction,
            prior_weight=PRIOR_WEIGHT if args.vd_weight is None else args.vd_weight,
        )
    return model.to(device)


def mask_record(model: torch.nn.Module, args: argparse.Namespace) -> dict:
    """The config's ``mask``: the layer's ``mask_info()`` (family, budget, kept fraction, Cartesian lines), or the
    family and budget alone for a layer without it (a student's)."""
    if hasattr(model.subsample, "mask_info"):
        return model.subsample.mask_info()
    return {"family": args.mask, "num_keep": model.subsample.num_keep, "target_keep_fraction": 1.0 - args.drop_rate}


@dataclass
class Fit:
    """What every step of a run shares: its arguments, device and arithmetic (``precision``), the generators of
    the shuffle and of the batches' augmentation and acquisition, and the divergence guard."""

    args: argparse.Namespace
    device: torch.device
    precision: str = "fp32"
    shuffle: torch.Generator = field(default_factory=torch.Generator)
    draws: torch.Generator = field(default_factory=torch.Generator)
    guard: DivergenceGuard | None = None

    def seed_epoch(self, epoch: int) -> None:
        """The same batches and draws in ``epoch`` whether or not the run was resumed."""
        self.shuffle.manual_seed(self.args.seed * 10_000 + epoch - 1)
        self.draws.manual_seed(int(np.random.SeedSequence([self.args.seed, epoch]).generate_state(1)[0]))


def train_one_epoch(
    model: torch.nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer, mask_lr: float, fit: Fit, desc: str
) -> tuple[float, float]:
    """One pass over ``loader``: augment the batch (``--augment``) and acquire it (``--acquisition``), both drawn
    from ``fit.draws``; the forward pass in ``fit.precision`` (the convolutions; the FFTs and data consistency are
    no autocast ops and stay float32), ``--loss``, a network step, then a mask step; returns the mean loss and
    the largest change of a mask score in one step."""
    args = fit.args
    model.train()
    losses, max_step = [], 0.0
    bar = tqdm(loader, desc=desc, leave=False, disable=None)  # bars only on a terminal
    for kspace, target in bar:
        if args.augment:
            kspace, target = augment_batch(kspace, args.augment, fit.draws)
        kspace, target = acquisition_of(args)(kspace, fit.draws).to(fit.device), target.to(fit.device)
        with autocast(fit.device, fit.precision):
            output = model(kspace)
        loss, mse = reconstruction_loss(output.float(), target, args.loss)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        max_step = max(max_step, model.subsample.mask_grad(mask_lr))  # does nothing for a fixed mask
        if fit.guard is not None:
            fit.guard.check(mse)  # stops a diverged run; the MSE, whose growth the guard measures, not its logarithm
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.4f}")
    return float(np.mean(losses)), max_step


def validate(model: torch.nn.Module, loader: DataLoader, device: torch.device, epoch: int, loss: float) -> dict:
    """The history entry of one epoch: train loss, validation PSNR of the model and of its zero-filled input."""
    val = utils.evaluate(model, loader, device, desc="validation")
    return {
        "epoch": epoch,
        "train_loss": loss,
        "val_psnr": float(val["psnr"].mean()),
        "val_zero_filled_psnr": float(val["zero_filled_psnr"].mean()),
        "keep_in_center": utils.center_keep_fraction(model.subsample.hard_mask().cpu().numpy()),
    }


def frozen_from(epochs: int, fraction: float) -> int:
    """The first of the last ``round(fraction * epochs)`` epochs (1-based); ``epochs + 1`` when there are none."""
    return epochs - round(fraction * epochs) + 1


def mask_step_factor(epoch: int, frozen: int) -> float:
    """The share of ``--mask-lr`` used in ``epoch`` (1-based): a half cosine from 1 in epoch 1 down towards 0 at
    the first frozen epoch ``frozen`` (:func:`frozen_from`), 0 from then on. The mask step reaches zero when the
    mask freezes, so the mask has settled (few entries still changing) by then instead of stopping mid-move."""
    if epoch >= frozen:
        return 0.0
    return 0.5 * (1 + math.cos(math.pi * (epoch - 1) / max(frozen - 1, 1)))


def stability(history: list[dict], epochs: int) -> dict:
    """How far the validation PSNR of each epoch of the last third fell below the best of all epochs up to it.

    ``val_psnr_last_third_max_dip_db`` is the largest such dip (0 when every epoch of the last third
    set a new best), ``val_psnr_last_third_within_1db`` whether it is at most 1 dB.
    """
    start = frozen_from(epochs, 1 / 3)
    psnr = np.array([h["val_psnr"] for h in history])
    dips = (np.maximum.accumulate(psnr) - psnr)[[h["epoch"] >= start for h in history]]
    dip = float(dips.max()) if len(dips) else 0.0
    return {
        "val_psnr_last_third_from_epoch": start,
        "val_psnr_last_third_max_dip_db": dip,
        "val_psnr_last_third_within_1db": dip <= STABLE_DIP_DB,
    }


def final_metrics(
    model: torch.nn.Module,
    loaders: dict[str, DataLoader],
    device: torch.device,
    progress: Progress,
    args: argparse.Namespace,
) -> dict:
    """Train and test PSNR/SSIM of the model (the best epoch on validation) and of its zero-filled input."""
    train = utils.evaluate(model, loaders["train"], device, with_ssim=True, desc="train set")
    test = utils.evaluate(model, loaders["test"], device, with_ssim=True, desc="test set")
    mask = model.subsample.hard_mask().cpu().numpy()
    s = utils.summarize
    return {
        "loss": args.loss,
        "train_psnr": s(train["psnr"]),
        "train_ssim": s(train["ssim"]),
        "test_psnr": s(test["psnr"]),
        "test_ssim": s(test["ssim"]),
        "zero_filled_test_psnr": s(test["zero_filled_psnr"]),
        "zero_filled_test_ssim": s(test["zero_filled_ssim"]),
        "zero_filled_train_psnr": s(train["zero_filled_psnr"]),
        "best_val_psnr": progress.best_score,
        "best_epoch": progress.best_step,
        "epochs": args.epochs,
        "keep_fraction": float(mask.mean()),
        "num_keep": int(mask.sum()),
        "keep_in_center": utils.center_keep_fraction(mask),
        "n_slices": {k: len(loaders[k].dataset) for k in ("train", "val", "test")},
        "model_parameters": sum(p.numel() for p in model.parameters()),
        "device": str(device),
        "wall_time_s": progress.extra["elapsed_s"],
        "history": progress.extra["history"],
        "mask_frozen_from_epoch": frozen_from(args.epochs, args.mask_freeze) if args.learn_mask else None,
        **stability(progress.extra["history"], args.epochs),
        **per_volume(test, "test_"),
    }


def per_volume(scores: dict[str, np.ndarray], prefix: str = "") -> dict:
    """fastMRI's per-volume PSNR (each volume's maximum as data range; ``utils.evaluate``), where the data
    names its volumes: ``<prefix>psnr_volume``, ``zero_filled_<prefix>psnr_volume`` and ``n_<prefix>volumes``."""
    if "psnr_volume" not in scores:
        return {}
    return {
        f"{prefix}psnr_volume": utils.summarize(scores["psnr_volume"]),
        f"zero_filled_{prefix}psnr_volume": utils.summarize(scores["zero_filled_psnr_volume"]),
        f"n_{prefix}volumes": len(scores["psnr_volume"]),
    }


@torch.no_grad()
def write_figures(model, test_set, device, history, run_dir: Path, args) -> None:
    """mask.png, curves.png, examples.png (3 test slices) and example.npz (the middle one, for the sweep figure)."""
    mask = model.subsample.hard_mask().cpu().numpy()
    kind = "learned" if args.learn_mask else "fixed"
    kind += "" if args.mask == course_family(args.learn_mask) else f" {args.mask}"  # the course's runs keep their title
    utils.save_mask_figure(mask, run_dir / "mask.png", f"{kind} mask, drop rate {args.drop_rate:g}")
    utils.save_curves_figure(history, run_dir / "curves.png")
    (target, zero_filled, recon), psnrs = utils.example_images(model, test_set, device)
    utils.save_examples_figure(target, zero_filled, recon, run_dir / "examples.png", psnrs)
    save_npz(
        run_dir / "example.npz",
        target=target[1],
        zero_filled=zero_filled[1],
        reconstruction=recon[1],
        mask=mask.astype(np.uint8),
        psnr=psnrs[1][1],
        zero_filled_psnr=psnrs[0][1],
    )


def summary_line(metrics: dict, run_dir: Path) -> str:
    m = metrics
    return (
        f"train PSNR {m['train_psnr']['mean']:.2f} ± {m['train_psnr']['std']:.2f} dB, "
        f"test PSNR {m['test_psnr']['mean']:.2f} ± {m['test_psnr']['std']:.2f} dB "
        f"(zero-filled {m['zero_filled_test_psnr']['mean']:.2f}), test SSIM {m['test_ssim']['mean']:.3f}, "
        f"kept {m['keep_fraction']:.3f} of k-space, {m['wall_time_s']:.0f} s -> {run_dir}"
    )


def run(args: argparse.Namespace) -> dict:
    """:func:`train_and_evaluate`, with a data error raised in a DataLoader worker (``--num-workers``) cut back
    from the worker's traceback to its own message, one line."""
    try:
        return train_and_evaluate(args)
    except DataError as e:
        last = str(e).strip().splitlines()[-1]
        raise DataError(last.split("DataError: ", 1)[-1]) from None


def prepare(args: argparse.Namespace) -> tuple[Fit, dict, dict, dict]:
    """``(fit, measured splits, loaders, data description)``: device and arithmetic, the data split, acquired and
    batched. Evaluation loaders hold every split with its seeded acquisition, in order; ``train_step`` holds the
    clean training slices, shuffled, acquired anew in every step."""
    try:
        device = pick_device(args.device)
        fit = Fit(args, device, resolve_precision(args.precision, device, BF16_OK), guard=DivergenceGuard(args.model))
    except ValueError as e:
        raise RunError(str(e)) from None
    seed_everything(args.seed)
    datasets, data_info = load_data(args)
    print(
        f"data: {data_info['dataset']} at {args.resolution}x{args.resolution}; slices train/val/test = "
        f"{len(datasets['train'])}/{len(datasets['val'])}/{len(datasets['test'])}; device {device}, {fit.precision}"
    )
    print("\n".join(describe_split(data_info)))
    measured = acquired(datasets, args)
    loaders = {k: DataLoader(d, args.batch_size, num_workers=args.num_workers) for k, d in measured.items()}
    loaders["train_step"] = DataLoader(
        datasets["train"], args.batch_size, shuffle=True, num_workers=args.num_workers, generator=fit.shuffle
    )
    return fit, measured, loaders, data_info


def run_epochs(model, optimizer, scheduler, loaders: dict, fit: Fit, run_dir: Path, progress: Progress) -> None:
    """Train the remaining epochs; after each, validate, log, keep the best weights (``best.pt``) and checkpoint."""
    args, t0 = fit.args, time.time() - progress.extra.setdefault("elapsed_s", 0.0)
    history, mask = progress.extra.setdefault("history", []), model.subsample.hard_mask()
    frozen = frozen_from(args.epochs, args.mask_freeze)
    for epoch in range(progress.step + 1, args.epochs + 1):
        fit.seed_epoch(epoch)
        # The mask step anneals to 0 when the mask freezes; then only the network adapts, to the final mask.
        mask_lr = args.mask_lr * mask_step_factor(epoch, frozen)
        loss, max_step = train_one_epoch(
            model, loaders["train_step"], optimizer, mask_lr, fit, f"epoch {epoch}/{args.epochs}"
        )
        scheduler.step()
        entry = validate(model, loaders["val"], fit.device, epoch, loss)
        previous, mask = mask, model.subsample.hard_mask()
        entry.update(mask_lr=mask_lr, max_score_step=max_step, mask_change=float((mask != previous).float().mean()))
        history.append(entry)
        append_log(run_dir, entry)
        if progress.improves(entry["val_psnr"]):
            progress.keep_best(model, entry["val_psnr"], epoch)
            save_checkpoint(run_dir / "best.pt", {"model": model.state_dict(), "epoch": epoch, "args": vars(args)})
        progress.step, progress.extra["elapsed_s"] = epoch, time.time() - t0
        save_progress(run_dir / "checkpoint.pt", progress, model, optimizer, scheduler)
        print(epoch_line(entry, args, frozen))


def epoch_line(entry: dict, args: argparse.Namespace, frozen: int) -> str:
    line = (
        f"epoch {entry['epoch']:3d}  loss {entry['train_loss']:.4f}  val PSNR {entry['val_psnr']:.2f} dB "
        f"(zero-filled {entry['val_zero_filled_psnr']:.2f})  centre kept {entry['keep_in_center']:.2f}"
    )
    if args.learn_mask:
        line += f"  mask changed {entry['mask_change']:.3f}" + ("" if entry["epoch"] < frozen else " (frozen)")
    return line


def train_and_evaluate(args: argparse.Namespace) -> dict:
    """Train, pick the best epoch on validation, evaluate on train and test, write the run folder;
    return the metrics."""
    run_dir = check_run(args, FIXED_ON_RESUME)  # before the data is loaded
    if args.resume and (run_dir / "metrics.json").is_file():
        raise RunError(f"--resume: {run_dir} is finished (it has metrics.json); add --overwrite instead to redo it")
    fit, measured, loaders, data_info = prepare(args)
    model = build_model(args, fit.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    config = {
        "data": data_info,
        "device": str(fit.device),
        "precision": fit.precision,
        "model_parameters": sum(p.numel() for p in model.parameters()),
        "num_keep": model.subsample.num_keep,
        "mask": mask_record(model, args),
        "acquisition": acquisition_record(measured, args),
        "torch": torch.__version__,
    }
    with open_run(args, FIXED_ON_RESUME, **config) as run_dir:
        t0 = time.time()
        progress = load_progress(
            run_dir / "checkpoint.pt", model, optimizer, scheduler, resume=args.resume, device=fit.device, required=True
        )
        t0 -= progress.extra.get("elapsed_s", 0.0)
        run_epochs(model, optimizer, scheduler, loaders, fit, run_dir, progress)
        model.load_state_dict(progress.best_model)  # the best epoch on validation; the test set is touched only here
        metrics = final_metrics(model, loaders, fit.device, progress, args)
        metrics.update(wall_time_s=time.time() - t0, precision=fit.precision, acquisition=config["acquisition"])
        write_figures(model, measured["test"], fit.device, progress.extra["history"], run_dir, args)
        save_json(run_dir / "metrics.json", metrics)  # last: a run folder with metrics.json is finished
    print(summary_line(metrics, run_dir))
    return metrics
