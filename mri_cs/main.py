"""MRI compressed sensing: reconstruct images from subsampled k-space, with a fixed or a learned mask.

    python main.py --drop-rate 0.3 --learn-mask      # the default run (its time: the README)
    python main.py --drop-rate 0.5 --model cascade   # the unrolled network, fixed mask
    python main.py --acquisition ideal               # the course's original noiseless, real-valued k-space
    python main.py --quick                           # smoke run in seconds

k-space is acquired as a scanner gives it (``data/acquisition.py``: a smooth random phase and complex noise,
``--noise-sigma``; the clean magnitude is the reference). A fraction ``--drop-rate`` of the samples is dropped
by the model's ``subsample`` layer, the network reconstructs the magnitude image. The experiment itself (data,
the training loop, evaluation, outputs) is in ``train.py``; this file is the argument parser and the dispatch,
and imports torch only once a run starts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.cli import (
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
from mri_cs.models.masks import CARTESIAN, FAMILIES, cartesian_lines, course_family  # torch-free

MODELS = ("unet", "cascade", "vanilla")
WIDTHS = {"unet": 16, "cascade": 32, "vanilla": 0}
ACQUISITIONS = ("realistic", "ideal")  # data/acquisition.py KINDS
DEFAULT_SIGMA = 0.0125  # data/acquisition.py DEFAULT_SIGMA
LOSSES = ("psnr", "mse", "l1")
AUGMENT_KINDS = ("head", "flip", "affine", "intensity", "noise")  # augment.py implements them, in this order
# Plus head on the template, whose brains are skull-stripped. The ideal acquisition keeps the course's original
# recipe (image noise on the training targets, L1 loss) so that it reproduces the published runs.
DEFAULT_AUGMENT = {"realistic": ("flip", "affine", "intensity"), "ideal": ("flip", "affine", "intensity", "noise")}
DEFAULT_LOSS = {"realistic": "psnr", "ideal": "l1"}
PROG = "main.py"
DATA_LAYOUTS = (
    "fastMRI single-coil .h5 files (singlecoil_train/, singlecoil_val/), numbered grey images "
    "(N.png or images/N.png; PNG, TIFF, JPEG; many patients, split by contiguous blocks of files) "
    "or NIfTI volumes (*.nii, *.nii.gz)"
)


def add_mask_args(p: argparse.ArgumentParser) -> None:
    """The drop rate, the mask family and how a learned mask learns."""
    p.add_argument(
        "--drop-rate", type=fraction, default=0.3, help="fraction of k-space samples dropped, in [0, 1) (default: 0.3)"
    )
    p.add_argument(
        "--learn-mask",
        action="store_true",
        help="learn the mask jointly with the network (default: a fixed random mask)",
    )
    p.add_argument(
        "--mask",
        choices=FAMILIES,
        default=None,
        help="the mask family, fixed or a learned mask's start (models/masks.py): uniform random, "
        "variable-density random (dense centre), or whole phase-encode lines (columns) with a fully "
        "sampled central band, the others random or equispaced (default: uniform for a fixed mask, "
        "variable-density for --learn-mask: the course's two scenarios)",
    )
    p.add_argument(
        "--centre-fraction",
        type=fraction,
        default=None,
        help="Cartesian masks: the fraction of all lines in the fully sampled central band (default: "
        "0.32 x (1 - drop rate), fastMRI's 0.08 at 4x and 0.04 at 8x)",
    )
    p.add_argument(
        "--mask-lr",
        type=non_negative_float,
        default=0.03,
        help="largest change of a mask score in one mask_grad step, annealed to 0 when the mask freezes "
        "(default: 0.03)",
    )
    p.add_argument(
        "--mask-freeze",
        type=fraction,
        default=1 / 3,
        help="fraction of the epochs, at the end, in which a learned mask stays fixed and only the network "
        "trains (default: a third)",
    )


def add_training_args(p: argparse.ArgumentParser) -> None:
    """The schedule and the data."""
    p.add_argument(
        "--lr",
        type=positive_float,
        default=2e-3,
        help="Adam learning rate of the network, cosine-annealed (default: 0.002)",
    )
    p.add_argument(
        "--epochs", type=positive_int, default=25, help="training epochs; at most 2 with --quick (default: 25)"
    )
    p.add_argument("--batch-size", type=positive_int, default=8, help="slices per training step (default: 8)")
    p.add_argument(
        "--train-slices",
        type=positive_int,
        default=None,
        help="train on this many slices spread evenly over the training split, a shorter epoch on a slow "
        "machine (default: all)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help=f"a folder in one of three layouts: {DATA_LAYOUTS} "
        "(default: the MNI152 template shipped inside nilearn, no download)",
    )
    p.add_argument("--resolution", type=positive_int, default=128, help="images are resampled to R x R (default: 128)")


def add_model_args(p: argparse.ArgumentParser) -> None:
    """The reconstruction network."""
    p.add_argument(
        "--model",
        choices=MODELS,
        default="unet",
        help="unet: residual U-Net with data consistency (models/model.py); cascade: unrolled CNNs with soft "
        "data consistency after every stage (models/cascade.py); vanilla: one 3x3 conv (default: unet)",
    )
    p.add_argument(
        "--width",
        type=positive_int,
        default=None,
        help="channels of the U-Net's first level, or of every cascade CNN (default: 16 unet, 32 cascade)",
    )
    p.add_argument("--stages", type=positive_int, default=5, help="cascade stages (default: 5)")


def add_acquisition_args(p: argparse.ArgumentParser) -> None:
    """How k-space is acquired, the loss, the variable-density prior and the augmentation."""
    p.add_argument(
        "--acquisition",
        choices=ACQUISITIONS,
        default="realistic",
        help="realistic: a smooth random phase and complex Gaussian noise on k-space, as a scanner gives it; "
        "ideal: the FFT of the real, noiseless magnitude image, where projection methods recover the image "
        "almost exactly (default: realistic)",
    )
    p.add_argument(
        "--noise-sigma",
        type=positive_float,
        default=None,
        help=f"realistic acquisition: noise per component of orthonormal k-space, images scaled to a maximum of 1 "
        f"(default: {DEFAULT_SIGMA:g}, a fully sampled PSNR of about 37-38 dB)",
    )
    p.add_argument(
        "--loss",
        choices=LOSSES,
        default=None,
        help="psnr: the mean over slices of 10 log10(MSE), the reported metric; mse; l1 "
        "(default: psnr, l1 with --acquisition ideal)",
    )
    p.add_argument(
        "--vd-weight",
        type=fraction,
        default=None,
        help="the variable-density mask's share of the centre-first prior, 0 uniform ... 1 a full disc (default: 0.5)",
    )
    p.add_argument(
        "--augment",
        nargs="+",
        choices=AUGMENT_KINDS + ("none",),
        default=None,
        metavar="KIND",
        help="changes drawn for every training image (validation and test never): flip (flips, 90-degree "
        "rotations), affine (small rotation, zoom, shift), intensity (gamma, bias field), noise, head "
        "(a synthetic scalp and skull around skull-stripped brains such as the template); none for "
        f"the plain images (default: {' '.join(DEFAULT_AUGMENT['realistic'])}, plus noise with "
        "--acquisition ideal, plus head without --data-dir)",
    )
    p.add_argument(
        "--num-workers",
        type=non_negative_int,
        default=0,
        help="DataLoader workers; 0 suits the in-memory MNI152 data (default: 0)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = main_parser(__doc__)
    for add in (add_mask_args, add_training_args, add_model_args, add_acquisition_args, add_common_args):
        add(p)
    return p


def default_name(args: argparse.Namespace) -> str:
    """``<model>_drop<rate>_<fixed|learned>``, e.g. ``unet_drop0.3_learned``, plus ``_<mask family>`` for a family
    other than the scenario's own (``unet_drop0.3_fixed_cartesian-random``) and ``_cf<fraction>`` for a chosen
    ``--centre-fraction``."""
    name = f"{args.model}_drop{args.drop_rate:g}_{'learned' if args.learn_mask else 'fixed'}"
    if args.mask != course_family(args.learn_mask):
        name += f"_{args.mask}"
    if args.vd_weight is not None:
        name += f"_vd{args.vd_weight:g}"
    if args.acquisition == "ideal":
        name += "_ideal"
    return name + (f"_cf{args.centre_fraction:g}" if args.centre_fraction is not None else "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check everything that needs no data; ``args.name`` is the run folder's name."""
    parser = build_parser()
    args = fill_common_defaults(parser.parse_args(argv))
    if args.quick:  # 32x32 images, <= 2 epochs, 16/8/8 slices, a tiny network
        args.resolution, args.epochs, args.width, args.batch_size = 32, min(args.epochs, 2), 8, 4
    if args.resolution < 16 or args.resolution % 8:
        parser.error(
            f"--resolution must be a multiple of 8 and at least 16 (the U-Net pools 3 times), got {args.resolution}"
        )
    check_acquisition(parser, args)
    args.width = args.width or WIDTHS[args.model]
    args.loss = args.loss or DEFAULT_LOSS[args.acquisition]
    if args.augment is None:  # the offline template is skull-stripped; real scans (--data-dir) show the whole head
        args.augment = list(DEFAULT_AUGMENT[args.acquisition]) + (["head"] if args.data_dir is None else [])
    if "none" in args.augment and len(args.augment) > 1:
        parser.error(f"--augment none cannot be combined with {' '.join(a for a in args.augment if a != 'none')}")
    args.augment = [k for k in AUGMENT_KINDS if k in args.augment]  # canonical order, no repeats; [] for none
    args.mask = args.mask or course_family(args.learn_mask)
    if args.vd_weight is not None and args.mask != "variable-density":
        parser.error(f"--vd-weight applies to the variable-density mask only, not to --mask {args.mask}")
    if args.centre_fraction is not None and args.mask not in CARTESIAN:
        parser.error(f"--centre-fraction applies to the Cartesian masks only, not to --mask {args.mask}")
    if args.mask in CARTESIAN:
        try:
            cartesian_lines(args.resolution, args.drop_rate, args.centre_fraction)
        except ValueError as e:
            parser.error(f"--mask {args.mask}: {e}")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a folder; expected {DATA_LAYOUTS}")
    args.name = run_name(args, default_name(args))
    return args


