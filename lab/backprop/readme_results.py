"""The result blocks of ``backprop/README.md``, rendered from the runs published in ``results/backprop/``: per
command a :func:`made_with` line and a table of its recorded numbers; :func:`headline` tops the README."""

from pathlib import Path

from lab.results import RESULTS_ROOT, load_run, made_with, md_table, show  # noqa: F401  (show: for the README)

RESULTS = RESULTS_ROOT / "backprop"


def gradcheck(results: Path = RESULTS) -> str:
    config, m = load_run(run := results / "gradcheck")
    rows = [[f"gradcheck of `{k}` in float64", "passes" if ok else "**fails**"] for k, ok in m["gradcheck"].items()]
    diff = m.get("first_layer_manual_vs_autograd", {})
    rows += [[f"first layer, hand-derived vs autograd: `{k}`", f"{v:.1e}"] for k, v in diff.items() if k != "match"]
    return f"{made_with(run, config)}\n\n{md_table(rows, ['check', 'result'])}"


def inpaint(results: Path = RESULTS) -> str:
    config, m = load_run(run := results / "inpaint")
    rows = [[f"`{k}`", f"{v:.2f}"] for k, v in m.items() if "psnr" in k] + [["`best_epoch`", str(m.get("best_epoch"))]]
    return f"{made_with(run, config, m.get('train_seconds'))}\n\n{md_table(rows, ['key', 'value (PSNR in dB)'])}"


def psnr_table(name: str, results: Path = RESULTS) -> str:
    """Test PSNR (dB) per noise level of ``ablation``'s models or ``wiener``'s methods, choices on validation marked."""
    config, m = load_run(run := results / name)
    models, chosen = m.get("models", []), m.get("chosen_on_validation")
    rows = {"noisy input": m["noisy_psnr"]} if models else dict(m["test_psnr"])
    rows |= {f"`{x['model']}`" + " (chosen on validation)" * (x["model"] == chosen): x["test_psnr"] for x in models}
    cells = [[k, *(f"{v:.2f}" for v in psnr.values())] for k, psnr in rows.items()]
    cells += [["Wiener `snr` (chosen on validation)", *(f"{v:.3g}" for v in m["snr"].values())]] if "snr" in m else []
    seconds = sum(x["train_seconds"] for x in [*models, *m.get("networks", {}).values()]) or None
    sigmas = [f"sigma={s}" for s in next(iter(rows.values()))]
    return f"{made_with(run, config, seconds)}\n\n{md_table(cells, ['test PSNR (dB)', *sigmas])}"


def _at(psnr: dict[str, float]) -> str:
    return " / ".join(f"{v:.2f}" for v in psnr.values()) + f" dB at sigma = {' / '.join(psnr)}"


def headline(results: Path = RESULTS) -> str:
    """The table at the top of the README: one line per command, test numbers."""
    g, i, a, w = (load_run(results / n)[1] for n in ("gradcheck", "inpaint", "ablation", "wiener"))
    best = next(x for x in a["models"] if x["model"] == a["chosen_on_validation"])
    rows = [["`gradcheck`", f"{sum(g['gradcheck'].values())} of {len(g['gradcheck'])} gradchecks pass in float64"]]
    rows += [["`inpaint`", f"test PSNR {i['test_psnr']:.2f} dB (measurement {i['test_psnr_measurement']:.2f} dB)"]]
    rows += [["`ablation`", f"{best['model']} (chosen on validation): {_at(best['test_psnr'])}"]]
    rows += [["`wiener`", f"Wiener+net: {_at(w['test_psnr']['Wiener+net'])}"]]
    return md_table(rows, ["command", "headline (test split)"])
