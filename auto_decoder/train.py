"""``python main.py ad`` and ``python main.py vad``: train an (variational) auto-decoder, fit test latents, analyse.

1. Training (:func:`train_one_epoch`): the decoder and the latents of the batch's
   images move together, one Adam step for the decoder and one SparseAdam step
   for the touched rows of the latent table.
2. Test (:func:`fit_test_latents`): the decoder is frozen and a fresh latent table is
   fitted to the test images with the same objective
   (:func:`auto_decoder.evaluate.evaluate_model`).
3. Analysis (:func:`analyse`): prior samples beside decoded test latents, the t-SNE
   of both latent spaces, one interpolation row, and the sample-quality scores of
   1,000 prior draws by the classifier of ``python main.py classifier``.

The run folder holds ``config.json``, ``checkpoint.pt`` (after every epoch, so an
interrupted run continues with ``--resume``), ``metrics.json`` and the figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from auto_decoder.AutoDecoder import Decoder, LatentTable
from auto_decoder.classifier import classify, load_classifier, sample_quality
from auto_decoder.evaluate import evaluate_model, mean_reconstruction_loss, objective
from auto_decoder.utils import CLASS_NAMES, IndexedImages, plot_tsne, prepare_run, save_image_grid
from auto_decoder.VariationalAutoDecoder import VariationalLatentTable
from common.cli import DataError
from common.runs import load_checkpoint, run_folder, save_checkpoint, save_json, save_npz

NUM_QUALITY_SAMPLES = 1000
QUICK_QUALITY_SAMPLES = 100
# Changing these mid-run would make the checkpoint meaningless, so --resume refuses it.
FIXED_ON_RESUME = ("seed", "subset", "batch_size", "latent_dim", "family", "kl_weight", "init_scale")


# ----------------------------------------------------------------------------- setup
def model_name(args: argparse.Namespace) -> str:
    return "ad" if args.command == "ad" else f"vad-{args.family}"


def make_table(args: argparse.Namespace, num_samples: int) -> nn.Module:
    """A latent table with one row per image: plain for ``ad``, one distribution per image for ``vad``."""
    if args.command == "ad":
        return LatentTable(num_samples, args.latent_dim)
    return VariationalLatentTable(num_samples, args.latent_dim, args.family, kl_weight=args.kl_weight, init_scale=args.init_scale)


def interpolation_pair(test_ds: IndexedImages, pair: list[int] | None) -> tuple[int, int]:
    """``pair`` if given, else test image 0 and the first test image of another class."""
    if pair is None:
        first = int(test_ds.labels[0])
        other = (test_ds.labels != first).nonzero()
        if len(other) == 0:
            raise DataError("every test image has the same class; nothing to interpolate between")
        return 0, int(other[0])
    a, b = pair
    if not (a < len(test_ds) and b < len(test_ds)):
        raise DataError(f"--interp indices must be in 0..{len(test_ds) - 1}, got {a} {b}")
    if test_ds.labels[a] == test_ds.labels[b]:
        raise DataError(f"--interp {a} {b}: both are {CLASS_NAMES[test_ds.labels[a]]}; pick two classes")
    return a, b


def find_classifier(args: argparse.Namespace, device: torch.device) -> nn.Module | None:
    """The scoring classifier: ``--classifier`` (must exist) or the ``classifier`` run under --results-root
    (``classifier_quick`` first for a --quick run); None, with a note, when there is none."""
    if args.classifier:
        if not Path(args.classifier).is_file():
            raise DataError(f"--classifier {args.classifier}: no such file (train one with `python main.py classifier`)")
        return load_classifier(args.classifier, device)
    names = ["classifier_quick", "classifier"] if args.quick else ["classifier"]
    for path in (Path(args.results_root) / name / "checkpoint.pt" for name in names):
        if path.is_file():
            return load_classifier(path, device)
    print(f"no classifier checkpoint under {args.results_root}: sample quality will not be scored "
          "(run `python main.py classifier` first)")
    return None


def in_order(dl: DataLoader):
    """The ``(indices, images)`` batches of ``dl``'s dataset in order, without iterating ``dl``: starting a
    DataLoader draws from a random generator, and this extra pass must not change what training draws."""
    ds = dl.dataset
    return ((idx, ds.batch(idx)) for idx in torch.arange(len(ds)).split(dl.batch_size))


# -------------------------------------------------------------------------- training
def train_one_epoch(decoder: nn.Module, latents: nn.Module, train_dl: DataLoader, opt_decoder: torch.optim.Optimizer,
                    opt_latents: torch.optim.Optimizer, device: torch.device) -> dict[str, float]:
    """One pass over the training images; returns the mean loss and reconstruction term."""
    decoder.train()
    total, recon_total, count = 0.0, 0.0, 0
    for indices, x in train_dl:
        indices, x = indices.to(device), x.to(device)
        loss, recon = objective(decoder, latents, indices, x)  # BCE (+ KL / pixels for a VAD)
        opt_decoder.zero_grad(set_to_none=True)
        opt_latents.zero_grad(set_to_none=True)
        loss.backward()
        opt_decoder.step()
        opt_latents.step()  # SparseAdam: only the rows of this batch move
        total, recon_total, count = total + loss.item() * len(x), recon_total + recon.item() * len(x), count + len(x)
    return {"loss": total / count, "reconstruction": recon_total / count}


def train(args: argparse.Namespace, run_dir: Path, decoder: nn.Module, latents: nn.Module,
          train_dl: DataLoader, device: torch.device) -> dict:
    """Train for ``--epochs`` (continuing a checkpoint on ``--resume``); returns the checkpoint state."""
    opt_decoder = torch.optim.Adam(decoder.parameters(), lr=args.lr)
    opt_latents = torch.optim.SparseAdam(list(latents.parameters()), lr=args.latent_lr)
    ckpt_path = run_dir / "checkpoint.pt"
    if args.resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path, device)
        decoder.load_state_dict(state["decoder"])
        latents.load_state_dict(state["latents"])
        opt_decoder.load_state_dict(state["opt_decoder"])
        opt_latents.load_state_dict(state["opt_latents"])
        print(f"resumed from {ckpt_path} at epoch {state['epoch']}")
    else:  # the untrained model's loss: what training has to beat
        state = {"epoch": 0, "history": [], "train_seconds": 0.0,
                 "untrained_loss": mean_reconstruction_loss(decoder, latents, in_order(train_dl), device)}
    t0, seconds_before = time.time(), state["train_seconds"]
    for epoch in (bar := tqdm(range(state["epoch"], args.epochs), desc=model_name(args), unit="epoch")):
        losses = train_one_epoch(decoder, latents, train_dl, opt_decoder, opt_latents, device)
        state["history"].append({"epoch": epoch + 1, **losses})
        bar.set_postfix(loss=f"{losses['loss']:.4f}")
        state.update(decoder=decoder.state_dict(), latents=latents.state_dict(), opt_decoder=opt_decoder.state_dict(),
                     opt_latents=opt_latents.state_dict(), epoch=epoch + 1, train_seconds=seconds_before + time.time() - t0)
        save_checkpoint(ckpt_path, state)
    return state


def fit_test_latents(args: argparse.Namespace, run_dir: Path, state: dict, decoder: nn.Module, test_ds: IndexedImages,
                     test_dl: DataLoader, device: torch.device) -> nn.Module:
    """Fit a fresh latent table to the test images with the decoder frozen (once; kept in the checkpoint)."""
    test_latents = make_table(args, len(test_ds)).to(device)
    if "test_latents" not in state:
        t0 = time.time()
        before = mean_reconstruction_loss(decoder, test_latents, in_order(test_dl), device)
        opt = torch.optim.SparseAdam(list(test_latents.parameters()), lr=args.latent_lr)
        test_loss = evaluate_model(decoder, test_dl, opt, test_latents, args.test_epochs, device)
        state.update(test_latents=test_latents.state_dict(), test_loss=test_loss, test_loss_before_fit=before,
                     test_seconds=time.time() - t0)
        save_checkpoint(run_dir / "checkpoint.pt", state)
    test_latents.load_state_dict(state["test_latents"])
    return test_latents


# -------------------------------------------------------------------------- analysis
@torch.no_grad()
def sample_figures(args, run_dir: Path, decoder, latents, test_latents, test_ds: IndexedImages, device) -> None:
    """5 prior samples and 5 test images decoded from their fitted latents, above those test images."""
    test_idx = torch.arange(min(5, len(test_ds)))
    rows = {
        "prior samples": decoder(latents.sample_prior(5)).cpu(),
        "decoded test": decoder(test_latents.mean(test_idx.to(device))).cpu(),
        "test images": test_ds.batch(test_idx),
    }
    save_image_grid(rows, run_dir / "samples.png", f"{model_name(args)}: prior samples vs decoded test latents")
    save_npz(run_dir / "samples.npz", **{k.replace(" ", "_"): v.numpy() for k, v in rows.items()})


@torch.no_grad()
def tsne_figure(args, run_dir: Path, latents, test_latents, train_ds: IndexedImages, test_ds: IndexedImages, device) -> None:
    """t-SNE of at most --tsne-points train and test latents, coloured by class."""
    groups = {}
    for split, ds, table in (("train", train_ds, latents), ("test", test_ds, test_latents)):
        idx = torch.randperm(len(ds))[: args.tsne_points]
        groups[split] = (table.mean(idx.to(device)).cpu(), ds.labels[idx])
    plot_tsne(groups, run_dir / "tsne.png", f"{model_name(args)}: t-SNE of the latents", seed=args.seed)


@torch.no_grad()
def interpolation_figure(args, run_dir: Path, decoder, test_latents, test_ds: IndexedImages, pair, device) -> dict:
    """Decode 7 evenly spaced points on the line between the fitted latents of two test images."""
    a, b = pair
    za, zb = test_latents.mean(torch.tensor([a, b], device=device))
    t = torch.linspace(0, 1, 7, device=device)[:, None]  # endpoints + 5 evenly spaced steps
    row = decoder((1 - t) * za + t * zb).cpu()
    originals = torch.full_like(row, float("nan"))
    originals[[0, -1]] = test_ds.batch([a, b])
    classes = [CLASS_NAMES[test_ds.labels[a]], CLASS_NAMES[test_ds.labels[b]]]
    save_image_grid({"test images": originals, model_name(args): row}, run_dir / "interpolation.png",
                    f"{model_name(args)}: test {a} ({classes[0]}) -> test {b} ({classes[1]})")
    save_npz(run_dir / "interpolation.npz", row=row.numpy())
    return {"interpolation_pair": [a, b], "interpolation_classes": classes}


@torch.no_grad()
def score_samples(args, run_dir: Path, decoder, latents, classifier, device) -> dict:
    """Decode 1,000 prior draws, save 50 of them, and score them with the classifier (if there is one)."""
    n = QUICK_QUALITY_SAMPLES if args.quick else NUM_QUALITY_SAMPLES
    samples = torch.cat([decoder(latents.sample_prior(min(500, n - i))).cpu() for i in range(0, n, 500)])
    save_image_grid({f"{r}": samples[10 * r : 10 * r + 10] for r in range(5)}, run_dir / "prior_grid.png",
                    f"{model_name(args)}: 50 of the {n} scored prior samples")
    if classifier is None:
        return {}
    return {"sample_quality": {"num_samples": n, **sample_quality(classify(classifier, samples, device))}}


@torch.no_grad()
def analyse(args, run_dir: Path, decoder, latents, test_latents, data, pair, classifier, device) -> dict:
    """All figures and scores of a trained model; returns the numbers for metrics.json."""
    train_ds, _, test_ds, _ = data
    decoder.eval()
    torch.manual_seed(args.seed)  # the same prior draws whatever happened before
    sample_figures(args, run_dir, decoder, latents, test_latents, test_ds, device)
    tsne_figure(args, run_dir, latents, test_latents, train_ds, test_ds, device)
    out = interpolation_figure(args, run_dir, decoder, test_latents, test_ds, pair, device)
    # How far the learned latents are from the prior's spread (1 for N(0, I)): prior draws land among them only if close.
    out["train_latent_std"] = float(latents.mean(torch.arange(len(train_ds), device=device)).std())
    out.update(score_samples(args, run_dir, decoder, latents, classifier, device))
    return out


# -------------------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> dict:
    """``python main.py ad|vad``: check everything, then train, fit the test latents, analyse, write metrics.json."""
    device, data, config = prepare_run(args, FIXED_ON_RESUME)
    train_ds, train_dl, test_ds, test_dl = data
    pair = interpolation_pair(test_ds, args.interp)
    decoder = Decoder(args.latent_dim).to(device)
    latents = make_table(args, len(train_ds)).to(device)
    classifier = find_classifier(args, device)
    with run_folder(args.results_root, args.run_name, config, resume=args.resume, overwrite=args.overwrite,
                    fixed_on_resume=FIXED_ON_RESUME) as run_dir:
        state = train(args, run_dir, decoder, latents, train_dl, device)
        train_loss = mean_reconstruction_loss(decoder, latents, train_dl, device)
        test_latents = fit_test_latents(args, run_dir, state, decoder, test_ds, test_dl, device)
        test_loss = state["test_loss"]
        print(f"reconstruction loss (BCE per pixel): train {train_loss:.4f}, test {test_loss:.4f}, gap {test_loss - train_loss:+.4f}")
        metrics = {
            "model": model_name(args),
            "family": args.family if args.command == "vad" else None,
            "train_size": len(train_ds),
            "test_size": len(test_ds),
            "untrained_train_reconstruction_loss": state.get("untrained_loss"),
            "train_reconstruction_loss": train_loss,
            "test_reconstruction_loss_before_fit": state.get("test_loss_before_fit"),
            "test_reconstruction_loss": test_loss,
            "test_minus_train": test_loss - train_loss,
            "history": state["history"],
            "train_seconds": state["train_seconds"],
            "test_fit_seconds": state["test_seconds"],
            "device": str(device),
        }
        metrics.update(analyse(args, run_dir, decoder, latents, test_latents, data, pair, classifier, device))
        save_json(run_dir / "metrics.json", metrics)
    quality = metrics.get("sample_quality")
    score = (f"; prior samples: {quality['confident_share']:.3f} confident, class entropy {quality['class_entropy_bits']:.2f} bits"
             if quality else "; samples not scored (no classifier)")
    print(f"{run_dir}: test BCE {test_loss:.4f} (train {train_loss:.4f}){score}")
    return metrics
