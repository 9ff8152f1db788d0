"""``python main.py summary``: one table of every ad/vad/vae run, and how each VAD compares with the AD and the VAE.

The same rows feed the report notebook and the README (``readme_results.py``), so all
three show the same numbers. Reads JSON only (no torch), so it is quick to import.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from auto_decoder import CLASS_NAMES
from common.cli import RunError

COLUMNS = {  # key -> (header, format)
    "run": ("run", "{}"),
    "train_size": ("train images", "{:,}"),
    "kl": ("KL weight", "{:g}"),
    "epochs": ("epochs (stop)", "{}"),
    "test_codes": ("test codes", "{}"),
    "train_bce": ("train BCE", "{:.4f}"),
    "test_bce": ("test BCE", "{:.4f}"),
    "gap": ("test − train", "{:+.4f}"),
    "train_psnr": ("train PSNR (dB)", "{:.2f}"),
    "test_psnr": ("test PSNR (dB)", "{:.2f}"),
    "fd": ("Fréchet distance", "{:.2f}"),
    "fd_floor": ("FD floor", "{:.2f}"),
    "val_fd": ("val FD", "{:.2f}"),
    "confident": ("confident share", "{:.3f}"),
    "entropy": ("class entropy (bits)", "{:.2f}"),
    "top_class": ("most frequent class of samples", "{}"),
    "latent_std": ("std of train codes", "{:.2f}"),
    "seconds": ("train + test-fit time", "{}"),
}
STOPS = {"plateau": "plateau", "max_epochs": "max", "fixed_epochs": "fixed"}

# The flags of the full-set runs: all 60,000 training images, 2,000 of them held out to stop on the plateau,
# and for the VADs and the VAE the same KL weight (README, "Design choices").
FULL = ["--batch-size", "128", "--subset", "0", "--epochs", "100", "--val-size", "2000"]
KL = ["--kl-weight", "2"]
# The runs the README discusses: run folder -> the command-line arguments that make it.
EXPECTED = {
    "classifier": ["classifier"],
    "ad-n1000": ["ad"],
    "vad-gaussian-n1000": ["vad", "--family", "gaussian"],
    "vad-laplace-n1000": ["vad", "--family", "laplace"],
    "vad-logistic-n1000": ["vad", "--family", "logistic"],
    "ad-full": ["ad", *FULL],
    "vad-gaussian-full": ["vad", "--family", "gaussian", *FULL, *KL],
    "vad-laplace-full": ["vad", "--family", "laplace", *FULL, *KL],
    "vad-logistic-full": ["vad", "--family", "logistic", *FULL, *KL],
    "vae-full": ["vae", *FULL, *KL],
    # The KL weight chosen on the validation images' Frechet distance: the best VAD and the VAE also at weight 4.
    "vad-logistic-full-kl4": [
        "vad",
        "--family",
        "logistic",
        *FULL,
        "--kl-weight",
        "4",
        "--name",
        "vad-logistic-full-kl4",
    ],
    "vae-full-kl4": ["vae", *FULL, "--kl-weight", "4", "--name", "vae-full-kl4"],
}


def missing(name: str) -> str:
    """How to make an expected run that a report does not find."""
    command = " ".join(["python main.py", *EXPECTED[name], "--data-dir DATA"])
    return f"{name} is not there: make it with cd auto_decoder && {command}"


def read_json(path: Path) -> dict:
    with open(path) as f:
        return json.load(f)


def load_runs(root: str | Path) -> dict[str, tuple[dict, dict]]:
    """``name -> (metrics, config)`` of every ad/vad/vae run folder directly under ``root``, sorted by name."""
    runs = {}
    for path in sorted(Path(root).glob("*/metrics.json")):
        metrics = read_json(path)
        if "model" in metrics:
            config_path = path.parent / "config.json"
            runs[path.parent.name] = (metrics, read_json(config_path) if config_path.is_file() else {})
    return runs


def arguments(config: dict) -> dict:
    """The run's arguments (``config.json`` holds them under ``"args"``)."""
    return config["args"]


