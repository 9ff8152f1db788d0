"""The library behind ``python evaluate.py RUN_DIR --data-dir X``: a finished run's best checkpoint
scored on other data (``evaluate.py`` is only the command line; ``cs_scoring.py`` does the same for
``--cs tv``, the classical baseline, and ``sweep.py --score-on`` calls :func:`score_run` per case).

``score_run(args)`` loads the run (its config and ``best.pt``), rebuilds its model, makes the
data's split as ``main.py`` would with the run's seed and resolution, and writes
``RUN_DIR/eval_<name>/``. Nothing is trained; the run's own files are not touched.
"""

from __future__ import annotations

import argparse
import json
import pickle
import shlex
import shutil
import time
from pathlib import Path

import torch
from torch.utils.data import ConcatDataset, DataLoader

from common.cli import RunError
from common.runs import check_run_dir, load_checkpoint, load_json, pick_device, save_json
from mri_cs import utils
from mri_cs.data.mni152 import LAYOUT as MNI152_LAYOUT
from mri_cs.main import check_run_args
from mri_cs.train import acquired, build_model, load_data


def load_run(run_dir: Path, device: torch.device) -> tuple[torch.nn.Module, argparse.Namespace, dict, dict]:
    """``(model with the best weights and mask, the run's arguments, its config, its checkpoint)``."""
    config_path, best = run_dir / "config.json", run_dir / "best.pt"
    if not config_path.is_file():
        raise RunError(f"{run_dir} has no config.json; is it a main.py run folder?")
    if not best.is_file():
        raise RunError(
            f"{run_dir} has no best.pt (a published copy under results/ carries no checkpoint; "
            f"score the run folder that trained it)"
        )
    try:
        config = load_json(config_path)
        run_args = check_run_args(config["args"])
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as e:
        raise RunError(f"{config_path} is not a valid main.py config ({e})") from None
    try:
        model = build_model(run_args, device)
        ckpt = load_checkpoint(best, device)
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, pickle.UnpicklingError, EOFError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else e.__class__.__name__
        raise RunError(f"{best} does not load into the run's {run_args.model} model ({first})") from None
    model.eval()
    return model, run_args, config, ckpt


def split_data(data_dir: str | None, run_args: argparse.Namespace, split: str):
    """The chosen split of ``data_dir`` made and acquired as the run's ``main.py`` would (seed, resolution,
    --quick subset, acquisition and its seeded draws)."""
    data_args = argparse.Namespace(**{**vars(run_args), "data_dir": data_dir})
    datasets, info = load_data(data_args)
    datasets = acquired(datasets, data_args)
    dataset = datasets[split] if split in datasets else ConcatDataset([datasets[k] for k in ("train", "val", "test")])
    return dataset, info


