"""``python main.py summary``: one table of every ad/vad run, and whether each VAD beats the auto-decoder.

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
    "epochs": ("epochs (train / test fit)", "{}"),
    "train_bce": ("train BCE", "{:.4f}"),
    "test_bce": ("test BCE", "{:.4f}"),
    "gap": ("test − train", "{:+.4f}"),
    "confident": ("confident share of prior samples", "{:.3f}"),
    "entropy": ("class entropy (bits)", "{:.2f}"),
    "top_class": ("most frequent class of samples", "{}"),
    "latent_std": ("std of train latents", "{:.2f}"),
    "seconds": ("train + test-fit time", "{}"),
}


def read_json(path: Path) -> dict:
    with open(path) as f:
        return json.load(f)


def load_runs(root: str | Path) -> dict[str, tuple[dict, dict]]:
    """``name -> (metrics, config)`` of every ad/vad run folder directly under ``root``, sorted by name."""
    runs = {}
    for path in sorted(Path(root).glob("*/metrics.json")):
        metrics = read_json(path)
        if "model" in metrics:
            config_path = path.parent / "config.json"
            runs[path.parent.name] = (metrics, read_json(config_path) if config_path.is_file() else {})
    return runs


def arguments(config: dict) -> dict:
    """The run's arguments: under ``"args"`` (current runs) or at the top level (runs of older code)."""
    return config.get("args", config)


def row(name: str, metrics: dict, config: dict) -> dict:
    """One table row of a run; missing scores are None."""
    args, quality = arguments(config), metrics.get("sample_quality", {})
    histogram = quality.get("class_histogram")
    top = None
    if histogram:
        k = max(range(len(histogram)), key=histogram.__getitem__)
        top = f"{CLASS_NAMES[k]} ({histogram[k]:.0%})"
    epochs = args.get("epochs", len(metrics.get("history", [])))
    return {
        "run": name,
        "train_size": metrics["train_size"],
        "epochs": f"{epochs} / {args.get('test_epochs') or epochs}",
        "train_bce": metrics["train_reconstruction_loss"],
        "test_bce": metrics["test_reconstruction_loss"],
        "gap": metrics["test_minus_train"],
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
    keys = keys or list(COLUMNS)
    lines = ["| " + " | ".join(COLUMNS[k][0] for k in keys) + " |", "|" + " --- |" * len(keys)]
    lines += ["| " + " | ".join(cell(k, r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def verdicts(runs: dict[str, tuple[dict, dict]]) -> list[str]:
    """For each scored VAD: its confident share against the auto-decoder trained on as many images."""
    out = []
    for name, (m, _) in runs.items():
        ads = [(n, a) for n, (a, _) in runs.items() if a["model"] == "ad" and a["train_size"] == m["train_size"]
               and "sample_quality" in a]
        if m["model"] != "ad" and ads and "sample_quality" in m:
            ad_name, ad = ads[0]
            share, ad_share = m["sample_quality"]["confident_share"], ad["sample_quality"]["confident_share"]
            verdict = "beats" if share > ad_share else "does NOT beat"
            out.append(f"`{name}`: confident share {share:.3f} {verdict} `{ad_name}`'s {ad_share:.3f}")
    return out


def run(args: argparse.Namespace) -> None:
    """Print the table of every ad/vad run under --results-root and the VAD-vs-AD verdicts."""
    runs = load_runs(args.results_root)
    if not runs:
        raise RunError(f"no ad/vad run folders with metrics.json under {args.results_root}; "
                       "make them with `python main.py ad` and `python main.py vad`")
    rows = [row(name, *mc) for name, mc in runs.items()]
    print(markdown_table(rows))
    for line in verdicts(runs):
        print(line.replace("`", ""))
    best = max(rows, key=lambda r: -1 if r["confident"] is None else r["confident"])
    print(f"{args.results_root}: {len(rows)} runs; lowest test BCE {min(r['test_bce'] for r in rows):.4f}, "
          f"highest confident share {cell('confident', best['confident'])} ({best['run']})")