def row(name: str, metrics: dict, config: dict) -> dict:
    """One table row of a run; missing scores (e.g. of runs made before they existed) are None."""
    args, quality = arguments(config), metrics.get("sample_quality", {})
    histogram = quality.get("class_histogram")
    top = None
    if histogram:
        k = max(range(len(histogram)), key=histogram.__getitem__)
        top = f"{CLASS_NAMES[k]} ({histogram[k]:.0%})"
    epochs = metrics.get("epochs_trained", args.get("epochs", len(metrics.get("history", []))))
    if "stopped" in metrics:
        epochs = f"{epochs} ({STOPS.get(metrics['stopped'], metrics['stopped'])})"
    if metrics["model"] == "vae":
        test_codes = "encoded"
    elif "test_fit" in metrics:
        test_codes = f"{metrics['test_fit']['steps']} steps"
    else:  # older runs fitted the test latents for a number of mini-batch epochs
        test_codes = f"{args.get('test_epochs') or args.get('epochs')} epochs"
    return {
        "run": name,
        "train_size": metrics["train_size"],
        "epochs": epochs,
        "test_codes": f"{test_codes} ({metrics['test_size']:,} images)",
        "train_bce": metrics["train_reconstruction_loss"],
        "test_bce": metrics["test_reconstruction_loss"],
        "gap": metrics["test_minus_train"],
        "train_psnr": metrics.get("train_psnr"),
        "test_psnr": metrics.get("test_psnr"),
        "kl": args.get("kl_weight") if metrics["model"] != "ad" else None,
        "fd": quality.get("frechet_distance"),
        "fd_floor": quality.get("frechet_floor"),
        "val_fd": quality.get("val_frechet_distance"),
        "confident": quality.get("confident_share"),
        "entropy": quality.get("class_entropy_bits"),
        "top_class": top,
        "latent_std": metrics.get("train_latent_std"),
        "seconds": f"{metrics.get('train_seconds', 0):.0f} s + {metrics.get('test_fit_seconds', 0):.0f} s",
    }


