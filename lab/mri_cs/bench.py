"""Benchmarks: training throughput and peak memory, then the quality targets read from finished runs.

    python -m lab.mri_cs.bench                                   # throughput on CPU (and CUDA when present) + targets
    python -m lab.mri_cs.bench --skip-throughput                 # only the targets
    python -m lab.mri_cs.bench --sweep-dir runs/sweep --default-run runs/unet_drop0.3_learned

Throughput is measured on random k-space of the run's size (speed does not depend on the
values), each model/device/precision case in a fresh process so that its peak resident memory
(CPU) is its own; on CUDA the peak allocated memory is reported. Each case runs in fp32 and,
where the device has fast bf16, in bf16 autocast (``common.precision``), in ``--rounds``
interleaved rounds; ``common.speed`` counts the FLOPs of a step and sets the achieved GFLOP/s
against the machine's peak. The quality targets come from the sweep's ``results.csv`` and the
default run's ``metrics.json``; nothing is trained here. Everything printed is also
written to ``<results-root>/<name>/metrics.json`` (``runs/bench``), which
``python -m lab.publish runs/bench`` publishes.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from common.cli import (
    OneLineParser,
    RunError,
    add_common_args,
    fill_common_defaults,
    positive_int,
    run_command,
    run_name,
)

PROG = "python -m lab.mri_cs.bench"
DEFAULT_RUN = "unet_drop0.3_learned"
WALL_TIME_TARGET_S = 240  # the default run, training and evaluation, on two free CPU cores
BF16_SPEEDUP = 1.4  # U-Net training throughput, bf16 autocast over fp32, same machine and bench run
PARITY_DB = 0.1  # the default run (bf16 where auto takes it) within this of the same run in fp32
FP32_RUN = "unet_drop0.3_learned_fp32"  # the default run with --precision fp32, for the parity target
FIXED_GAIN_OVER_ZERO_FILLED_DB = 12  # U-Net, fixed mask, drop 0.3
FIXED_GAIN_OVER_VANILLA_DB = 6
# Drop 0.3, fixed mask, gain over zero-filled across datasets (evaluate.py's eval_* folders beside the runs):
MNI_TO_PATIENTS_DB = 10  # trained on the MNI152 template, tested on the multi-patient test split
PATIENTS_OWN_DB = 18  # trained on the multi-patient set, tested on its held-out patients
PATIENTS_TO_MNI_DB = 12  # the same model on the template's test slabs, anatomy it never saw
MNI_LAYOUT, IMAGES_LAYOUT = "MNI152 template (offline default)", "image folder"
SWEEP_DROP_RATES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)  # learned above fixed at each of these on held-out patients
LEARNING_OVER_DENSITY_DB = 3  # learned mask over the fixed variable-density mask it starts from, held-out patients
NETWORK_OVER_CS_DB = 5  # the U-Net over total variation with the same mask, held-out patients
CS_DROP_RATES = (0.3, 0.7)


def measure(
    model_name: str, device: str, precision: str, compiled: bool, size: tuple[int, int, int], steps: int
) -> dict:
    """Time ``steps`` training steps of the default run's ``size = (resolution, batch size, U-Net width)`` (forward
    in ``precision``, L1 loss, Adam step, mask step); returns :func:`lab.speed.measure_step`'s record. With
    ``compiled`` the network goes through ``torch.compile`` first (its compilation is not timed)."""
    import torch
    import torch.nn.functional as F

    from common.precision import autocast
    from lab.speed import measure_step, resident_mib
    from mri_cs.models.model import ReconstructionModel
    from mri_cs.models.vanilla import VanillaModel

    resolution, batch_size, width = size
    torch.manual_seed(0)
    idle_rss = resident_mib()  # torch imported, nothing allocated
    dev, shape = torch.device(device), (resolution, resolution)
    model = (
        ReconstructionModel(0.3, dev, True, shape, width=width)
        if model_name == "unet"
        else VanillaModel(0.3, dev, True, shape)
    ).to(dev)
    if compiled:
        model.unet = torch.compile(model.unet)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    kspace = torch.randn(batch_size, *shape, 2, device=dev)
    target = torch.rand(batch_size, 1, *shape, device=dev)

    def step() -> None:
        with autocast(dev, precision):
            output = model(kspace)
        loss = F.l1_loss(output.float(), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.subsample.mask_grad(0.05)

    return measure_step(step, dev, precision, batch_size, steps, idle_rss)


def throughput(args: argparse.Namespace) -> list[dict]:
    """One row per model/device/precision (:func:`common.speed.throughput_rows`), slices per second for samples."""
    import torch

    from lab.speed import bench_devices, bench_precisions, throughput_rows

    cases = []
    for device in bench_devices(args.device):
        precisions = bench_precisions(device)
        cases += [
            {"model": m, "device": str(device), "precision": p, "compiled": False}
            for m in ("vanilla", "unet")
            for p in precisions
        ]
        cases += [
            {"model": "unet", "device": str(device), "precision": p, "compiled": True}
            for p in precisions
            if args.compile
        ]
    print(
        f"training throughput, {args.resolution}x{args.resolution}, batch {args.batch_size}, U-Net width {args.width}, "
        f"{args.steps} timed steps, torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )
    return throughput_rows(
        measure,
        cases,
        "slice",
        (args.resolution, args.batch_size, args.width),
        args.steps,
        rounds=1 if args.quick else args.rounds,
    )


def verdict(name: str, ok: bool, text: str) -> dict:
    return {"name": name, "ok": bool(ok), "text": text}


def speed_targets(rows: list[dict]) -> list[dict]:
    """The U-Net's bf16 training throughput over its fp32 one, per device where both were measured."""
    from lab.speed import bf16_speedups

    rate = {(r["device"], r["precision"]): r["samples_per_s"] for r in rows if r["model"] == "unet"}
    return [
        verdict(
            f"bf16_speedup_{device}",
            gain >= BF16_SPEEDUP,
            f"U-Net training on {device}: bf16 {rate[device, 'bf16']:.1f} against fp32 "
            f"{rate[device, 'fp32']:.1f} slices/s, {gain:.2f}x [target: >= {BF16_SPEEDUP:g}x]",
        )
        for device, gain in bf16_speedups(rows, "unet").items()
    ]


