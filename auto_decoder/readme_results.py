"""The result blocks of ``auto_decoder/README.md``, rendered from the published runs in ``results/auto_decoder``.

    python -m common.readme --write auto_decoder     # fills the README's <!-- results:... --> blocks

Blocks: ``classifier`` (the scoring classifier's accuracy, its score on real images and the
Fréchet floor), ``runs`` (the table of ``python main.py summary`` with the command of each
run) and ``verdicts`` (each VAD against the auto-decoder and the VAE). A run that is not
published renders as a line giving the command that makes it and the publish step.
"""

from __future__ import annotations

from pathlib import Path

from auto_decoder import summary
from auto_decoder.main import build_parser
from common.cli import fill_common_defaults

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
    "vad-logistic-full-kl4": ["vad", "--family", "logistic", *FULL, "--kl-weight", "4", "--name", "vad-logistic-full-kl4"],
    "vae-full-kl4": ["vae", *FULL, "--kl-weight", "4", "--name", "vae-full-kl4"],
}
# Flags that do not change the numbers (or are machine-specific); --data-dir is always shown as DATA.
NOT_SHOWN = {"command", "data_dir", "download", "results_root", "name", "resume", "overwrite", "device", "classifier"}
QUICK_SETS = {"subset", "epochs", "test_steps", "tsne_points", "samples"}


def command_line(config: dict) -> str:
    """The ``python main.py ...`` command that made a run, from its ``config.json`` (flags that differ from the defaults)."""
    args = summary.arguments(config)
    command = config.get("command") or args.get("command")
    defaults = vars(fill_common_defaults(build_parser().parse_args([command])))
    parts = ["python main.py", command]
    if command == "vad":
        parts += ["--family", args.get("family", defaults["family"])]
    for key, default in defaults.items():
        value = args.get(key, default)
        if key in NOT_SHOWN or key == "family" or value == default or (args.get("quick") and key in QUICK_SETS):
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag)
        else:
            parts += [flag, " ".join(map(str, value)) if isinstance(value, list) else str(value)]
    if args.get("name"):  # a run folder other than the default one (e.g. another KL weight)
        parts += ["--name", args["name"]]
    return " ".join([*parts, "--data-dir DATA"])


def missing(name: str) -> str:
    """The line shown for an expected run that is not published."""
    cmd = " ".join(["python main.py", *EXPECTED[name], "--data-dir DATA"])
    return (f"`{name}` is not published yet: make it with `cd auto_decoder && {cmd}`, "
            f"then, from the repository root, `python -m common.publish auto_decoder/runs/{name}`.")


def classifier_block(results: Path) -> str:
    run = results / "classifier"
    if not (run / "metrics.json").is_file():
        return missing("classifier")
    m, config = summary.read_json(run / "metrics.json"), summary.read_json(run / "config.json")
    real, args = m["real_test_images"], summary.arguments(config)
    train_size = m.get("train_size") or config.get("dataset", {}).get("train_size")
    chosen = (f", {m['val_size']:,} more held out to choose the epoch: epoch {m['best_epoch']}" if "best_epoch" in m else "")
    text = (f"`{command_line(config)}` ({m['epochs']} epochs on {train_size:,} training images{chosen}; "
            f"{m['train_seconds']:.0f} s on {config.get('device', args.get('device'))}): test accuracy "
            f"**{m['test_accuracy']:.3f}**. On the {config['dataset']['test_size']:,} real test images, "
            f"{real['confident_share']:.3f} of the predictions have confidence >= 0.9, and the entropy of the "
            f"predicted classes is {real['class_entropy_bits']:.2f} bits. That is the ceiling for the sample scores below.")
    if "frechet_floor" in m:
        text += (f" The Fréchet distance between {m['frechet_floor_images']:,} real training images and the test "
                 f"images, in this classifier's feature space, is **{m['frechet_floor']:.2f}**: the floor for the "
                 "Fréchet distances below.")
    return text


def runs_block(results: Path) -> str:
    runs = summary.load_runs(results)
    lines = []
    if runs:
        lines.append(summary.markdown_table([summary.row(name, *mc) for name, mc in runs.items()]))
        lines.append("")
        for name, (_, config) in runs.items():
            args = summary.arguments(config)
            lines.append(f"* `{name}`: `{command_line(config)}` (seed {args.get('seed', 0)}, "
                         f"{config.get('device', args.get('device'))}, {config.get('dataset', {}).get('train_size', '?'):,} "
                         "training images)")
    lines += [f"* {missing(name)}" for name in EXPECTED if name != "classifier" and name not in runs]
    return "\n".join(lines)


def verdicts_block(results: Path) -> str:
    found = summary.verdicts(summary.load_runs(results))
    if not found:
        return "No published variational auto-decoder run has an auto-decoder or VAE run (with scores) to compare with yet."
    return "\n".join(f"* {line}" for line in found)


def render_blocks(results: Path) -> dict[str, str]:
    """``{block name: Markdown}`` for the README, from the run folders under ``results``."""
    results = Path(results)
    return {"classifier": classifier_block(results), "runs": runs_block(results), "verdicts": verdicts_block(results)}
