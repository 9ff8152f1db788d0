"""Score a finished run on other data without retraining: trained on A -> tested on B.

    python evaluate.py runs/unet_drop0.3_learned --data-dir ~/data/brain_tumor        # its test split
    python evaluate.py runs/unet_drop0.3_learned --data-dir ~/data/brain_tumor --split all
    python evaluate.py runs/unet_drop0.3_learned        # the offline default: the MNI152 template's test split
    python evaluate.py runs/unet_drop0.3_learned --cs tv   # the classical TV baseline on the run's mask

Loads the run's ``config.json`` and ``best.pt`` (weights only; the mask, learned or fixed,
is part of the state dict), builds the same model, and scores it on a split of ``--data-dir``
(any layout ``main.py`` accepts). The split is made exactly as ``main.py`` makes it, with the
run's ``--seed`` and ``--resolution`` (and ``--quick``'s subset for a quick run), so scoring a
run on its own data gives back the test numbers the run reported. Reported: PSNR and SSIM
(mean ± std over slices) of the reconstructions and of the zero-filled images of the same
mask. Writes ``RUN_DIR/eval_<name>/metrics.json`` and ``examples.png`` (three slices),
atomically; ``python -m common.publish RUN_DIR`` publishes them with the run. ``--cs tv`` (or
``wavelet``) instead reconstructs with total variation (or L1-wavelet) on the run's mask (``cs.py``; its
weight chosen on the validation split) and writes ``RUN_DIR/cs_<method>_<name>/`` (``cs_scoring.py``).
A ``config.json`` whose run arguments are missing, of the wrong type or out of range is refused in one line.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from common.cli import OneLineParser, RunError, device_name, folder_name, positive_int, run_command

PROG = "evaluate.py"
SPLITS = ("test", "val", "all")
CS_METHODS = ("tv", "wavelet")  # cs.py METHODS


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished main.py run folder (holding config.json and best.pt)")
    p.add_argument(
        "--data-dir",
        default=None,
        help="data to score on, in any layout main.py accepts (default: the MNI152 template, no download)",
    )
    p.add_argument(
        "--split",
        choices=SPLITS,
        default="test",
        help="test: the data's test split; val: its validation split (to compare training choices "
        "without touching the test split); all: train, validation and test together (the split's "
        "guard files excepted) (default: test)",
    )
    p.add_argument(
        "--name",
        type=folder_name,
        default=None,
        help="results go to RUN_DIR/eval_<name> (default: the data folder's name and the split, e.g. "
        "brain_tumor_images_test; mni152_test without --data-dir)",
    )
    p.add_argument(
        "--device",
        type=device_name,
        default="auto",
        help="auto (CUDA when available, else CPU), cpu, cuda, cuda:N or mps (default: auto)",
    )
    p.add_argument("--batch-size", type=positive_int, default=16, help="slices per forward pass (default: 16)")
    p.add_argument(
        "--cs",
        choices=CS_METHODS,
        default=None,
        help="instead of the network: the classical compressed-sensing reconstruction on the run's mask, "
        "tv (complex total variation) or wavelet (L1 on Daubechies-4 wavelets), run to convergence, its "
        "weight chosen on the validation split, written to RUN_DIR/cs_<method>_<name> (default: none)",
    )
    p.add_argument(
        "--cs-slices",
        type=positive_int,
        default=16,
        help="--cs: slices of the split scored, spread evenly over it and recorded (default: 16)",
    )
    p.add_argument(
        "--cs-val-slices",
        type=positive_int,
        default=4,
        help="--cs: validation slices the weight is chosen on (default: 4)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing RUN_DIR/eval_<name> (cs_tv_<name> with --cs) instead of stopping",
    )
    return p


def slug(data_dir: str | None, split: str) -> str:
    """Default ``--name``: the data folder's name (with its parent's when it is a generic ``images``/``data``)
    and the split."""
    if data_dir is None:
        return f"mni152_{split}"
    path = Path(data_dir).expanduser().resolve()
    parts = (
        [path.parent.name, path.name] if path.name.lower() in ("images", "data", "volumes", "nifti") else [path.name]
    )
    return re.sub(r"[^A-Za-z0-9.-]+", "_", "_".join(p for p in parts if p)).strip("_.").lower() + f"_{split}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.name = args.name or slug(args.data_dir, args.split)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", args.name):
        parser.error(f"--name {args.name!r}: use letters, digits, '.', '_' and '-' only")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Parse, then score the run (``score_run``); return the metrics written to ``eval_<name>/metrics.json``."""
    args = parse_args(argv)

    def go() -> dict:
        if not Path(args.run_dir).is_dir():
            raise RunError(f"{args.run_dir} is not a run folder")
        if args.cs is not None:
            from mri_cs.cs_scoring import score_cs  # torch and the data loaders load only now

            return score_cs(args)
        from mri_cs.scoring import score_run  # torch and the data loaders load only now

        return score_run(args)

    return run_command(PROG, go)


if __name__ == "__main__":
    main()
    sys.exit(0)