def parity_target(default_run: Path) -> list[dict]:
    """The default run against the same command in fp32 (``FP32_RUN`` beside it), when both are finished."""
    fp32_run = default_run.parent / FP32_RUN
    if not ((default_run / "metrics.json").is_file() and (fp32_run / "metrics.json").is_file()):
        return []
    runs = {k: json.loads((d / "metrics.json").read_text()) for k, d in (("default", default_run), ("fp32", fp32_run))}
    psnr = {k: m["test_psnr"]["mean"] for k, m in runs.items()}
    precision = runs["default"].get("precision", "fp32")
    return [
        verdict(
            "default_precision_parity",
            abs(psnr["default"] - psnr["fp32"]) <= PARITY_DB,
            f"default run in {precision}: test PSNR {psnr['default']:.2f} dB against {psnr['fp32']:.2f} dB "
            f"in fp32 ({FP32_RUN}), {psnr['default'] - psnr['fp32']:+.3f} dB [target: within {PARITY_DB:g} dB]",
        )
    ]


def cross_data_targets(runs_root: Path) -> list[dict]:
    """The generalisation targets from the finished U-Net runs at drop 0.3 directly under ``runs_root`` and their
    ``eval_*`` folders: the fixed-mask gains over zero-filled across datasets, and that no learned-mask model
    is worse than its own zero-filled input on any test set."""
    out = []
    for config_path in sorted(Path(runs_root).glob("*/config.json")):
        run = config_path.parent
        config = json.loads(config_path.read_text())
        if "data" not in config or not (run / "metrics.json").is_file():
            continue  # a sweep's or a benchmark's folder, or an unfinished run
        args, m = config["args"], json.loads((run / "metrics.json").read_text())
        if args.get("model") != "unet" or args.get("drop_rate") != 0.3:
            continue
        evals = [json.loads(e.read_text()) for e in sorted(run.glob("eval_*/metrics.json"))]
        own = m["test_psnr"]["mean"] - m["zero_filled_test_psnr"]["mean"]
        layout = config["data"].get("layout")
        label = f"{run.name}, {args.get('epochs')} epochs"  # a shorter schedule's miss explains itself
        if args.get("learn_mask"):
            gains = [(f"its own test split ({config['data']['dataset']})", own)]
            gains += [(f"{e['tested_on']['dataset']} ({e['tested_on']['split']})", e["gain_db"]) for e in evals]
            worst = min(gains, key=lambda g: g[1])
            out.append(
                verdict(
                    f"learned_not_worse_{run.name}",
                    worst[1] >= 0,
                    f"learned mask, {label}: worst gain over its own zero-filled input {worst[1]:+.2f} dB, "
                    f"on {worst[0]} [target: >= 0 on every test set]",
                )
            )
            continue
        if layout == IMAGES_LAYOUT:
            out.append(
                verdict(
                    f"patients_own_{run.name}",
                    own >= PATIENTS_OWN_DB,
                    f"trained on {config['data']['dataset']} ({label}), its held-out patients: "
                    f"{m['test_psnr']['mean']:.2f} dB, {own:+.2f} dB over zero-filled [target: >= +{PATIENTS_OWN_DB}]",
                )
            )
        for e in evals:
            to = e["tested_on"]
            if to["split"] != "test":
                continue  # the targets are on held-out test data; "val" and "all" evaluations are not
            if layout == IMAGES_LAYOUT and to["layout"] == MNI_LAYOUT:
                name, target = "patients_to_mni", PATIENTS_TO_MNI_DB
            elif layout == MNI_LAYOUT and to["layout"] == IMAGES_LAYOUT:
                name, target = "mni_to_patients", MNI_TO_PATIENTS_DB
            else:
                continue
            out.append(
                verdict(
                    f"{name}_{run.name}",
                    e["gain_db"] >= target,
                    f"trained on {e['trained_on']['dataset']} ({label}), tested on {to['dataset']} "
                    f"({to['split']}): {e['psnr']['mean']:.2f} dB, {e['gain_db']:+.2f} dB over zero-filled "
                    f"[target: >= +{target}]",
                )
            )
    return out


