"""Auto-decoder and variational auto-decoders on Fashion-MNIST.

Sub-commands (each writes a run folder ``<results-root>/<name>``):

    python main.py classifier                 # small CNN that scores decoded samples (run it first)
    python main.py ad                         # auto-decoder: train, fit test latents, samples, t-SNE, interpolation
    python main.py vad --family gaussian      # the same for a variational auto-decoder (also laplace, logistic)
    python main.py summary                    # table of every run's numbers

``ad`` and ``vad`` default to the course's 1,000-image subset (``--subset 0`` uses
all images). ``--resume`` continues an interrupted run from its checkpoint; on a
finished run it only redoes the figures and the scores.

This file is the argument parser and the dispatch only. The experiments are in
``classifier.py`` (the scoring classifier), ``train.py`` (training loop, test-time
latent fit, figures) and ``summary.py``; they are imported when a command runs, so
``--help`` answers at once.
"""

from __future__ import annotations

import argparse

from common.cli import (
    OneLineParser,
    add_common_args,
    fill_common_defaults,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    run_command,
    run_name,
)

PROG = "auto_decoder"
FAMILIES = ("gaussian", "laplace", "logistic")  # VariationalAutoDecoder.FAMILIES, listed here to keep torch out of --help
QUICK = {"subset": 256, "epochs": 2, "test_epochs": 2, "tsne_points": 100}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Append ``(default: ...)`` unless the help text already states the default or there is none to show."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def add_data_args(p: argparse.ArgumentParser, batch_size: int, subset: int) -> None:
    """The data flags; each sub-command gets its own copies, so its defaults stay its own."""
    p.add_argument("--data-dir", default="data",
                   help="folder with FashionMNIST/raw/ (torchvision layout) or fashion-mnist_{train,test}.csv")
    p.add_argument("--download", action="store_true", help="let torchvision download Fashion-MNIST into --data-dir")
    p.add_argument("--batch-size", type=positive_int, default=batch_size, help="images per optimisation step")
    p.add_argument("--subset", type=non_negative_int, default=subset, help="first N images of each split (0: all)")


def add_latent_model_args(p: argparse.ArgumentParser, variational: bool) -> None:
    p.add_argument("--latent-dim", type=positive_int, default=32, help="size of each image's latent vector")
    p.add_argument("--epochs", type=positive_int, default=150, help="passes over the training images")
    p.add_argument("--test-epochs", type=positive_int, default=None,
                   help="passes fitting the test latents (default: as many as --epochs)")
    p.add_argument("--lr", type=positive_float, default=2e-3, help="decoder learning rate (Adam)")
    p.add_argument("--latent-lr", type=positive_float, default=0.1, help="latent learning rate (SparseAdam)")
    p.add_argument("--tsne-points", type=positive_int, default=2000, help="at most this many latents per split in the t-SNE")
    p.add_argument("--interp", type=non_negative_int, nargs=2, default=None, metavar=("I", "J"),
                   help="test indices to interpolate between (default: test image 0 and the first of another class)")
    p.add_argument("--classifier", default=None,
                   help="classifier checkpoint that scores the samples (default: RESULTS_ROOT/classifier/checkpoint.pt)")
    if variational:
        p.add_argument("--family", choices=FAMILIES, default="gaussian", help="latent distribution family")
        p.add_argument("--kl-weight", type=non_negative_float, default=1.0, help="weight of KL(q || prior); 1 is the exact ELBO")
        p.add_argument("--init-scale", type=positive_float, default=0.1, help="initial scale of every q_i")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n")[0], formatter_class=HelpFormatter)
    add_common_args(parser)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("classifier", formatter_class=HelpFormatter, help="train the sample-scoring classifier")
    add_common_args(p, sub_command=True)
    add_data_args(p, batch_size=64, subset=0)
    p.add_argument("--epochs", type=positive_int, default=5, help="passes over the training images")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate (Adam)")

    for command, variational in (("ad", False), ("vad", True)):
        helptext = "variational auto-decoder" if variational else "auto-decoder"
        p = sub.add_parser(command, formatter_class=HelpFormatter, help=f"train and evaluate the {helptext}")
        add_common_args(p, sub_command=True)
        add_data_args(p, batch_size=32, subset=1000)
        add_latent_model_args(p, variational)

    p = sub.add_parser("summary", formatter_class=HelpFormatter, help="print the numbers of every run under --results-root")
    add_common_args(p, sub_command=True)
    return parser


def size_tag(subset: int) -> str:
    return f"n{subset}" if subset else "full"


def default_name(args: argparse.Namespace) -> str:
    """``classifier``, ``ad-n1000``, ``vad-gaussian-n1000``, ``ad-full`` ..."""
    if args.command == "classifier":
        return "classifier"
    model = "ad" if args.command == "ad" else f"vad-{args.family}"
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
            args.test_epochs, args.tsne_points = QUICK["test_epochs"], min(args.tsne_points, QUICK["tsne_points"])
    if args.command != "classifier":
        args.test_epochs = args.test_epochs or args.epochs
    args.run_name = run_name(args, default_name(args))
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.command == "classifier":
        from auto_decoder.classifier import run
    elif args.command == "summary":
        from auto_decoder.summary import run
    else:
        from auto_decoder.train import run
    hint = None
    if args.command != "summary":
        hint = f"continue with the same command plus --resume (run folder {args.results_root}/{args.run_name})"
    run_command(f"{PROG} {args.command}", lambda: run(args), resume_hint=hint)


if __name__ == "__main__":
    main()
