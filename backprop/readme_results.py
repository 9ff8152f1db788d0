"""The README's result blocks, rendered from the published runs in ``results/backprop/``.

    python -m common.readme --write backprop     # fills the <!-- results:begin NAME --> blocks

Each block shows the command that made its run, the numbers (tables) and the comparisons the
README's prose relies on, computed here so that no number is typed by hand. A run that has not
been published renders as a line saying how to make and publish it.
"""

from __future__ import annotations

import json
from pathlib import Path

# The runs the README cites: block name -> (run folder name, the command that makes it).
RUNS = {
    "gradcheck": ("gradcheck", "python main.py gradcheck"),
    "inpaint": ("inpaint", "python main.py inpaint --data-dir <data>"),
    "ablation": ("ablation", "python main.py ablation --data-dir <data>/images/Train400 --test-dir <data>/images/BSD68"),
    "wiener": ("wiener", "python main.py wiener --data-dir <data>/images/Train400 --test-dir <data>/images/Set12"),
}
# Arguments that do not change what a run computes, left out of the rendered command.
NOT_SHOWN = {"command", "results_root", "device", "resume", "overwrite", "run_name", "func"}
# What --quick sets by itself (main.parse), also left out of a quick run's command.
SET_BY_QUICK = {"inpaint": {"epochs", "hidden", "val_count"},
                "ablation": {"steps", "eval_every", "batch_size", "patch_size"},
                "wiener": {"steps", "eval_every", "batch_size", "patch_size"}}