def csv_rows(path: Path) -> list[dict]:
    """The rows of a CSV table (a sweep's ``results.csv`` or ``cross_data.csv``) as dicts of strings; [] without one."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def learned_gain_target(psnr: dict, family: str, target: float, name: str, label: str) -> list[dict]:
    """Learned minus the fixed ``family`` mask, from ``psnr[(drop, mask, family)]``, at every drop rate both have:
    above ``target`` at all of ``SWEEP_DROP_RATES`` (a sweep without all of them misses). [] without a pair."""
    gain = {
        d: psnr[d, "learned", "variable-density"] - p
        for (d, k, f), p in sorted(psnr.items())
        if k == "fixed" and f == family and (d, "learned", "variable-density") in psnr
    }
    if not gain:
        return []
    complete = set(SWEEP_DROP_RATES) <= set(gain)
    return [
        verdict(
            name,
            complete and min(gain.values()) > target,
            f"{label}: learned - fixed {family} PSNR by drop rate "
            + ", ".join(f"{d:g}: {g:+.2f}" for d, g in gain.items())
            + (" dB" if complete else f" dB (the sweep has {len(gain)} of {len(SWEEP_DROP_RATES)} drop rates)")
            + f" [target: > {target:g} dB at every drop rate {min(SWEEP_DROP_RATES):g} to {max(SWEEP_DROP_RATES):g}]",
        )
    ]


def cs_targets(runs_root: Path) -> list[dict]:
    """The U-Net over total variation with the same mask on the same held-out patients' slices, from every
    ``cs_tv_*`` folder (``evaluate.py RUN --cs tv``) of the sweeps' cases under ``runs_root`` that scored the
    run's own network, at the drop rates ``CS_DROP_RATES``."""
    out = []
    for path in sorted(Path(runs_root).glob("*/*/cs_tv_*/metrics.json")):
        m, c = json.loads(path.read_text()), json.loads((path.parent / "config.json").read_text())
        if m["network"] is None or c["split"] != "test" or c["data"].get("layout") != IMAGES_LAYOUT:
            continue
        if not any(abs(c["drop_rate"] - d) < 1e-9 for d in CS_DROP_RATES):
            continue
        net, tv = m["network"]["psnr"]["mean"], m["tv"]["psnr"]["mean"]
        kind = "learned" if c["learn_mask"] else f"fixed {c['mask_family']}"
        out.append(
            verdict(
                f"network_over_cs_{path.parts[-4]}_{path.parts[-3]}",
                net - tv >= NETWORK_OVER_CS_DB,
                f"{path.parts[-4]}/{path.parts[-3]} ({kind} mask, drop {c['drop_rate']:g}) on {m['n_slices']} "
                f"held-out {c['data']['dataset']} test slices: U-Net {net:.2f} dB, TV {tv:.2f} dB (lambda "
                f"{m['lambda']:g}), {net - tv:+.2f} dB [target: >= +{NETWORK_OVER_CS_DB}]",
            )
        )
    return out


