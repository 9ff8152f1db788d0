"""Medical CNN experiments: the 2-D convolution study, MedMNIST classification and DRIVE vessel segmentation.

    python main.py conv                                                  # speed table + filter figure
    python main.py classify --data-dir DIR --dataset pneumoniamnist      # DIR/pneumoniamnist.npz
    python main.py segment  --data-dir DRIVE --study skip                # or lr, augment, pretrained

This file is the command line only; each experiment, with its training loop, is a module of
its own: ``conv_study.py``, ``classify.py``, ``segment.py``. Every command writes a run folder
``<results-root>/<name>/`` with ``config.json`` (arguments under ``"args"``, the dataset, the
device), ``metrics.json``, figures (png) and, for training, checkpoints that ``--resume``
continues from. ``report.ipynb`` reads these folders.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from common.cli import (
    HelpFormatter,
    add_common_args,
    fill_common_defaults,
    folder_name,
    main_parser,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    run_command,
    run_name,
)

PROG = "main.py"
MODULES = {"conv": "conv_study", "classify": "classify", "segment": "segment"}
STUDIES = ("skip", "lr", "augment", "pretrained")
AUGMENTATIONS = (
    "none",
    "flip",
    "affine",
    "intensity",
)  # medical_cnn.augment.AUGMENTATIONS, named here so --help needs no torch
IMAGENET = "imagenet"  # common.pretrained.IMAGENET, likewise
DEFAULT_NAMES = {
    "conv": lambda a: "conv",
    "classify": lambda a: f"classify-{a.dataset}",
    "segment": lambda a: f"segment-{a.study}",
}
QUICK = {
    "conv": {"sizes": [32, 64], "kernels": [3, 5], "repeats": 1, "naive_max_size": 32},
    "classify": {"epochs": 1, "hidden_sizes": [32], "batch_size": 64},
    "segment": {
        "iters": 4,
        "eval_every": 2,
        "patch_size": 32,
        "batch_size": 2,
        "base_channels": 4,
        "lrs": [1e-1, 1e-3],
    },
}


def add_conv(sub) -> argparse.ArgumentParser:
    conv = sub.add_parser(
        "conv", formatter_class=HelpFormatter, help="2-D convolution: speed table against scipy and a filter figure"
    )
    conv.add_argument("--sizes", type=positive_int, nargs="+", default=[128, 256, 512, 1024], help="square image sizes")
    conv.add_argument(
        "--kernels", type=positive_int, nargs="+", default=[3, 5, 7, 9, 11, 13, 15], help="square kernel sizes"
    )
    conv.add_argument("--repeats", type=positive_int, default=5, help="timing repeats (the best is kept)")
    conv.add_argument(
        "--naive-max-size", type=non_negative_int, default=128, help="time the pure-Python loop only up to this size"
    )
    return conv


def add_classify(sub) -> argparse.ArgumentParser:
    cls = sub.add_parser("classify", formatter_class=HelpFormatter, help="MedMNIST: hand-written MLP against MobileNet")
    cls.add_argument("--data-dir", type=Path, default=Path("data_cache/medmnist"), help="folder with <dataset>.npz")
    cls.add_argument(
        "--dataset",
        type=folder_name,
        default="pathmnist",
        help="MedMNIST file name without .npz (pathmnist, pneumoniamnist, ...)",
    )
    cls.add_argument(
        "--download",
        action="store_true",
        help="fetch a missing <dataset>.npz from Zenodo into the existing --data-dir (needs internet)",
    )
    cls.add_argument("--epochs", type=positive_int, default=10, help="training epochs for each model")
    cls.add_argument("--batch-size", type=positive_int, default=128, help="mini-batch size")
    cls.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (same for both models)")
    cls.add_argument(
        "--weight-decay", type=non_negative_float, default=0.0, help="Adam L2 penalty (same for both models)"
    )
    cls.add_argument("--hidden-sizes", type=positive_int, nargs="+", default=[512, 256], help="MLP hidden layer widths")
    cls.add_argument("--activation", choices=["relu", "tanh", "sigmoid"], default="relu", help="MLP activation")
    cls.add_argument(
        "--shift",
        type=int,
        choices=range(0, 8),
        default=2,
        metavar="{0..7}",
        help="random translation of training images by up to this many pixels (both models; 0: none)",
    )
    cls.add_argument(
        "--resize",
        type=non_negative_int,
        default=0,
        help="resize MobileNet's input to this square size (bilinear; the paper uses 224); 0 keeps the file's 28x28",
    )
    cls.add_argument(
        "--balanced",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="weight the training cross-entropy by inverse class frequency (both models)",
    )
    return cls


def add_segment(sub) -> argparse.ArgumentParser:
    seg = sub.add_parser("segment", formatter_class=HelpFormatter, help="DRIVE vessel segmentation studies")
    seg.add_argument(
        "--data-dir", type=Path, default=Path("data_cache/DRIVE"), help="DRIVE root with training/ and test/"
    )
    seg.add_argument(
        "--study",
        choices=STUDIES,
        default="skip",
        help="skip: U-Net with/without skips; lr: Adam learning-rate sweep; augment: four augmentations; "
        "pretrained: smp ResNet-18 U-Net, ImageNet encoder vs scratch",
    )
    seg.add_argument("--iters", type=positive_int, default=2000, help="training iterations (patch batches) per run")
    seg.add_argument("--batch-size", type=positive_int, default=8, help="patches per iteration")
    seg.add_argument(
        "--patch-size",
        type=positive_int,
        default=64,
        help="training patch side in pixels, a multiple of 16 (32 for --study pretrained)",
    )
    seg.add_argument(
        "--base-channels", type=positive_int, default=8, help="U-Net width of the first block (the paper: 64)"
    )
    seg.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (all studies but lr)")
    seg.add_argument(
        "--lrs",
        type=positive_float,
        nargs="+",
        default=[1e-1, 1e-2, 1e-3, 1e-4, 1e-5],
        help="learning rates of the lr study",
    )
    seg.add_argument(
        "--lr-schedule",
        choices=("constant", "cosine"),
        default="constant",
        help="constant: the course's fixed rate; cosine: decays each run's rate to 0 over --iters",
    )
    seg.add_argument(
        "--augmentation", choices=AUGMENTATIONS, default="flip", help="augmentation (all studies but augment)"
    )
    seg.add_argument(
        "--eval-every", type=positive_int, default=250, help="validation and checkpoint interval (iterations)"
    )
    seg.add_argument("--val-images", type=positive_int, default=4, help="training images held out for validation")
    seg.add_argument(
        "--threshold", type=positive_float, default=0.5, help="probability threshold for the vessel mask, in (0, 1)"
    )
    seg.add_argument(
        "--encoder-weights",
        metavar="imagenet|PATH",
        default=None,
        help=f"ImageNet encoder weights for --study pretrained: '{IMAGENET}' takes torchvision's ResNet-18 "
        "IMAGENET1K_V1 from the torch hub cache or downloads it there once; PATH is a torchvision/timm "
        "ResNet-18 state dict (default: none; the pretrained variant is then recorded as skipped, as it is "
        "when the download fails)",
    )
    return seg


def build_parser() -> argparse.ArgumentParser:
    parser = main_parser(__doc__)
    add_common_args(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    parser.commands = {
        name: add(sub) for name, add in (("conv", add_conv), ("classify", add_classify), ("segment", add_segment))
    }
    for command in parser.commands.values():
        add_common_args(command, sub_command=True)
    return parser


def check_args(args: argparse.Namespace, error) -> None:
    """What argparse's types cannot check alone; ``error`` ends with one usage line."""
    if args.command == "segment":
        if args.encoder_weights not in (None, IMAGENET) and not Path(args.encoder_weights).is_file():
            error(f"--encoder-weights {args.encoder_weights} does not exist")
        if not args.threshold < 1:
            error(f"--threshold must lie in (0, 1), got {args.threshold:g}")
        multiple = 32 if args.study == "pretrained" else 16
        if args.patch_size % multiple:
            error(
                f"--patch-size must be a multiple of {multiple} (the network downsamples that much), "
                f"got {args.patch_size}"
            )


