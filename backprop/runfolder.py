"""The run folder of a command: which arguments a ``--resume`` must repeat, and ``config.json``."""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from common.runs import check_run_dir, run_folder

# Arguments that may differ between a run and its --resume; every other one must be the same.
FREE_ON_RESUME = ("device", "results_root", "name", "resume", "overwrite", "run_name", "download")


def run_args(args: argparse.Namespace) -> dict:
    """The arguments as config.json stores them under ``"args"``."""
    return {k: v for k, v in vars(args).items() if k not in ("run_name",)}


def fixed_on_resume(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(k for k in run_args(args) if k not in FREE_ON_RESUME)


def check_run(args: argparse.Namespace) -> Path:
    """Validate the run folder before any data is loaded (raises common.cli.RunError); writes nothing."""
    return check_run_dir(args.results_root, args.run_name, resume=args.resume, overwrite=args.overwrite,
                         args=run_args(args), fixed_on_resume=fixed_on_resume(args))


@contextmanager
def open_run(args: argparse.Namespace, dataset: dict, device: torch.device) -> Iterator[Path]:
    """Create (or reopen, with --resume) the run folder once the data is loaded; writes config.json."""
    config = {"args": run_args(args), "dataset": dataset, "device": str(device), "torch": torch.__version__,
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    with run_folder(args.results_root, args.run_name, config, resume=args.resume, overwrite=args.overwrite,
                    fixed_on_resume=fixed_on_resume(args)) as run_dir:
        yield run_dir