def sweep_generalisation_targets(runs_root: Path) -> list[dict]:
    """From every sweep directly under ``runs_root`` (a folder with ``results.csv``) and its ``cross_data.csv``:
    the learned mask above the fixed one at every drop rate 0.1 to 0.7 on held-out patients (the sweep's own test
    split when it trained on an image folder, its scores on one otherwise), and no learned-mask case below its own
    zero-filled input on any test set it was scored on."""
    out = []
    for results in sorted(Path(runs_root).glob("*/results.csv")):
        sweep, unet = results.parent, [r for r in csv_rows(results) if r["model"] == "unet"]
        if not unet or not (sweep / unet[0]["run"] / "config.json").is_file():
            continue
        data = json.loads((sweep / unet[0]["run"] / "config.json").read_text()).get("data", {})
        cross = [r for r in csv_rows(sweep / "cross_data.csv") if r["model"] == "unet"]
        key = lambda r: (float(r["drop_rate"]), r["mask"], r["family"])  # noqa: E731
        tests = (
            [(f"its held-out patients ({data['dataset']})", {key(r): float(r["test_psnr_mean"]) for r in unet})]
            if data.get("layout") == IMAGES_LAYOUT
            else []
        )
        tests += [
            (f"{t} (test)", {key(r): float(r["psnr_mean"]) for r in cross if r["tested_on"] == t})
            for t in sorted({r["tested_on"] for r in cross if r["tested_on_layout"] == IMAGES_LAYOUT})
        ]
        for i, (label, psnr) in enumerate(tests):
            for family, target, name in (
                ("uniform", 0, "learned_over_fixed"),
                ("variable-density", LEARNING_OVER_DENSITY_DB, "learned_over_density"),
            ):
                out += learned_gain_target(
                    psnr,
                    family,
                    target,
                    f"{name}_patients_{sweep.name}_{i}",
                    f"sweep folder {sweep.name}, tested on {label}",
                )
        gains = [
            (
                float(r["test_psnr_mean"]) - float(r["zero_filled_test_psnr_mean"]),
                float(r["drop_rate"]),
                "its own test split",
            )
            for r in unet
            if r["mask"] == "learned"
        ]
        gains += [
            (float(r["gain_db"]), float(r["drop_rate"]), f"{r['tested_on']} (test)")
            for r in cross
            if r["mask"] == "learned"
        ]
        if gains:
            worst = min(gains)
            out.append(
                verdict(
                    f"learned_not_worse_{sweep.name}",
                    worst[0] >= 0,
                    f"sweep folder {sweep.name}, learned masks: worst gain over their own zero-filled input "
                    f"{worst[0]:+.2f} dB (drop {worst[1]:g}, on {worst[2]}) [target: >= 0 on every test set]",
                )
            )
    return out


def check_targets(sweep_dir: Path, default_run: Path) -> list[dict]:
    """The assignment's quality targets from finished runs (those that exist): ``{"name", "ok", "text"}`` each,
    the cross-dataset ones (:func:`cross_data_targets`, :func:`sweep_generalisation_targets`) from the runs and
    sweeps beside ``default_run``."""
    from mri_cs.train import STABLE_DIP_DB  # the run's own stability rule; torch loads only now

    out = (
        cross_data_targets(default_run.parent)
        + sweep_generalisation_targets(default_run.parent)
        + cs_targets(default_run.parent)
        + parity_target(default_run)
    )
    if (default_run / "metrics.json").is_file():
        m = json.loads((default_run / "metrics.json").read_text())
        out.append(
            verdict(
                "default_wall_time",
                m["wall_time_s"] < WALL_TIME_TARGET_S,
                f"default run {default_run.name}: test PSNR {m['test_psnr']['mean']:.2f} dB, zero-filled "
                f"{m['zero_filled_test_psnr']['mean']:.2f} dB, wall time {m['wall_time_s']:.0f} s on "
                f"{m['device']} [target: < {WALL_TIME_TARGET_S} s]",
            )
        )
        if "val_psnr_last_third_max_dip_db" in m:  # runs made before the stable mask learning lack it
            dip = m["val_psnr_last_third_max_dip_db"]
            out.append(
                verdict(
                    "default_stable",
                    dip <= STABLE_DIP_DB,
                    f"default run: validation PSNR in the last third of the epochs (from epoch "
                    f"{m['val_psnr_last_third_from_epoch']}) at most {dip:.2f} dB below its best so far "
                    f"[target: <= {STABLE_DIP_DB:g} dB]",
                )
            )
    return out + sweep_targets(sweep_dir)


