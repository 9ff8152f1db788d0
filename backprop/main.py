"""Backpropagation by hand, inpainting, a denoiser ablation and Wiener deconvolution with CNNs.

Four sub-commands, each writing a run folder ``<results-root>/<name>/`` with
``config.json``, ``metrics.json``, figures and (for the trained ones) weights:

    python main.py gradcheck                       # hand-written backward passes vs autograd
    python main.py inpaint  --data-dir <folder holding MNIST/raw>
    python main.py ablation --data-dir <train images> --test-dir <test images>
    python main.py wiener   --data-dir <train images> --test-dir <test images>

Without ``--data-dir`` the image commands use scikit-image's bundled photographs
(an offline fallback, labelled as such in config.json). ``--quick`` runs a tiny
smoke version of any command in seconds, into a folder whose name ends in ``_quick``.

This file is only the command line; each experiment lives in its own module:
``gradcheck.py``, ``inpaint.py``, ``ablation.py`` and ``deblur.py``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from common.cli import (
    HelpFormatter,
    RunError,
    add_common_args,
    fill_common_defaults,
    main_parser,
    positive_float,
    positive_int,
    run_command,
    run_name,
)

PROG = "main.py"
MODULES = {
    "gradcheck": "backprop.gradcheck",
    "inpaint": "backprop.inpaint",
    "ablation": "backprop.ablation",
    "wiener": "backprop.deblur",
}


def noise_level(text: str) -> float:
    """argparse type: a noise standard deviation in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a noise sigma in [0, 1], got {text}")
    return value


def add_image_args(p: argparse.ArgumentParser) -> None:
    """Options of the two commands that train denoising CNNs on natural images."""
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder of training images, e.g. your copy of Train400 "
        "(default: scikit-image's bundled photographs, a smoke-scale offline fallback)",
    )
    p.add_argument(
        "--test-dir",
        default=None,
        help="folder of held-out test images, e.g. BSD68 or Set12 (required with --data-dir)",
    )
    p.add_argument(
        "--val-count", type=positive_int, default=20, help="training images held out for validation (default: 20)"
    )
    p.add_argument(
        "--val-crop",
        type=positive_int,
        default=128,
        help="validation images are centre crops of this side (default: 128)",
    )
    p.add_argument("--patch-size", type=positive_int, default=40, help="side of the training patches (default: 40)")
    p.add_argument("--batch-size", type=positive_int, default=16, help="patches per step (default: 16)")
    p.add_argument("--steps", type=positive_int, default=2500, help="training steps per network (default: 2500)")
    p.add_argument(
        "--lr", type=positive_float, default=1e-3, help="Adam learning rate, cosine decay to lr/20 (default: 0.001)"
    )
    p.add_argument("--eval-every", type=positive_int, default=250, help="steps between validations (default: 250)")
    p.add_argument("--depth", type=positive_int, default=6, help="3x3 convolution layers per network (default: 6)")