def cell(key: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return COLUMNS[key][1].format(value)


def markdown_table(rows: list[dict], keys: list[str] | None = None) -> str:
    """The rows as a Markdown table (tabulate's ``pipe`` format) with the columns' headers and formats."""
    from tabulate import tabulate

    keys = keys or list(COLUMNS)
    cells = [[cell(k, r[k]) for k in keys] for r in rows]
    return tabulate(cells, [COLUMNS[k][0] for k in keys], tablefmt="pipe", disable_numparse=True)


VAE_FD_RATIO = 1.25  # the target: the best VAD's Frechet distance within 25 % of the VAE's


def chosen(runs: dict[str, tuple[dict, dict]], model: str, size: int) -> tuple[str, dict] | None:
    """The scored run of ``model`` (``ad``, ``vae``, ``vad-gaussian`` ...) on ``size`` training images with the lowest
    validation Frechet distance (runs without one count only when none has it; then the first by name)."""
    found = [
        (n, m)
        for n, (m, _) in runs.items()
        if m["model"] == model and m["train_size"] == size and "sample_quality" in m
    ]
    scored = [(n, m) for n, m in found if "val_frechet_distance" in m["sample_quality"]]
    if scored:
        return min(scored, key=lambda nm: nm[1]["sample_quality"]["val_frechet_distance"])
    return found[0] if found else None


def verdicts(runs: dict[str, tuple[dict, dict]]) -> list[str]:
    """For each scored VAD: its Frechet distance (lower is better) and confident share against the
    auto-decoder's, and its Frechet distance as a multiple of the VAE's, each trained on as many images.
    Where several runs of a model differ in a setting (the KL weight), the comparison uses the one with the
    lowest validation Frechet distance (:func:`chosen`), and a last line names the best VAD chosen that way."""
    out = []
    for name, (m, _) in runs.items():
        if not m["model"].startswith("vad") or "sample_quality" not in m:
            continue
        q = m["sample_quality"]
        if ad := chosen(runs, "ad", m["train_size"]):
            ad_name, ad_q = ad[0], ad[1]["sample_quality"]
            if "frechet_distance" in q and "frechet_distance" in ad_q:
                verdict = "beats" if q["frechet_distance"] < ad_q["frechet_distance"] else "does NOT beat"
                out.append(
                    f"`{name}`: Fréchet distance {q['frechet_distance']:.2f} {verdict} `{ad_name}`'s "
                    f"{ad_q['frechet_distance']:.2f} (confident share {q['confident_share']:.3f} vs "
                    f"{ad_q['confident_share']:.3f})"
                )
            else:
                verdict = "beats" if q["confident_share"] > ad_q["confident_share"] else "does NOT beat"
                out.append(
                    f"`{name}`: confident share {q['confident_share']:.3f} {verdict} `{ad_name}`'s "
                    f"{ad_q['confident_share']:.3f}"
                )
        if vae := chosen(runs, "vae", m["train_size"]):
            out.append(f"`{name}`: {vae_ratio(q, *vae)}")
    out += best_vad_lines(runs)
    return out


def vae_ratio(quality: dict, vae_name: str, vae_metrics: dict) -> str:
    """ "Fréchet distance X is R × `vae`'s Y (within / NOT within the target)"."""
    fd, vae_fd = quality["frechet_distance"], vae_metrics["sample_quality"]["frechet_distance"]
    ratio = fd / vae_fd
    return (
        f"Fréchet distance {fd:.2f} is {ratio:.3f} × `{vae_name}`'s {vae_fd:.2f} "
        f"({'within' if ratio <= VAE_FD_RATIO else 'NOT within'} the target {VAE_FD_RATIO:g} ×)"
    )


def best_vad_lines(runs: dict[str, tuple[dict, dict]]) -> list[str]:
    """Per training-set size with validation scores: the VAD run with the lowest validation Frechet distance
    against the VAE chosen the same way; the test images only report the result."""
    out = []
    for size in sorted({m["train_size"] for m, _ in runs.values()}):
        vads = [
            chosen(runs, model, size)
            for model in sorted({m["model"] for m, _ in runs.values() if m["model"].startswith("vad")})
        ]
        vads = [v for v in vads if v and "val_frechet_distance" in v[1]["sample_quality"]]
        vae = chosen(runs, "vae", size)
        if not vads or not vae or "val_frechet_distance" not in vae[1]["sample_quality"]:
            continue
        name, m = min(vads, key=lambda nm: nm[1]["sample_quality"]["val_frechet_distance"])
        q = m["sample_quality"]
        out.append(
            f"**Best VAD on {size:,} images, chosen on validation** (Fréchet distance to the held-out "
            f"training images {q['val_frechet_distance']:.2f}; VAE `{vae[0]}` chosen the same way, "
            f"{vae[1]['sample_quality']['val_frechet_distance']:.2f}): `{name}`, {vae_ratio(q, *vae)}; "
            f"confident share {q['confident_share']:.3f}, class entropy {q['class_entropy_bits']:.2f} bits"
        )
    return out


def run(args: argparse.Namespace) -> None:
    """Print the table of every ad/vad/vae run under --results-root and the verdicts."""
    runs = load_runs(args.results_root)
    if not runs:
        raise RunError(
            f"no ad/vad/vae run folders with metrics.json under {args.results_root}; "
            "make them with `python main.py ad`, `python main.py vad` and `python main.py vae`"
        )
    rows = [row(name, *mc) for name, mc in runs.items()]
    print(markdown_table(rows))
    for line in verdicts(runs):
        print(line.replace("`", ""))
    best = max(rows, key=lambda r: -1 if r["confident"] is None else r["confident"])
    closest = min(rows, key=lambda r: math.inf if r["fd"] is None else r["fd"])
    print(
        f"{args.results_root}: {len(rows)} runs; lowest test BCE {min(r['test_bce'] for r in rows):.4f}, "
        f"lowest Fréchet distance {cell('fd', closest['fd'])} ({closest['run']}), "
        f"highest confident share {cell('confident', best['confident'])} ({best['run']})"
    )
