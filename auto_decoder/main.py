"""Auto-decoder and variational auto-decoders on Fashion-MNIST, and a VAE baseline.

Sub-commands (each writes a run folder ``<results-root>/<name>``):

    python main.py classifier                 # CNN that scores decoded samples (run it first, once)
    python main.py ad                         # auto-decoder: train, fit test latents, samples, t-SNE, interpolation
    python main.py vad --family gaussian      # the same for a variational auto-decoder (also laplace, logistic)
    python main.py vae                        # the baseline: an encoder with the same decoder, prior and budget
    python main.py summary                    # table of every run's numbers

``ad``, ``vad`` and ``vae`` default to the course's 1,000-image subset and 150 epochs
(``--subset 0`` uses all images; ``--val-size N`` holds N of them out and trains until
their loss stops improving, with ``--epochs`` as the maximum). ``--resume`` continues an
interrupted run from its checkpoint; on a finished run it only redoes the figures and the scores.

This file is the argument parser and the dispatch only. The experiments are in
``classifier.py`` (the scoring classifier), ``train.py`` (training loop, test-time
latent fit), ``vae.py``, ``analysis.py`` (scores and figures) and ``summary.py``; they
are imported when a command runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse

from common.cli import (
    HelpFormatter,
    add_common_args,
    fill_common_defaults,
    main_parser,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    run_command,
    run_name,
)

PROG = "main.py"
FAMILIES = (
    "gaussian",
    "laplace",
    "logistic",
)  # VariationalAutoDecoder.FAMILIES, listed here to keep torch out of --help
QUICK = {"subset": 256, "epochs": 2, "test_steps": 20, "tsne_points": 100, "samples": 100}


def add_data_args(p: argparse.ArgumentParser, batch_size: int, subset: int) -> None:
    """The data flags; each sub-command gets its own copies, so its defaults stay its own."""
    p.add_argument(
        "--data-dir",
        default="data",
        help="folder with FashionMNIST/raw/ (torchvision layout) or fashion-mnist_{train,test}.csv",
    )
    p.add_argument("--download", action="store_true", help="let torchvision download Fashion-MNIST into --data-dir")
    p.add_argument("--batch-size", type=positive_int, default=batch_size, help="images per optimisation step")
    p.add_argument("--subset", type=non_negative_int, default=subset, help="first N images of each split (0: all)")


def add_training_args(p: argparse.ArgumentParser, command: str) -> None:
    """The size, optimisation and stopping of ``ad``, ``vad`` and ``vae``."""
    p.add_argument("--latent-dim", type=positive_int, default=32, help="size of each image's latent vector")
    p.add_argument(
        "--epochs", type=positive_int, default=150, help="passes over the training images (with --val-size: the most)"
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        default=2e-3,
        help=f"learning rate (Adam) of the {'encoder and decoder' if command == 'vae' else 'decoder'}",
    )
    p.add_argument(
        "--val-size",
        type=non_negative_int,
        default=0,
        help="training images held out; their loss halves --lr when it stalls "
        "and stops training when it stops improving by 0.01%% (0: none, train exactly --epochs)",
    )
    p.add_argument(
        "--lr-patience",
        type=positive_int,
        default=2,
        help="with --val-size: halve --lr after this many epochs without improvement",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        default=4,
        help="with --val-size: stop after this many epochs without improvement",
    )
    p.add_argument(
        "--test-size",
        type=positive_int,
        default=2000,
        help="the first N test images get latents (fitted or encoded) and reconstruction scores",
    )


def add_latent_args(p: argparse.ArgumentParser) -> None:
    """How the auto-decoders (not the VAE) start, train and fit their latents."""
    p.add_argument(
        "--init",
        choices=("pca", "random"),
        default="pca",
        help="where latents start: their images' probabilistic-PCA posterior, or random (the course's)",
    )
    p.add_argument(
        "--latent-lr", type=positive_float, default=0.1, help="training latents' learning rate (row-wise Adam)"
    )
    p.add_argument(
        "--val-steps",
        type=positive_int,
        default=10,
        help="with --val-size: full-batch steps refitting the validation latents after each epoch",
    )
    p.add_argument(
        "--test-steps",
        type=positive_int,
        default=800,
        help="most full-batch steps fitting the test latents (fewer once converged)",
    )
    p.add_argument(
        "--test-lr",
        type=positive_float,
        default=0.05,
        help="learning rate (Adam) of the test and validation latent fits",
    )


def add_prior_args(p: argparse.ArgumentParser, command: str) -> None:
    """The KL term of ``vad`` and ``vae``, and ``vad``'s latent family."""
    if command != "ad":
        p.add_argument(
            "--kl-weight", type=non_negative_float, default=1.0, help="weight of KL(q || prior); 1 is the exact ELBO"
        )
    if command == "vad":
        p.add_argument("--family", choices=FAMILIES, default="gaussian", help="latent distribution family")
        p.add_argument(
            "--init-scale", type=positive_float, default=0.1, help="initial scale of every q_i with --init random"
        )