def sweep_targets(sweep_dir: Path) -> list[dict]:
    """The course sweep's targets: the U-Net over its input and the vanilla model, and the learned masks'."""
    rows = {
        (r["model"], float(r["drop_rate"]), r["mask"]): r
        for r in csv_rows(sweep_dir / "results.csv")
        if r["family"] == ("uniform" if r["mask"] == "fixed" else "variable-density")
    }  # the course's two scenarios
    if not rows:
        return []
    out = []
    test = lambda key: float(rows[key]["test_psnr_mean"])  # noqa: E731
    fixed03, vanilla03 = ("unet", 0.3, "fixed"), ("vanilla", 0.3, "fixed")
    if fixed03 in rows:
        gain = test(fixed03) - float(rows[fixed03]["zero_filled_test_psnr_mean"])
        out.append(
            verdict(
                "fixed_over_zero_filled",
                gain >= FIXED_GAIN_OVER_ZERO_FILLED_DB,
                f"drop 0.3 fixed: U-Net {test(fixed03):.2f} dB, {gain:+.2f} dB over zero-filled "
                f"[target: >= +{FIXED_GAIN_OVER_ZERO_FILLED_DB}]",
            )
        )
        if vanilla03 in rows:
            gain = test(fixed03) - test(vanilla03)
            out.append(
                verdict(
                    "fixed_over_vanilla",
                    gain >= FIXED_GAIN_OVER_VANILLA_DB,
                    f"drop 0.3 fixed: {gain:+.2f} dB over the vanilla model ({test(vanilla03):.2f} dB) "
                    f"[target: >= +{FIXED_GAIN_OVER_VANILLA_DB}]",
                )
            )
    return out + learned_targets(rows)


def learned_targets(rows: dict) -> list[dict]:
    """The learned masks of the sweep: zero-filled PSNR falling with the drop rate, a stable last third, learned
    above fixed at high drop rates."""
    from mri_cs.train import STABLE_DIP_DB

    out = []
    test = lambda key: float(rows[key]["test_psnr_mean"])  # noqa: E731
    learned = sorted(
        (d, float(r["zero_filled_test_psnr_mean"])) for (m, d, k), r in rows.items() if m == "unet" and k == "learned"
    )
    if len(learned) > 1:
        falls = all(b[1] < a[1] for a, b in zip(learned, learned[1:]))
        out.append(
            verdict(
                "learned_zero_filled_monotone",
                falls,
                "learned masks, zero-filled test PSNR by drop rate: "
                + ", ".join(f"{d:g}: {p:.2f}" for d, p in learned)
                + " dB [target: falls with the drop rate]",
            )
        )
    dips = {
        d: float(r["val_last_third_dip_db"])
        for (m, d, k), r in rows.items()
        if m == "unet" and k == "learned" and r.get("val_last_third_dip_db", "") not in ("", "nan")
    }
    if dips:
        worst = max(dips, key=dips.get)
        out.append(
            verdict(
                "learned_sweep_stable",
                dips[worst] <= STABLE_DIP_DB,
                f"sweep, learned masks: validation PSNR in the last third of the epochs at most {dips[worst]:.2f} dB "
                f"below its best so far (drop {worst:g}) [target: <= {STABLE_DIP_DB:g} dB]",
            )
        )
    for drop in (0.5, 0.6, 0.7):
        fixed, learned = ("unet", drop, "fixed"), ("unet", drop, "learned")
        if fixed in rows and learned in rows:
            gain = test(learned) - test(fixed)
            out.append(
                verdict(
                    f"learned_over_fixed_{drop:g}",
                    gain > 0,
                    f"drop {drop:g}: learned {test(learned):.2f} vs fixed {test(fixed):.2f} dB ({gain:+.2f}); "
                    f"centre disc kept {float(rows[learned]['keep_in_center']):.2f} learned vs "
                    f"{float(rows[fixed]['keep_in_center']):.2f} fixed [target: learned > fixed]",
                )
            )
    return out


