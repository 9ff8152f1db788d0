"""The result blocks of ``backprop/README.md``: one function per cog block, each rendering a run published in
``results/backprop/`` (its command as recorded, its numbers, the comparisons the prose relies on)."""

from __future__ import annotations

from pathlib import Path

from common.results import RESULTS_ROOT, command, load_run, md_table, show  # noqa: F401  (show: for the README)

RESULTS = RESULTS_ROOT / "backprop"


def _signed(value: float) -> str:
    text = f"{value:+.2f}"
    return "+0.00" if text == "-0.00" else text


def _span(values: list[float], unit: str = " dB") -> str:
    lo, hi = min(values), max(values)
    return f"{_signed(lo)}{unit}" if abs(hi - lo) < 0.005 else f"{_signed(lo)} to {_signed(hi)}{unit}"


def _provenance(run: Path, config: dict, seconds: float | None = None) -> str:
    took = (
        ""
        if seconds is None
        else f"; training wall time {seconds:.0f} s"
        if seconds < 120
        else f"; training wall time {seconds / 60:.0f} min"
    )
    return (
        f"Run `results/backprop/{run.name}/`, made with {command(config)} (seed {config['args']['seed']}) on "
        f"`{config['device']}` with torch {config['torch']}, started {config['started']}{took}."
    )


def _sigma_table(header: str, rows: dict[str, dict[str, float]], sigmas: list[str]) -> str:
    return md_table(
        [[r, *(f"{v[s]:.2f}" for s in sigmas)] for r, v in rows.items()],
        [header, *(f"sigma={s}" for s in sigmas)],
        ("left", *["right"] * len(sigmas)),
    )


def gradcheck(results: Path = RESULTS) -> str:
    config, m = load_run(results / "gradcheck")
    first = m["first_layer_manual_vs_autograd"]
    passed = ", ".join(f"`{k}` {'passes' if ok else '**fails**'}" for k, ok in m["gradcheck"].items())
    return (
        f"{_provenance(results / 'gradcheck', config)}\n\ngradcheck in float64: {passed}. The "
        f"hand-derived first-layer "
        f"gradients differ from autograd by at most {first['max_abs_diff_weight']:.1e} (dW) and "
        f"{first['max_abs_diff_bias']:.1e} (db)."
    )


def inpaint(results: Path = RESULTS) -> str:
    config, m = load_run(results / "inpaint")
    args = config["args"]
    data, history = config["dataset"], m["history"]
    last, best = history[-1], max(h["val_psnr"] for h in history)
    trend = (
        "validation PSNR was still rising at the last epoch"
        if last["val_psnr"] >= best
        else f"the best validation PSNR came at epoch {m['best_epoch']} of {len(history)}"
    )
    return (
        f"{_provenance(results / 'inpaint', config, m['train_seconds'])}\n\n"
        f"MNIST, {data['n_train']:,} train / {data['n_val']:,} validation / {data['n_test']:,} test digits; "
        f"{'-'.join(str(s) for s in [784, *args['hidden'], 784])} network, SGD lr {args['lr']}, "
        f"batch {args['batch_size']}, "
        f"{args['epochs']} epoch{'s' if args['epochs'] > 1 else ''}. Test PSNR over the whole digit "
        f"**{m['test_psnr']:.2f} dB** "
        f"(hidden half alone {m['test_psnr_hidden_half']:.2f} dB), against "
        f"{m['test_psnr_measurement']:.2f} dB for the "
        f"measurement (bottom half zero) and {m['test_psnr_mean_digit_fill']:.2f} dB for filling the bottom "
        f"half with the mean training digit; {trend} ({last['val_psnr']:.2f} dB)."
    )


