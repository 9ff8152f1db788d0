"""The realistic benchmark's tables, from the JSON files ``lab.mri_cs.realistic`` writes (nothing is recomputed).

``write_tables(folder)`` writes ``table.md`` and ``table.csv`` (test PSNR and SSIM per method and drop rate,
per-slice means over the recorded held-out slices) and ``gains.md`` (the benchmark's targets: cascade minus the
better classical method, learned minus tuned variable-density mask, both with the cascade).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tabulate import tabulate


def load(folder: Path) -> tuple[dict, list[dict]]:
    """``({mask label: classical record}, [network records])``."""
    classical = {r["mask"]: r for r in (json.loads(p.read_text()) for p in sorted(folder.glob("classical_*.json")))}
    networks = [json.loads(p.read_text()) for p in sorted(folder.glob("network_*.json"))]
    return classical, networks


def network_row(networks: list[dict], model: str, learned: bool, family: str = "variable-density") -> dict:
    return {
        f"{n['drop_rate']:g}": n["network"]
        for n in networks
        if n["model"] == model and n["learn_mask"] == learned and n["config"]["mask"] == family
    }


def rows(folder: Path) -> list[tuple[str, dict]]:
    """``[(method, {drop rate: quality})]`` in table order; drop rates as strings."""
    classical, networks = load(folder)
    vd = {f"{r['drop_rate']:g}": r for label, r in classical.items() if label.startswith("vd")}
    cart = {f"{r['drop_rate']:g}": r for label, r in classical.items() if label.startswith("cartesian")}
    learned = {
        f"{n['drop_rate']:g}": classical[n["run"]] for n in networks if n["run"] in classical and n["learn_mask"]
    }
    out = [
        ("zero-filled, tuned variable-density mask", {d: r["zero_filled"] for d, r in vd.items()}),
        ("TV, tuned variable-density mask", {d: r["tv"] for d, r in vd.items() if "tv" in r}),
        ("L1-wavelet, tuned variable-density mask", {d: r["wavelet"] for d, r in vd.items() if "wavelet" in r}),
        ("U-Net, tuned variable-density mask", network_row(networks, "unet", False)),
        ("cascade, tuned variable-density mask", network_row(networks, "cascade", False)),
        ("U-Net, learned mask", network_row(networks, "unet", True)),
        ("cascade, learned mask", network_row(networks, "cascade", True)),
        ("TV, the cascade's learned mask", {d: r["tv"] for d, r in learned.items() if "tv" in r}),
        ("TV, Cartesian random lines", {d: r["tv"] for d, r in cart.items() if "tv" in r}),
        ("cascade, Cartesian random lines", network_row(networks, "cascade", False, "cartesian-random")),
    ]
    if "full" in classical:
        drops = sorted({d for _, cells in out for d in cells}, key=float)
        full = classical["full"]
        out += [
            ("fully sampled, magnitude of the noisy image", {d: full["zero_filled"] for d in drops}),
            ("fully sampled, TV (an upper reference)", {d: full["tv"] for d in drops}),
        ]
    return [(name, cells) for name, cells in out if cells]


def write_tables(folder: Path) -> None:
    table = rows(folder)
    drops = sorted({d for _, cells in table for d in cells}, key=float)
    header = ["method"] + [f"drop {d}: PSNR (dB)" for d in drops] + [f"drop {d}: SSIM" for d in drops]
    body = [
        [name]
        + [f"{cells[d]['psnr']:.2f}" if d in cells else "-" for d in drops]
        + [f"{cells[d]['ssim']:.3f}" if d in cells else "-" for d in drops]
        for name, cells in table
    ]
    (folder / "table.md").write_text(tabulate(body, header, tablefmt="github", disable_numparse=True) + "\n")
    with open(folder / "table.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *body])
    (folder / "gains.md").write_text(gains(dict(table), drops) + "\n")
    print((folder / "table.md").read_text() + "\n" + (folder / "gains.md").read_text())


def gains(table: dict, drops: list[str]) -> str:
    """The targets: cascade minus the better classical method (same mask), learned minus tuned mask (cascade)."""
    cascade, learned = table.get("cascade, tuned variable-density mask", {}), table.get("cascade, learned mask", {})
    tv, wav = table.get("TV, tuned variable-density mask", {}), table.get("L1-wavelet, tuned variable-density mask", {})
    body = []
    for d in drops:
        best = max([t[d]["psnr"] for t in (tv, wav) if d in t], default=None)
        vs_tv = cascade[d]["psnr"] - tv[d]["psnr"] if d in cascade and d in tv else None
        vs_best = cascade[d]["psnr"] - best if d in cascade and best is not None else None
        vs_vd = learned[d]["psnr"] - cascade[d]["psnr"] if d in cascade and d in learned else None
        body.append([d] + [f"{v:+.2f}" if v is not None else "-" for v in (vs_tv, vs_best, vs_vd)])
    header = ["drop rate", "cascade - TV (dB)", "cascade - best classical (dB)", "learned - tuned mask, cascade (dB)"]
    return tabulate(body, header, tablefmt="github", disable_numparse=True)