def scores(model: torch.nn.Module, dataset, device: torch.device, batch_size: int) -> dict:
    """PSNR/SSIM (mean, std) per slice of the reconstructions and of the zero-filled images of the model's own
    mask, and per volume (``psnr_volume``, ``zero_filled_psnr_volume``) where the data names its volumes."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    per_slice = utils.evaluate(model, loader, device, with_ssim=True, desc="scoring")
    out = {k: utils.summarize(v) for k, v in per_slice.items()}  # psnr, ssim, zero_filled_psnr, zero_filled_ssim
    out["gain_db"] = out["psnr"]["mean"] - out["zero_filled_psnr"]["mean"]
    out["n_slices"] = len(dataset)
    if "psnr_volume" in per_slice:  # fastMRI's per-volume PSNR, where the data names its volumes
        out["n_volumes"] = len(per_slice["psnr_volume"])
    return out


def command_line(args: argparse.Namespace) -> str:
    words = ["python", "evaluate.py", Path(args.run_dir).name]
    if args.data_dir is not None:
        words += ["--data-dir", args.data_dir]
    return shlex.join(words + ["--split", args.split])


def record(args, run_dir: Path, loaded: tuple, info: dict, result: dict, device: torch.device) -> dict:
    """The eval's ``metrics.json``: what was trained on, what it was tested on, the scores; ``loaded`` is what
    :func:`load_run` returned."""
    model, run_args, config, ckpt = loaded
    mask = model.subsample.hard_mask().cpu().numpy()
    trained = config.get("data", {})
    default_layout = MNI152_LAYOUT if trained.get("dataset", "").startswith("MNI152") else "?"
    run_metrics = load_json(run_dir / "metrics.json") if (run_dir / "metrics.json").is_file() else {}
    return {
        "run": run_dir.name,
        "command": command_line(args),
        "checkpoint_epoch": ckpt.get("epoch"),
        "trained_on": {
            "dataset": trained.get("dataset", "?"),
            "layout": trained.get("layout", default_layout),
            "source": trained.get("source", "?"),
        },
        "tested_on": {
            "dataset": info["dataset"],
            "layout": info.get("layout", "?"),
            "source": info.get("source", "?"),
            "split": args.split,
            "sizes": info.get("sizes"),
            "data": info,
        },
        "model": run_args.model,
        "drop_rate": run_args.drop_rate,
        "learn_mask": run_args.learn_mask,
        "resolution": run_args.resolution,
        "keep_fraction": float(mask.mean()),
        "keep_in_center": utils.center_keep_fraction(mask),
        **result,
        "run_test_psnr": run_metrics.get("test_psnr"),
        "run_zero_filled_test_psnr": run_metrics.get("zero_filled_test_psnr"),
        "device": str(device),
    }


def evaluation_folder(run_dir: Path, folder: str, args: argparse.Namespace) -> tuple[Path, torch.device]:
    """``run_dir/folder`` for a new evaluation and the device, both checked before anything is loaded: the
    folder must be writable and empty unless ``args.overwrite``. Raises :class:`RunError`."""
    out_dir = check_run_dir(run_dir, folder, overwrite=True)
    if out_dir.is_dir() and any(out_dir.iterdir()) and not args.overwrite:
        raise RunError(f"{out_dir} already holds an evaluation; add --overwrite to replace it or choose another --name")
    try:
        return out_dir, pick_device(args.device)
    except ValueError as e:
        raise RunError(str(e)) from None


def score_run(args: argparse.Namespace, data: tuple | None = None) -> dict:
    """Score the run in ``args.run_dir`` on ``args.data_dir``'s split; write ``eval_<name>/``; return the metrics.

    ``data``: that split as :func:`split_data` returns it, when the caller already loaded it (the sweep does,
    once for all its cases); it must have been made with the run's seed and resolution."""
    run_dir = Path(args.run_dir)
    out_dir, device = evaluation_folder(run_dir, f"eval_{args.name}", args)
    t0 = time.time()
    loaded = load_run(run_dir, device)
    model, run_args = loaded[:2]
    dataset, info = data or split_data(args.data_dir, run_args, args.split)
    print(
        f"data: {info['dataset']}, {args.split} split: {len(dataset)} slices at "
        f"{run_args.resolution}x{run_args.resolution}; device {device}"
    )
    result = scores(model, dataset, device, args.batch_size)
    metrics = record(args, run_dir, loaded, info, result, device)
    metrics["wall_time_s"] = time.time() - t0
    created = not out_dir.exists()
    out_dir.mkdir(exist_ok=True)
    try:
        (target, zero_filled, recon), psnrs = utils.example_images(model, dataset, device)
        utils.save_examples_figure(target, zero_filled, recon, out_dir / "examples.png", psnrs)
        save_json(out_dir / "metrics.json", metrics)  # last: an eval folder with metrics.json is finished
    except BaseException:  # a failed write (a full disk) leaves no half evaluation behind
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    print(
        f"trained on {metrics['trained_on']['dataset']} -> tested on {info['dataset']} ({args.split} split, "
        f"{len(dataset)} slices): PSNR {result['psnr']['mean']:.2f} "
        f"(zero-filled {result['zero_filled_psnr']['mean']:.2f}): "
        f"{result['gain_db']:+.2f} dB -> {out_dir}"
    )
    return metrics