def ablation(results: Path = RESULTS) -> str:
    config, m = load_run(results / "ablation")
    args = config["args"]
    data, noisy, models = config["dataset"], m["noisy_psnr"], m["models"]
    sigmas = list(noisy)
    rows = {
        "noisy input": noisy,
        **{f"{x['channels']} channels, {'with' if x['bias'] else 'no'} bias": x["test_psnr"] for x in models},
    }
    gain = {x["model"]: {s: x["test_psnr"][s] - noisy[s] for s in sigmas} for x in models}
    chosen = m["chosen_on_validation"]
    params = ", ".join(f"{x['model']} {x['parameters']:,}" for x in models)
    lines = [
        _provenance(results / "ablation", config, sum(x["train_seconds"] for x in models)),
        "",
        f"{data['n_train']} training and {data['n_val']} validation images, {data['n_test']} test "
        f"images at full size; "
        f"batches of {args['batch_size']} patches of {args['patch_size']}x{args['patch_size']}, "
        f"training sigma uniform in "
        f"{m['train_sigma']}, depth {args['depth']}, {args['steps']:,} steps per network "
        f"(parameters: {params}). Test PSNR (dB):",
        "",
        _sigma_table("model", rows, sigmas),
        "",
        f"Gain over the noisy input: chosen on validation **{chosen}**: "
        + ", ".join(f"{_signed(gain[chosen][s])} dB at sigma={s}" for s in sigmas)
        + ".",
    ]
    lines += [
        f"- sigma={s}: with biases {_span([gain[x['model']][s] for x in models if x['bias']])}, "
        f"bias-free {_span([gain[x['model']][s] for x in models if not x['bias']])}"
        for s in sigmas
    ]
    return "\n".join(lines)


def wiener(results: Path = RESULTS) -> str:
    config, m = load_run(results / "wiener")
    args = config["args"]
    table, sigmas, data = m["test_psnr"], list(m["snr"]), config["dataset"]
    diff = lambda a, b: [table[a][s] - table[b][s] for s in sigmas]  # noqa: E731
    return "\n".join(
        [
            _provenance(results / "wiener", config, sum(n["train_seconds"] for n in m["networks"].values())),
            "",
            f"{data['n_train']} training and {data['n_val']} validation images, "
            f"{data['n_test']} test images at full size; "
            f"{args['kernel']} kernel {args['kernel_size']}x{args['kernel_size']}; two {args['channels']}-channel "
            f"depth-{args['depth']} networks, {args['steps']:,} steps each. Wiener `snr` chosen on validation: "
            + ", ".join(f"{m['snr'][s]:.3g} at sigma={s}" for s in sigmas)
            + ". Test PSNR (dB):",
            "",
            _sigma_table("method", table, sigmas),
            "",
            f"Wiener+net minus Wiener: {_span(diff('Wiener+net', 'Wiener'))}; Wiener+net minus net: "
            f"{_span(diff('Wiener+net', 'net'))}; "
            "net minus Wiener: "
            + ", ".join(f"{_signed(d)} dB at sigma={s}" for d, s in zip(diff("net", "Wiener"), sigmas))
            + ".",
        ]
    )


def headline(results: Path = RESULTS) -> str:
    """The table at the top of the README: one line per command, test numbers."""
    grad, inp, abl, wie = (load_run(results / name)[1] for name in ("gradcheck", "inpaint", "ablation", "wiener"))
    chosen = next(x for x in abl["models"] if x["model"] == abl["chosen_on_validation"])
    per_sigma = lambda psnr: ", ".join(f"{v:.2f}" for v in psnr.values()) + f" dB at sigma = {', '.join(psnr)}"  # noqa: E731
    return md_table(
        [
            [
                "`gradcheck`",
                f"{sum(grad['gradcheck'].values())} of {len(grad['gradcheck'])} gradchecks pass in float64",
            ],
            [
                "`inpaint`",
                f"test PSNR {inp['test_psnr']:.2f} dB (measurement alone {inp['test_psnr_measurement']:.2f} dB)",
            ],
            ["`ablation`", f"{chosen['model']} (chosen on validation): {per_sigma(chosen['test_psnr'])}"],
            ["`wiener`", f"Wiener+net: {per_sigma(wie['test_psnr']['Wiener+net'])}"],
        ],
        ["command", "headline (test split)"],
    )
