"""Auto-decoder and variational auto-decoders on Fashion-MNIST.

Sub-commands (each writes a run folder under ``--results-root``):

    python main.py classifier                 # small CNN that scores decoded samples (run it first)
    python main.py ad                         # auto-decoder: train, evaluate on test, samples, t-SNE, interpolation
    python main.py vad --family gaussian      # the same for a variational auto-decoder (also laplace, logistic)
    python main.py summary                    # table of every run's numbers

``ad`` and ``vad`` default to the course's 1,000-image subset (``--subset 0`` uses
all images). ``--resume`` continues an interrupted run from its checkpoint; on a
finished run it only redoes the figures and the scores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from auto_decoder.AutoDecoder import Decoder, LatentTable
from auto_decoder.classifier import FashionClassifier, sample_quality
from auto_decoder.evaluate import evaluate_model, mean_reconstruction_loss, objective
from auto_decoder.utils import CLASS_NAMES, DataError, IndexedImages, create_dataloaders, plot_tsne, save_image_grid
from auto_decoder.VariationalAutoDecoder import FAMILIES, VariationalLatentTable
from common.metrics import accuracy
from common.runs import load_checkpoint, load_json, make_run_dir, pick_device, save_checkpoint, save_json, seed_everything

PROG = "auto_decoder"
NUM_QUALITY_SAMPLES = 1000
QUICK = {"subset": 256, "epochs": 2, "test_epochs": 2, "tsne_points": 100, "quality_samples": 100}


# ----------------------------------------------------------------------------- setup
def setup(args: argparse.Namespace, name: str):
    """Device, seed, data and run folder; any problem ends with one line."""
    try:
        device = pick_device(args.device)
    except ValueError as err:
        sys.exit(f"{PROG}: error: {err}")
    seed_everything(args.seed)
    try:
        train_ds, train_dl, test_ds, test_dl = create_dataloaders(
            args.data_dir, args.batch_size, subset=args.subset, seed=args.seed, download=args.download
        )
    except DataError as err:
        sys.exit(f"{PROG}: error: {err}")
    run_dir = make_run_dir(args.results_root, args.name or name)
    config = {
        **vars(args),
        "command": args.command,
        "dataset": {"train": train_ds.source, "test": test_ds.source, "train_size": len(train_ds), "test_size": len(test_ds)},
        "device": str(device),
        "torch": torch.__version__,
    }
    config.pop("func", None)
    save_json(run_dir / "config.json", config)
    print(f"run folder {run_dir} | device {device} | train {len(train_ds)} / test {len(test_ds)} images from {train_ds.source}")
    return device, train_ds, train_dl, test_ds, test_dl, run_dir


def size_tag(subset: int | None) -> str:
    return f"n{subset}" if subset else "full"


# ------------------------------------------------------------------------ classifier
def cmd_classifier(args: argparse.Namespace) -> None:
    device, train_ds, train_dl, test_ds, test_dl, run_dir = setup(args, "classifier")
    model = FashionClassifier().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    ckpt_path, state = run_dir / "checkpoint.pt", {}
    if args.resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path, device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    t0, seconds_before = time.time(), state.get("train_seconds", 0.0)
    for epoch in (bar := tqdm(range(state.get("epoch", 0), args.epochs), desc="classifier", unit="epoch")):
        model.train()
        for indices, x in train_dl:
            loss = F.cross_entropy(model(x.to(device)), train_ds.labels[indices].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch + 1,
                 "train_seconds": seconds_before + time.time() - t0}
        save_checkpoint(ckpt_path, state)
    probs, labels = classify(model, test_ds.images.unsqueeze(1).float() / 255.0, device), test_ds.labels
    metrics = {
        "test_accuracy": accuracy(probs, labels),
        "real_test_images": sample_quality(probs),  # the ceiling a generator could reach
        "epochs": args.epochs,
        "train_seconds": state.get("train_seconds", 0.0),
    }
    save_json(run_dir / "metrics.json", metrics)
    print(f"test accuracy {metrics['test_accuracy']:.4f}; real test images classified with confidence >= 0.9: "
          f"{metrics['real_test_images']['confident_share']:.3f}")


@torch.no_grad()
def classify(model: torch.nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 500) -> torch.Tensor:
    """Class probabilities ``(N, 10)`` of images ``(N, 1, 28, 28)``."""
    model.eval()
    return torch.cat([F.softmax(model(images[i : i + batch_size].to(device)), 1).cpu() for i in range(0, len(images), batch_size)])


def load_classifier(path: Path, device: torch.device) -> torch.nn.Module | None:
    if not path.exists():
        print(f"no classifier at {path}: sample quality not scored (run `python main.py classifier` first)")
        return None
    model = FashionClassifier().to(device)
    model.load_state_dict(load_checkpoint(path, device)["model"])
    return model


# --------------------------------------------------------- (variational) auto-decoder
def make_table(args: argparse.Namespace, num_samples: int) -> torch.nn.Module:
    if args.command == "ad":
        return LatentTable(num_samples, args.latent_dim)
    return VariationalLatentTable(num_samples, args.latent_dim, args.family, kl_weight=args.kl_weight, init_scale=args.init_scale)


def cmd_latent_model(args: argparse.Namespace) -> None:
    """``ad`` and ``vad``: train decoder + latent table, fit test latents, then analyse."""
    model_name = "ad" if args.command == "ad" else f"vad-{args.family}"
    args.test_epochs = args.test_epochs or args.epochs
    device, train_ds, train_dl, test_ds, test_dl, run_dir = setup(args, f"{model_name}-{size_tag(args.subset)}")

    decoder = Decoder(args.latent_dim).to(device)
    latents = make_table(args, len(train_ds)).to(device)
    opt_decoder = torch.optim.Adam(decoder.parameters(), lr=args.lr)
    opt_latents = torch.optim.SparseAdam(list(latents.parameters()), lr=args.latent_lr)
    ckpt_path, state = run_dir / "checkpoint.pt", {}
    if args.resume and ckpt_path.exists():
        state = load_checkpoint(ckpt_path, device)
        decoder.load_state_dict(state["decoder"])
        latents.load_state_dict(state["latents"])
        opt_decoder.load_state_dict(state["opt_decoder"])
        opt_latents.load_state_dict(state["opt_latents"])
        print(f"resumed from {ckpt_path} at epoch {state['epoch']}")
    history = state.get("history", [])

    # Training: decoder and the latents of the batch's images move together.
    t0, seconds_before = time.time(), state.get("train_seconds", 0.0)
    for epoch in (bar := tqdm(range(state.get("epoch", 0), args.epochs), desc=model_name, unit="epoch")):
        decoder.train()
        total, recon_total = 0.0, 0.0
        for indices, x in train_dl:
            indices, x = indices.to(device), x.to(device)
            loss, recon = objective(decoder, latents, indices, x)
            opt_decoder.zero_grad(set_to_none=True)
            opt_latents.zero_grad(set_to_none=True)
            loss.backward()
            opt_decoder.step()
            opt_latents.step()
            total, recon_total = total + loss.item() * len(x), recon_total + recon.item() * len(x)
        history.append({"epoch": epoch + 1, "loss": total / len(train_ds), "reconstruction": recon_total / len(train_ds)})
        bar.set_postfix(loss=f"{history[-1]['loss']:.4f}")
        state = {"decoder": decoder.state_dict(), "latents": latents.state_dict(), "opt_decoder": opt_decoder.state_dict(),
                 "opt_latents": opt_latents.state_dict(), "epoch": epoch + 1, "history": history,
                 "train_seconds": seconds_before + time.time() - t0}
        save_checkpoint(ckpt_path, state)
    train_seconds = state.get("train_seconds", 0.0)
    train_loss = mean_reconstruction_loss(decoder, latents, train_dl, device)

    # Test: the decoder is frozen, a fresh table is fitted to the test images.
    test_latents = make_table(args, len(test_ds)).to(device)
    if "test_latents" not in state:
        t0 = time.time()
        opt = torch.optim.SparseAdam(list(test_latents.parameters()), lr=args.latent_lr)
        test_loss = evaluate_model(decoder, test_dl, opt, test_latents, args.test_epochs, device)
        state = {**state, "test_latents": test_latents.state_dict(), "test_loss": test_loss, "test_seconds": time.time() - t0}
        save_checkpoint(ckpt_path, state)
    test_latents.load_state_dict(state["test_latents"])
    test_loss, test_seconds = state["test_loss"], state["test_seconds"]
    print(f"reconstruction loss (BCE per pixel): train {train_loss:.4f}, test {test_loss:.4f}, gap {test_loss - train_loss:+.4f}")

    metrics = {
        "model": model_name,
        "family": args.family if args.command == "vad" else None,
        "train_size": len(train_ds),
        "test_size": len(test_ds),
        "train_reconstruction_loss": train_loss,
        "test_reconstruction_loss": test_loss,
        "test_minus_train": test_loss - train_loss,
        "history": history,
        "train_seconds": train_seconds,
        "test_fit_seconds": test_seconds,
        "device": str(device),
    }
    metrics.update(analyse(args, run_dir, decoder, latents, test_latents, train_ds, test_ds, device, model_name))
    save_json(run_dir / "metrics.json", metrics)


@torch.no_grad()
def analyse(args, run_dir: Path, decoder, latents, test_latents, train_ds: IndexedImages, test_ds: IndexedImages,
            device: torch.device, model_name: str) -> dict:
    """Figures and scores of a trained model: prior samples beside decoded test latents,
    t-SNE of the latent spaces, one interpolation row, and the sample-quality scores."""
    decoder.eval()
    torch.manual_seed(args.seed)  # the same prior draws whatever happened before

    # 5 prior samples and 5 test images decoded from their fitted latents, side by side.
    test_idx = torch.arange(5)
    rows = {
        "prior samples": decoder(latents.sample_prior(5)).cpu(),
        "decoded test": decoder(test_latents.mean(test_idx.to(device))).cpu(),
        "test images": test_ds.batch(test_idx),
    }
    save_image_grid(rows, run_dir / "samples.png", f"{model_name}: prior samples vs decoded test latents")
    np.save(run_dir / "samples.npy", torch.stack(list(rows.values())).numpy())

    # t-SNE of (at most --tsne-points) train and test latents, coloured by class.
    groups = {}
    for split, ds, table in (("train", train_ds, latents), ("test", test_ds, test_latents)):
        idx = torch.randperm(len(ds))[: args.tsne_points]
        groups[split] = (table.mean(idx.to(device)).cpu(), ds.labels[idx])
    plot_tsne(groups, run_dir / "tsne.png", f"{model_name}: t-SNE of the latents", seed=args.seed)

    # Interpolation between the test latents of two images of different classes.
    a, b = interpolation_pair(test_ds, args.interp)
    za, zb = test_latents.mean(torch.tensor([a, b], device=device))
    t = torch.linspace(0, 1, 7, device=device)[:, None]  # endpoints + 5 evenly spaced steps
    row = decoder((1 - t) * za + t * zb).cpu()
    originals = torch.full_like(row, float("nan"))
    originals[[0, -1]] = test_ds.batch([a, b])
    save_image_grid(
        {"test images": originals, model_name: row}, run_dir / "interpolation.png",
        f"{model_name}: test {a} ({CLASS_NAMES[test_ds.labels[a]]}) -> test {b} ({CLASS_NAMES[test_ds.labels[b]]})",
    )
    np.save(run_dir / "interpolation.npy", row.numpy())
    out = {"interpolation_pair": [a, b], "interpolation_classes": [CLASS_NAMES[test_ds.labels[a]], CLASS_NAMES[test_ds.labels[b]]]}
    # How far the learned latents are from the prior's spread (1 for N(0, I)): prior draws land among them only if close.
    out["train_latent_std"] = float(latents.mean(torch.arange(len(train_ds), device=device)).std())

    # Sample quality: 1,000 prior draws, scored by the classifier.
    classifier = load_classifier(Path(args.classifier or Path(args.results_root) / "classifier" / "checkpoint.pt"), device)
    n = QUICK["quality_samples"] if args.quick else NUM_QUALITY_SAMPLES
    samples = torch.cat([decoder(latents.sample_prior(min(500, n - i))).cpu() for i in range(0, n, 500)])
    save_image_grid({f"{r}": samples[10 * r : 10 * r + 10] for r in range(5)}, run_dir / "prior_grid.png",
                    f"{model_name}: 50 of the {n} scored prior samples")
    if classifier is not None:
        out["sample_quality"] = {"num_samples": n, **sample_quality(classify(classifier, samples, device))}
        q = out["sample_quality"]
        print(f"prior samples: {q['confident_share']:.3f} classified with confidence >= 0.9, "
              f"predicted-class entropy {q['class_entropy_bits']:.2f} bits")
    return out


def interpolation_pair(test_ds: IndexedImages, pair: list[int] | None) -> tuple[int, int]:
    """``pair`` if given, else test image 0 and the first test image of another class."""
    if pair is None:
        first = int(test_ds.labels[0])
        other = (test_ds.labels != first).nonzero()
        if len(other) == 0:
            sys.exit(f"{PROG}: error: every test image has the same class; nothing to interpolate between")
        return 0, int(other[0])
    a, b = pair
    if not (0 <= a < len(test_ds) and 0 <= b < len(test_ds)):
        sys.exit(f"{PROG}: error: --interp indices must be in 0..{len(test_ds) - 1}, got {a} {b}")
    if test_ds.labels[a] == test_ds.labels[b]:
        sys.exit(f"{PROG}: error: --interp {a} {b}: both are {CLASS_NAMES[test_ds.labels[a]]}; pick two classes")
    return a, b


# ---------------------------------------------------------------------------- summary
def cmd_summary(args: argparse.Namespace) -> None:
    """Print every run's numbers and whether each VAD beats the AD trained on as many images."""
    runs = {}
    for path in sorted(Path(args.results_root).glob("*/metrics.json")):
        m = load_json(path)
        if "model" in m:
            runs[path.parent.name] = m
    if not runs:
        sys.exit(f"{PROG}: error: no ad/vad run folders with metrics.json under {args.results_root}")
    print(f"{'run':28s} {'train n':>8s} {'train BCE':>10s} {'test BCE':>9s} {'gap':>8s} {'confident':>10s} {'entropy':>8s}")
    for name, m in runs.items():
        q = m.get("sample_quality", {})
        print(f"{name:28s} {m['train_size']:8d} {m['train_reconstruction_loss']:10.4f} {m['test_reconstruction_loss']:9.4f} "
              f"{m['test_minus_train']:+8.4f} {q.get('confident_share', float('nan')):10.3f} {q.get('class_entropy_bits', float('nan')):8.2f}")
    for name, m in runs.items():
        ads = [a for a in runs.values() if a["model"] == "ad" and a["train_size"] == m["train_size"] and "sample_quality" in a]
        if m["model"] != "ad" and ads and "sample_quality" in m:
            ad_share, share = ads[0]["sample_quality"]["confident_share"], m["sample_quality"]["confident_share"]
            print(f"{name}: confident share {share:.3f} vs auto-decoder {ad_share:.3f} -> {'beats' if share > ad_share else 'DOES NOT beat'} it")


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0], formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False, formatter_class=fmt)
    common.add_argument("--data-dir", default="data",
                        help="folder with FashionMNIST/raw/ (torchvision layout) or fashion-mnist_{train,test}.csv")
    common.add_argument("--download", action="store_true", help="let torchvision download Fashion-MNIST into --data-dir")
    common.add_argument("--results-root", default="runs", help="run folders are created here")
    common.add_argument("--name", default=None, help="run folder name (None: from the command and subset)")
    common.add_argument("--seed", type=int, default=0, help="seeds initialisation, shuffling and prior draws")
    common.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (None: cuda when available)")
    common.add_argument("--batch-size", type=int, default=64, help="images per optimisation step")
    common.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint.pt")
    common.add_argument("--quick", action="store_true", help="smoke test: 256 images, 2 epochs, small plots")

    p = sub.add_parser("classifier", parents=[common], formatter_class=fmt, help="train the sample-scoring classifier")
    p.add_argument("--subset", type=int, default=0, help="first N images of each split (0: all)")
    p.add_argument("--epochs", type=int, default=5, help="passes over the training images")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (Adam)")
    p.set_defaults(func=cmd_classifier)

    for command, helptext in (("ad", "auto-decoder"), ("vad", "variational auto-decoder")):
        p = sub.add_parser(command, parents=[common], formatter_class=fmt, help=f"train and evaluate the {helptext}")
        p.add_argument("--subset", type=int, default=1000, help="first N images of each split (0: all)")
        p.add_argument("--latent-dim", type=int, default=32, help="size of each image's latent vector")
        p.add_argument("--epochs", type=int, default=150, help="passes over the training images")
        p.add_argument("--test-epochs", type=int, default=None, help="passes fitting the test latents (None: as many as --epochs)")
        p.add_argument("--lr", type=float, default=2e-3, help="decoder learning rate (Adam)")
        p.add_argument("--latent-lr", type=float, default=0.1, help="latent learning rate (SparseAdam)")
        p.add_argument("--tsne-points", type=int, default=2000, help="at most this many latents per split in the t-SNE")
        p.add_argument("--interp", type=int, nargs=2, default=None, metavar=("I", "J"),
                       help="test indices to interpolate between (None: test image 0 and the first of another class)")
        p.add_argument("--classifier", default=None, help="classifier checkpoint (None: RESULTS_ROOT/classifier/checkpoint.pt)")
        if command == "vad":
            p.add_argument("--family", choices=sorted(FAMILIES), default="gaussian", help="latent distribution family")
            p.add_argument("--kl-weight", type=float, default=1.0, help="weight of KL(q || prior); 1 is the exact ELBO")
            p.add_argument("--init-scale", type=float, default=0.1, help="initial scale of every q_i")
        p.set_defaults(func=cmd_latent_model, batch_size=32)

    p = sub.add_parser("summary", formatter_class=fmt, help="print the numbers of every run folder")
    p.add_argument("--results-root", default="runs")
    p.set_defaults(func=cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag in ("epochs", "test_epochs", "batch_size", "latent_dim", "tsne_points"):
        if getattr(args, flag, 1) is not None and getattr(args, flag, 1) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    if getattr(args, "subset", 0) < 0:
        parser.error("--subset must be 0 (all) or positive")
    if getattr(args, "kl_weight", 0) < 0 or getattr(args, "init_scale", 1) <= 0:
        parser.error("--kl-weight must be >= 0 and --init-scale > 0")
    if getattr(args, "quick", False):
        args.subset = min(args.subset or QUICK["subset"], QUICK["subset"])
        args.epochs = QUICK["epochs"]
        if args.command != "classifier":
            args.test_epochs, args.tsne_points = QUICK["test_epochs"], QUICK["tsne_points"]
    args.func(args)


if __name__ == "__main__":
    main()
