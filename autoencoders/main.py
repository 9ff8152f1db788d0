"""Autoencoders assignment: one sub-command per experiment, each writing a run folder.

    python main.py cifar        --data-dir DIR    # CIFAR-10 CNN classifier                  (cifar.py)
    python main.py mnist        --data-dir DIR    # linear vs convolutional autoencoders     (mnist_ae.py)
    python main.py stl10-cnn    --data-dir DIR    # STL-10 CNN from scratch                  (stl10.py)
    python main.py stl10-resnet --data-dir DIR --weights imagenet   # or a PATH to resnet18-f37072fd.pth
    python main.py stl10-ae     --data-dir DIR    # autoencoder on unlabelled + frozen-encoder classifier
    python main.py segment      --data-dir DIR | --synthetic N   # brain-tumour segmentation (segment.py)

Every task holds out a validation split that chooses the kept weights (``best*.pth``); the
headline test number is that model's. CIFAR-10 also keeps ``best_test.pth`` (best TEST accuracy,
as the course asks) and reports its number as "test-selected (course protocol, optimistic)".

``--download`` lets torchvision fetch CIFAR-10, MNIST or STL-10 into ``--data-dir`` (layouts: README.md).
A run folder ``<results-root>/<name>/`` holds config.json, metrics.json (with the per-epoch histories),
PNG figures, ``best*.pth`` weights and ``checkpoint*.pt`` for ``--resume``. This file only parses and
dispatches; torch and the experiments are imported once a command runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse

from common.cli import (
    HelpFormatter,
    OneLineParser,
    RunError,
    add_common_args,
    fill_common_defaults,
    fraction,
    main_parser,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    run_command,
    run_name,
)

PROG = "main.py"

# name: (module, help, defaults)
TASKS = {
    "cifar": ("cifar", "CIFAR-10 CNN classifier", dict(epochs=16, batch_size=128, lr=0.1, weight_decay=5e-4)),
    "mnist": (
        "mnist_ae",
        "MNIST linear vs convolutional autoencoders, reconstruction and denoising",
        dict(epochs=5, batch_size=128, lr=1e-3),
    ),
    "stl10-cnn": (
        "stl10",
        "STL-10 CNN classifier from scratch",
        dict(epochs=30, batch_size=64, lr=2e-3, weight_decay=5e-4),
    ),
    "stl10-resnet": (
        "stl10",
        "STL-10 with a frozen ResNet-18 and a new head",
        dict(epochs=10, batch_size=64, lr=1e-3, weight_decay=1e-4),
    ),
    "stl10-ae": (
        "stl10",
        "STL-10 autoencoder on the unlabelled split, then its frozen encoder under a classifier",
        dict(epochs=10, batch_size=128, lr=1e-3, weight_decay=1e-4),
    ),
    "segment": ("segment", "brain-tumour segmentation with the Dice loss", dict(epochs=20, batch_size=8, lr=1e-3)),
}


def size_type(text: str) -> int:
    """argparse type: a positive multiple of 16 (the segmentation network pools four times)."""
    value = positive_int(text)
    if value % 16:
        raise argparse.ArgumentTypeError(f"expected a multiple of 16 (the network pools four times), got {value}")
    return value


def val_fraction_type(text: str) -> float:
    """argparse type: a number in (0, 1), the part of the training data held out for validation."""
    value = fraction(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number in (0, 1): the validation split chooses the kept weights")
    return value


def _mnist_args(g: argparse._ArgumentGroup) -> None:
    """The denoising noise of ``mnist``."""
    g.add_argument(
        "--noise-std", type=non_negative_float, default=0.4, help="std of the denoising noise (default: 0.4)"
    )


def _stl10_resnet_args(g: argparse._ArgumentGroup) -> None:
    """The backbone weights of ``stl10-resnet``."""
    weights = g.add_mutually_exclusive_group()
    weights.add_argument(
        "--weights",
        metavar="imagenet|PATH",
        default=None,
        help="the backbone's ImageNet weights: 'imagenet' takes torchvision's IMAGENET1K_V1 from the torch hub "
        "cache or downloads it there once; PATH is a ResNet-18 state dict such as resnet18-f37072fd.pth "
        "(default: none; without weights, or offline, the run is recorded as skipped and nothing trains)",
    )
    weights.add_argument(
        "--no-pretrained",
        action="store_true",
        help="RANDOM backbone instead of ImageNet weights, for smoke tests only (run folder stl10-resnet_random)",
    )


def _stl10_ae_args(g: argparse._ArgumentGroup) -> None:
    """The unlabelled images and the classifier of ``stl10-ae``."""
    g.add_argument(
        "--max-unlabeled",
        type=positive_int,
        default=None,
        help="train the autoencoder on the first N unlabelled images (default: all 100,000)",
    )
    g.add_argument(
        "--classifier-lr", type=positive_float, default=2e-3, help="classifier learning rate (default: 0.002)"
    )
    g.add_argument("--classifier-epochs", type=positive_int, default=20, help="classifier epochs (default: 20)")


def _segment_args(g: argparse._ArgumentGroup) -> None:
    """The data, split, augmentation and start of ``segment``."""
    g.add_argument(
        "--synthetic",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="offline demo: N real MNI152 slices with SYNTHETIC lesions instead of the Figshare files "
        "(default: 0, i.e. the real files)",
    )
    g.add_argument(
        "--sample-every", type=positive_int, default=2, help="keep sample predictions every N epochs (default: 2)"
    )
    g.add_argument("--size", type=size_type, default=240, help="slices are resized to size x size (default: 240)")
    g.add_argument(
        "--guard",
        type=non_negative_int,
        default=5,
        help="files dropped on each side of every border between the train/validation/test blocks (default: 5)",
    )
    g.add_argument(
        "--augment",
        action="store_true",
        help="random flips, rotations (15 degrees), scaling (0.9-1.1) and intensity gain (0.9-1.1) "
        "of the training slices (off by default)",
    )
    g.add_argument(
        "--init-from",
        metavar="PATH",
        default=None,
        help="start from these weights (a best.pth of an earlier segment run) instead of random ones; "
        "the optimiser starts afresh (default: none)",
    )


TASK_ARGS = {  # each task's own options
    "mnist": _mnist_args,
    "stl10-resnet": _stl10_resnet_args,
    "stl10-ae": _stl10_ae_args,
    "segment": _segment_args,
}


def _add_task_args(p: argparse.ArgumentParser, name: str, defaults: dict) -> None:
    """The options every task has, with its defaults, then its own (:data:`TASK_ARGS`)."""
    g = p.add_argument_group(f"options of {name}")
    g.add_argument("--data-dir", default="data", help="dataset root, see README.md for each layout (default: data)")
    g.add_argument(
        "--download",
        action="store_true",
        help="let torchvision download CIFAR-10, MNIST or STL-10 into --data-dir (off by default)",
    )
    g.add_argument(
        "--workers", type=non_negative_int, default=2, help="data-loader processes for files read lazily (default: 2)"
    )
    g.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help=f"training epochs (default: {defaults['epochs']}; 1 with --quick)",
    )
    g.add_argument(
        "--batch-size", type=positive_int, default=defaults["batch_size"], help=f"(default: {defaults['batch_size']})"
    )
    g.add_argument(
        "--lr", type=positive_float, default=defaults["lr"], help=f"(peak) learning rate (default: {defaults['lr']:g})"
    )
    if name != "segment":
        g.add_argument(
            "--val-fraction",
            type=val_fraction_type,
            default=0.1,
            help="part of the training images held out (seeded) to choose the kept weights (default: 0.1)",
        )
    if "weight_decay" in defaults:
        g.add_argument(
            "--weight-decay",
            type=non_negative_float,
            default=defaults["weight_decay"],
            help=f"(default: {defaults['weight_decay']:g})",
        )
    if name in TASK_ARGS:
        TASK_ARGS[name](g)


def build_parser() -> argparse.ArgumentParser:
    parser = main_parser(__doc__)
    add_common_args(parser)
    sub = parser.add_subparsers(dest="task", required=True, parser_class=OneLineParser)
    for name, (_, help_text, defaults) in TASKS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
        _add_task_args(p, name, defaults)
        add_common_args(p, sub_command=True)
    return parser


def default_name(args: argparse.Namespace) -> str:
    """The run folder name without --name: the task; ``segment_synthetic`` for the synthetic demo and
    ``stl10-resnet_random`` for a random backbone, so neither takes the real run's folder."""
    if args.task == "segment" and args.synthetic:
        return "segment_synthetic"
    return "stl10-resnet_random" if args.task == "stl10-resnet" and args.no_pretrained else args.task


def _dispatch(args: argparse.Namespace) -> None:
    import importlib

    from autoencoders.helper import fixed_on_resume, run_precision
    from common.runs import check_run, pick_device, seed_everything

    try:
        device = pick_device(args.device)
        run_precision(args, device)  # an unavailable --precision stops here, before anything is written
    except (ValueError, RuntimeError) as e:
        raise RunError(str(e)) from None
    check_run(args, fixed_on_resume(args.task))
    seed_everything(args.seed)
    module = importlib.import_module(f"autoencoders.{TASKS[args.task][0]}")
    module.run(args, device)


def main(argv: list[str] | None = None) -> None:
    args = fill_common_defaults(build_parser().parse_args(argv))
    if args.epochs is None:
        args.epochs = 1 if args.quick else TASKS[args.task][2]["epochs"]
    args.name = run_name(args, default_name(args))
    hint = (
        f"run the same command with --resume to continue {args.results_root}/{args.name} after its last finished epoch"
    )
    run_command(PROG, lambda: _dispatch(args), resume_hint=hint)


if __name__ == "__main__":
    main()