def check_acquisition(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill ``--noise-sigma`` (0 for the ideal acquisition; ``positive_float`` refuses 0, negative and non-finite
    levels for the realistic one) and refuse a level given with the ideal acquisition."""
    if args.acquisition == "ideal":
        if args.noise_sigma is not None:
            parser.error("--noise-sigma applies to --acquisition realistic; the ideal acquisition is noiseless")
        args.noise_sigma = 0.0
    elif args.noise_sigma is None:
        args.noise_sigma = DEFAULT_SIGMA


# The run arguments that rebuild a run's model and data: what evaluate.py reads from a run folder's config.json.
RUN_KEYS = (
    "drop_rate",
    "learn_mask",
    "mask",
    "centre_fraction",
    "vd_weight",
    "model",
    "width",
    "stages",
    "resolution",
    "seed",
    "quick",
    "data_dir",
    "acquisition",
    "noise_sigma",
)


def check_run_args(values: dict) -> argparse.Namespace:
    """The run arguments of a ``config.json`` (``RUN_KEYS``), each checked as ``main.py`` checks its flag: present,
    of the flag's type and in its range or choices. Raises ``ValueError`` naming the first bad key."""
    actions = {a.dest: a for a in build_parser()._actions}
    for key in RUN_KEYS:
        if key not in values:
            raise ValueError(f"the key {key!r} is missing")
        value, action = values[key], actions[key]
        if key == "noise_sigma" and values.get("acquisition") == "ideal" and value == 0:
            continue  # the ideal acquisition records its zero noise
        if value is None and action.default is None and key not in ("width", "noise_sigma"):
            continue  # an option left at its default
        if action.const is True or key == "quick":
            ok = isinstance(value, bool)
        elif action.type is None and action.choices is None:
            ok = isinstance(value, str)
        elif action.choices is not None:
            ok = value in action.choices
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            try:
                ok = ok and action.type(str(value)) == value
            except (argparse.ArgumentTypeError, ValueError):
                ok = False
        if not ok:
            raise ValueError(f"{key}: {value!r} is not a valid value of {action.option_strings[0]}")
    return argparse.Namespace(**values)


def resume_hint(args: argparse.Namespace) -> str:
    return f"continue with the same command plus --resume (run folder {Path(args.results_root) / args.name})"


def main(argv: list[str] | None = None) -> dict:
    """Parse, then train and evaluate one run (``train.run``); return its metrics."""
    args = parse_args(argv)

    def go() -> dict:
        from mri_cs import train  # torch, matplotlib and the data loaders load only now

        return train.run(args)

    return run_command(PROG, go, resume_hint=resume_hint(args))


if __name__ == "__main__":
    main()
    sys.exit(0)