def _load(folder: Path) -> tuple[dict, dict, dict] | None:
    """(args, config, metrics) of a published run, or None; old configs kept the arguments at the top level."""
    if not (folder / "metrics.json").is_file() or not (folder / "config.json").is_file():
        return None
    config = json.loads((folder / "config.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    return config.get("args", config), config, metrics


def _defaults(command: str) -> dict:
    from backprop.main import build_parser
    from common.cli import fill_common_defaults

    return vars(fill_common_defaults(build_parser().parse_args([command])))


def _path(key: str, value: str) -> str:
    """A data folder as the README writes it: ``<data>`` for your copy of the data, no machine path."""
    if key == "data_dir" and "images" not in Path(value).parts:
        return "<data>"
    parts = Path(value).parts
    return "<data>/" + "/".join(parts[-2:] if len(parts) > 1 and parts[-2] == "images" else parts[-1:])


def command_of(args: dict) -> str:
    """The ``python main.py ...`` line that repeats a run: the options that differ from their defaults."""
    defaults = _defaults(args["command"])
    words = ["python main.py", args["command"]]
    hidden = NOT_SHOWN | (SET_BY_QUICK.get(args["command"], set()) if args.get("quick") else set())
    for key, value in args.items():
        if key in hidden or key not in defaults or value == defaults[key] or value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            words.append(f"{flag} {' '.join(str(v) for v in value)}")
        else:
            words.append(f"{flag} {_path(key, value) if key in ('data_dir', 'test_dir') else value}")
    return " ".join(words)


def _signed(value: float) -> str:
    text = f"{value:+.2f}"
    return "+0.00" if text == "-0.00" else text


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _provenance(name: str, args: dict, config: dict, seconds: float | None = None) -> str:
    took = f"; training wall time {_duration(seconds)}" if seconds is not None else ""
    return (f"Run `results/backprop/{name}/`, made with `{command_of(args)}` (seed {args.get('seed', 0)}) on "
            f"`{config.get('device', '?')}` with torch {config.get('torch', '?')}, started {config.get('started', '?')}{took}.")


def _missing(block: str) -> str:
    name, command = RUNS[block]
    return (f"*Not published yet:* make the run with `cd backprop && {command}`, then publish it from the "
            f"repository root with `python -m common.publish backprop/runs/{name}` and run "
            f"`python -m common.readme --write backprop`.")


def _table(header: str, rows: dict[str, dict[str, float]], sigmas: list[str]) -> str:
    lines = [f"| {header} | " + " | ".join(f"sigma={s}" for s in sigmas) + " |", "|---|" + "---|" * len(sigmas)]
    lines += [f"| {r} | " + " | ".join(f"{v[s]:.2f}" for s in sigmas) + " |" for r, v in rows.items()]
    return "\n".join(lines)


def _span(values: list[float], unit: str = " dB") -> str:
    lo, hi = min(values), max(values)
    return f"{_signed(lo)}{unit}" if abs(hi - lo) < 0.005 else f"{_signed(lo)} to {_signed(hi)}{unit}"


def render_gradcheck(name: str, args: dict, config: dict, metrics: dict) -> str:
    checks = metrics["gradcheck"]
    first = metrics["first_layer_manual_vs_autograd"]
    passed = ", ".join(f"`{k}` {'passes' if ok else '**fails**'}" for k, ok in checks.items())
    return (f"{_provenance(name, args, config)}\n\n"
            f"gradcheck in float64: {passed}. The hand-derived first-layer gradients differ from autograd by at "
            f"most {first['max_abs_diff_weight']:.1e} (dW) and {first['max_abs_diff_bias']:.1e} (db).")


def render_inpaint(name: str, args: dict, config: dict, metrics: dict) -> str:
    data, history = config["dataset"], metrics["history"]
    sizes = "-".join(str(s) for s in [784, *args["hidden"], 784])
    last, best = history[-1], max(h["val_psnr"] for h in history)
    trend = ("validation PSNR was still rising at the last epoch" if last["val_psnr"] >= best
             else f"the best validation PSNR came at epoch {metrics['best_epoch']} of {len(history)}")
    return (f"{_provenance(name, args, config, metrics.get('train_seconds'))}\n\n"
            f"MNIST, {data['n_train']:,} train / {data['n_val']:,} validation / {data['n_test']:,} test digits; "
            f"{sizes} network, SGD lr {args['lr']}, batch {args['batch_size']}, {args['epochs']} epoch{'s' if args['epochs'] > 1 else ''}. "
            f"Test PSNR over the whole digit **{metrics['test_psnr']:.2f} dB** (hidden half alone "
            f"{metrics['test_psnr_hidden_half']:.2f} dB), against {metrics['test_psnr_measurement']:.2f} dB for the "
            f"measurement (bottom half zero) and {metrics['test_psnr_mean_digit_fill']:.2f} dB for filling the bottom "
            f"half with the mean training digit; {trend} ({last['val_psnr']:.2f} dB).")


def render_ablation(name: str, args: dict, config: dict, metrics: dict) -> str:
    data, sigmas = config["dataset"], list(metrics["noisy_psnr"])
    noisy = metrics["noisy_psnr"]
    rows = {"noisy input": noisy}
    rows.update({f"{m['channels']} channels, {'with' if m['bias'] else 'no'} bias": m["test_psnr"] for m in metrics["models"]})
    gain = {m["model"]: {s: m["test_psnr"][s] - noisy[s] for s in sigmas} for m in metrics["models"]}
    biased = [m["model"] for m in metrics["models"] if m["bias"]]
    free = [m["model"] for m in metrics["models"] if not m["bias"]]
    chosen = metrics["chosen_on_validation"]
    params = ", ".join(f"{m['model']} {m['parameters']:,}" for m in metrics["models"])
    seconds = sum(m.get("train_seconds", 0) for m in metrics["models"])
    lines = [_provenance(name, args, config, seconds), "",
             f"{data.get('n_train', '?')} training and {data.get('n_val', '?')} validation images, "
             f"{data.get('n_test', '?')} test images at full size; batches of {args['batch_size']} patches of "
             f"{args['patch_size']}x{args['patch_size']}, training sigma uniform in {metrics['train_sigma']}, depth "
             f"{args['depth']}, {args['steps']:,} steps per network (parameters: {params}). Test PSNR (dB):", "",
             _table("model", rows, sigmas), "",
             f"Gain over the noisy input: chosen on validation **{chosen}**: "
             + ", ".join(f"{_signed(gain[chosen][s])} dB at sigma={s}" for s in sigmas) + "."]
    for s in sigmas:
        lines.append(f"- sigma={s}: with biases {_span([gain[m][s] for m in biased])}, "
                     f"bias-free {_span([gain[m][s] for m in free])}")
    return "\n".join(lines)


def render_wiener(name: str, args: dict, config: dict, metrics: dict) -> str:
    table, sigmas = metrics["test_psnr"], list(metrics["snr"])
    seconds = sum(n.get("train_seconds", 0) for n in metrics.get("networks", {}).values())
    data = config["dataset"]
    diff = lambda a, b: [table[a][s] - table[b][s] for s in sigmas]  # noqa: E731
    return "\n".join([
        _provenance(name, args, config, seconds), "",
        f"{data.get('n_train', '?')} training and {data.get('n_val', '?')} validation images, {data.get('n_test', '?')} "
        f"test images at full size; {args['kernel']} kernel {args['kernel_size']}x{args['kernel_size']}; two "
        f"{args['channels']}-channel depth-{args['depth']} networks, {args['steps']:,} steps each. Wiener `snr` chosen on "
        "validation: " + ", ".join(f"{metrics['snr'][s]:.3g} at sigma={s}" for s in sigmas) + ". Test PSNR (dB):", "",
        _table("method", table, sigmas), "",
        f"Wiener+net minus Wiener: {_span(diff('Wiener+net', 'Wiener'))}; Wiener+net minus net: "
        f"{_span(diff('Wiener+net', 'net'))}; net minus Wiener: "
        + ", ".join(f"{_signed(d)} dB at sigma={s}" for d, s in zip(diff("net", "Wiener"), sigmas)) + "."])


RENDER = {"gradcheck": render_gradcheck, "inpaint": render_inpaint, "ablation": render_ablation, "wiener": render_wiener}


def render_blocks(results: Path) -> dict[str, str]:
    """Block name -> Markdown, from the runs published under ``results`` (``results/backprop``)."""
    blocks = {}
    for block, (name, _) in RUNS.items():
        run = _load(Path(results) / name)
        blocks[block] = RENDER[block](name, *run) if run else _missing(block)
    return blocks