def format_targets(targets: list[dict], sweep_dir: Path, default_run: Path) -> str:
    """The targets as the text bench.py prints (and the README quotes)."""
    lines = ["quality targets (offline default data)"]
    lines += [f"  {t['text'].replace('[target', '[' + ('ok' if t['ok'] else 'MISSED'))}" for t in targets]
    if not (default_run / "metrics.json").is_file():
        lines.append(f"  no default run at {default_run} (run: python main.py --drop-rate 0.3 --learn-mask)")
    if not (sweep_dir / "results.csv").is_file():
        lines.append(f"  no sweep results at {sweep_dir} (run: python -m lab.mri_cs.sweep)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])  # one-line usage errors
    p.add_argument(
        "--resolution", type=positive_int, default=128, help="k-space size R x R, a multiple of 8 (default: 128)"
    )
    p.add_argument("--batch-size", type=positive_int, default=8, help="slices per training step (default: 8)")
    p.add_argument("--width", type=positive_int, default=16, help="channels of the U-Net's first level (default: 16)")
    p.add_argument(
        "--steps", type=positive_int, default=30, help="timed training steps per case and round (default: 30)"
    )
    p.add_argument("--sweep-dir", default=None, help="the sweep's folder (default: <results-root>/sweep)")
    p.add_argument(
        "--default-run", default=None, help=f"the default run's folder (default: <results-root>/{DEFAULT_RUN})"
    )
    p.add_argument("--skip-throughput", action="store_true", help="only read the quality targets")
    p.add_argument(
        "--rounds",
        type=positive_int,
        default=3,
        help="measure every case this many times, interleaved, and keep the median (default: 3)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="also time the U-Net through torch.compile (its compilation takes a minute or two)",
    )
    add_common_args(p)
    return p


def run(args: argparse.Namespace) -> dict:
    from common.runs import run_folder, save_json

    if args.resume:
        raise RunError("a benchmark has nothing to resume; run it again with --overwrite")
    if not args.skip_throughput:
        from common.runs import pick_device

        try:
            pick_device(args.device)
        except ValueError as e:
            raise RunError(str(e)) from None
    sweep_dir = Path(args.sweep_dir or Path(args.results_root) / "sweep")
    default_run = Path(args.default_run or Path(args.results_root) / DEFAULT_RUN)
    with run_folder(args.results_root, args.name, {"args": vars(args)}, overwrite=args.overwrite) as run_dir:
        rows = [] if args.skip_throughput else throughput(args)
        targets = speed_targets(rows) + check_targets(sweep_dir, default_run)
        print("\n" + format_targets(targets, sweep_dir, default_run))
        metrics = {
            "throughput": rows,
            "targets": targets,
            "settings": {k: getattr(args, k) for k in ("resolution", "batch_size", "width", "steps", "rounds")},
        }
        save_json(run_dir / "metrics.json", metrics)
    unet = [r for r in rows if r["model"] == "unet" and r["samples_per_s"] is not None]
    speed = (
        ", U-Net " + ", ".join(f"{r['samples_per_s']:.1f} slices/s ({r['device']}, {r['precision']})" for r in unet)
        if unet
        else ""
    )
    print(f"bench: {sum(t['ok'] for t in targets)} of {len(targets)} targets met{speed} -> {run_dir}")
    return metrics


def main(argv: list[str] | None = None) -> dict:
    parser = build_parser()
    args = fill_common_defaults(parser.parse_args(argv))
    if args.quick:
        args.resolution, args.width, args.steps = 32, 8, 2
    if args.resolution < 16 or args.resolution % 8:
        parser.error(f"--resolution must be a multiple of 8 and at least 16, got {args.resolution}")
    args.name = run_name(args, "bench")
    return run_command(PROG, lambda: run(args))


if __name__ == "__main__":
    main()
    sys.exit(0)