def add_inpaint_args(p: argparse.ArgumentParser) -> None:
    """The data, network and SGD options of ``inpaint``."""
    p.add_argument("--data-dir", default="data", help="folder holding MNIST/raw/, torchvision's layout (default: data)")
    p.add_argument(
        "--download",
        action="store_true",
        help="let torchvision download MNIST into an existing --data-dir when it is missing (needs internet)",
    )
    p.add_argument(
        "--hidden", type=positive_int, nargs="+", default=[512, 512], help="hidden layer sizes (default: 512 512)"
    )
    p.add_argument("--epochs", type=positive_int, default=10, help="passes over the training set (default: 10)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="digits per SGD step (default: 64)")
    p.add_argument("--lr", type=positive_float, default=0.05, help="SGD learning rate (default: 0.05)")
    p.add_argument(
        "--val-count", type=positive_int, default=5000, help="training digits held out for validation (default: 5000)"
    )


def add_ablation_args(p: argparse.ArgumentParser) -> None:
    """The image options and the widths and noise levels of ``ablation``."""
    add_image_args(p)
    p.add_argument(
        "--channels", type=positive_int, nargs="+", default=[32, 64], help="hidden widths to compare (default: 32 64)"
    )
    p.add_argument(
        "--train-sigma",
        type=noise_level,
        nargs=2,
        default=[0.0, 0.1],
        metavar=("LOW", "HIGH"),
        help="training noise sigma is drawn uniformly from [LOW, HIGH] (default: 0 0.1)",
    )
    p.add_argument(
        "--test-sigmas",
        type=noise_level,
        nargs="+",
        default=[0.01, 0.1, 0.2],
        help="test noise levels (default: 0.01 0.1 0.2)",
    )


def add_wiener_args(p: argparse.ArgumentParser) -> None:
    """The image options, the blur and the noise levels of ``wiener``."""
    add_image_args(p)
    p.add_argument(
        "--kernel", choices=["motion", "gaussian"], default="motion", help="blur kernel shape (default: motion)"
    )
    p.add_argument("--kernel-size", type=positive_int, default=9, help="blur kernel side, odd (default: 9)")
    p.add_argument(
        "--sigmas",
        type=noise_level,
        nargs="+",
        default=[0.005, 0.01, 0.02],
        help="noise levels (default: 0.005 0.01 0.02)",
    )
    p.add_argument("--channels", type=positive_int, default=32, help="hidden width of both networks (default: 32)")


COMMANDS = {  # name: (help, its own options)
    "gradcheck": ("gradcheck of the hand-written Functions and network; manual first-layer gradients", None),
    "inpaint": ("MNIST inpainting with the hand-written layers and hand-written SGD", add_inpaint_args),
    "ablation": ("denoiser with/without biases, two widths, three noise levels", add_ablation_args),
    "wiener": ("Wiener deconvolution, a CNN, and Wiener followed by a CNN", add_wiener_args),
}


def build_parser() -> argparse.ArgumentParser:
    parser = main_parser(__doc__)
    add_common_args(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{gradcheck,inpaint,ablation,wiener}")
    for name, (help_text, add_args) in COMMANDS.items():
        p = sub.add_parser(name, formatter_class=HelpFormatter, help=help_text)
        if add_args is not None:
            add_args(p)
        add_common_args(p, sub_command=True)
    parser.subcommands = sub.choices
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check the arguments (one usage line on a bad one); ``--quick`` shrinks the run."""
    parser = build_parser()
    args = fill_common_defaults(parser.parse_args(argv))
    sub = parser.subcommands[args.command]
    if args.command in ("ablation", "wiener"):
        if args.quick:
            args.steps, args.eval_every, args.batch_size = min(args.steps, 6), 3, 4
            args.patch_size = min(args.patch_size, 24)
        if args.command == "ablation" and args.train_sigma[0] > args.train_sigma[1]:
            sub.error(f"--train-sigma LOW must not exceed HIGH, got {args.train_sigma[0]:g} {args.train_sigma[1]:g}")
        if args.command == "wiener" and args.kernel_size % 2 == 0:
            sub.error(f"--kernel-size must be odd, got {args.kernel_size}")
    if args.command == "inpaint" and args.quick:
        args.epochs, args.hidden, args.val_count = min(args.epochs, 1), [64], 200
    args.name = run_name(args, args.command)
    return args


def device_of(name: str):
    """``--device`` as a torch.device; a device this machine lacks is a RunError (one line)."""
    import torch

    from common.runs import pick_device

    try:
        device = pick_device(name)
    except (ValueError, RuntimeError) as err:
        raise RunError(str(err)) from None
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise RunError(f"--device {name} requested but this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)

    def go() -> None:
        import matplotlib

        matplotlib.use("Agg")
        from common.runs import check_run

        experiment = importlib.import_module(MODULES[args.command])
        check_run(args, experiment.FIXED_ON_RESUME)  # before any data is loaded: nothing is written on a refused run
        device = device_of(args.device)
        print(experiment.run(args, device))

    hint = (
        f"continue with: python {PROG} {args.command} --resume --name {args.name} "
        f"--results-root {args.results_root} (and the same options)"
    )
    run_command(f"{PROG} {args.command}", go, resume_hint=hint)


if __name__ == "__main__":
    main(sys.argv[1:])