def add_report_args(p: argparse.ArgumentParser) -> None:
    """What a finished run scores and draws."""
    p.add_argument(
        "--samples",
        type=positive_int,
        default=10_000,
        help="prior draws decoded and scored (the Frechet distance compares them with 10,000 test images)",
    )
    p.add_argument(
        "--tsne-points", type=positive_int, default=2000, help="at most this many codes per split in the t-SNE"
    )
    p.add_argument(
        "--interp",
        type=non_negative_int,
        nargs=2,
        default=None,
        metavar=("I", "J"),
        help="test indices to interpolate between (default: test image 0 and the first of another class)",
    )
    p.add_argument(
        "--classifier",
        default=None,
        help="classifier checkpoint that scores the samples (default: RESULTS_ROOT/classifier/checkpoint.pt)",
    )


def add_generative_args(p: argparse.ArgumentParser, command: str) -> None:
    """The flags of ``ad``, ``vad`` and ``vae``: one set of names, so their runs compare like for like."""
    add_training_args(p, command)
    if command != "vae":
        add_latent_args(p)
    add_prior_args(p, command)
    add_report_args(p)


def build_parser() -> argparse.ArgumentParser:
    parser = main_parser(__doc__)
    add_common_args(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("classifier", formatter_class=HelpFormatter, help="train the sample-scoring classifier")
    add_common_args(p, sub_command=True)
    add_data_args(p, batch_size=128, subset=0)
    p.add_argument("--epochs", type=positive_int, default=10, help="passes over the training images")
    p.add_argument("--lr", type=positive_float, default=3e-3, help="peak learning rate (Adam, one-cycle schedule)")

    for command, helptext in (("ad", "auto-decoder"), ("vad", "variational auto-decoder"), ("vae", "VAE baseline")):
        p = sub.add_parser(command, formatter_class=HelpFormatter, help=f"train and evaluate the {helptext}")
        add_common_args(p, sub_command=True)
        add_data_args(p, batch_size=32, subset=1000)
        add_generative_args(p, command)

    p = sub.add_parser(
        "summary", formatter_class=HelpFormatter, help="print the numbers of every run under --results-root"
    )
    add_common_args(p, sub_command=True)
    return parser


def size_tag(subset: int) -> str:
    return f"n{subset}" if subset else "full"


def default_name(args: argparse.Namespace) -> str:
    """``classifier``, ``ad-n1000``, ``vad-gaussian-n1000``, ``vae-n1000``, ``ad-full`` ..."""
    if args.command == "classifier":
        return "classifier"
    model = f"vad-{args.family}" if args.command == "vad" else args.command
    return f"{model}-{size_tag(args.subset)}"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` and fill in what follows from it: common defaults, --quick sizes, the run folder name."""
    args = fill_common_defaults(build_parser().parse_args(argv))
    if args.command == "summary":
        return args
    if args.quick:
        args.subset = min(args.subset or QUICK["subset"], QUICK["subset"])
        args.epochs = QUICK["epochs"]
        if args.command != "classifier":
            args.tsne_points = min(args.tsne_points, QUICK["tsne_points"])
            args.samples = min(args.samples, QUICK["samples"])
        if args.command in ("ad", "vad"):
            args.test_steps = QUICK["test_steps"]
    args.name = run_name(args, default_name(args))
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.command == "classifier":
        from auto_decoder.classifier import run
    elif args.command == "summary":
        from auto_decoder.summary import run
    elif args.command == "vae":
        from auto_decoder.vae import run
    else:
        from auto_decoder.train import run
    hint = None
    if args.command != "summary":
        hint = f"continue with the same command plus --resume (run folder {args.results_root}/{args.name})"
    run_command(f"{PROG} {args.command}", lambda: run(args), resume_hint=hint)


if __name__ == "__main__":
    main()