def execute(args: argparse.Namespace, config: dict) -> dict:
    """Check the run folder, load and check the data, and only then open the folder and run the experiment."""
    from common.cli import RunError
    from common.precision import fp32_only, resolve_precision
    from common.runs import check_run, open_run, save_json, seed_everything

    experiment = importlib.import_module(f"medical_cnn.{MODULES[args.command]}")
    check_run(args, experiment.FIXED_ON_RESUME)
    bf16_ok = getattr(experiment, "BF16_OK", None)  # None: the experiment has no bf16 path
    try:
        config["precision"] = (
            fp32_only(args.precision, f"{PROG} {args.command}")
            if bf16_ok is None
            else resolve_precision(args.precision, config["device"], bf16_ok)
        )
    except ValueError as e:
        raise RunError(str(e)) from None
    seed_everything(args.seed)
    start = time.time()
    data, config["dataset"] = experiment.load_data(args)
    with open_run(args, experiment.FIXED_ON_RESUME, **config) as run_dir:
        metrics = experiment.run(args, data, run_dir, config["device"])
        metrics["wall_seconds"] = time.time() - start
        save_json(run_dir / "metrics.json", metrics)
    print(f"{run_dir}: {experiment.headline(metrics)}")
    return metrics


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = fill_common_defaults(parser.parse_args(argv))
    error = parser.commands[args.command].error
    if args.quick:
        for key, value in QUICK[args.command].items():
            setattr(args, key, value)
    check_args(args, error)

    import matplotlib

    matplotlib.use("Agg")
    import torch

    from common.runs import pick_device

    try:
        device = pick_device(args.device)
    except (ValueError, RuntimeError) as e:
        error(str(e).splitlines()[0])
    args.name = run_name(args, DEFAULT_NAMES[args.command](args))
    config = {
        "command": args.command,
        "device": device,
        "cpu_threads": torch.get_num_threads(),
    }
    hint = (
        f"if {Path(args.results_root) / args.name} holds a checkpoint (*.pt), "
        "run the same command with --resume to continue"
        if args.command != "conv"
        else "nothing was kept; run the command again"
    )
    return run_command(f"{PROG} {args.command}", lambda: execute(args, config), resume_hint=hint)


if __name__ == "__main__":
    main()
    sys.exit(0)
