"""A quick sweep, its published form, the report notebook and the README blocks rendered from it."""

import csv
import re
import shlex
import shutil

import numpy as np
import pytest
import torch

from common.runs import load_json
from lab.mri_cs import readme_results, sweep
from lab.results import publish
from mri_cs import evaluate
from tests.mri_cs.fixtures import snapshot

MRI_DIR = readme_results.Path(evaluate.__file__).parent
NOTEBOOK = MRI_DIR / "report.ipynb"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """``(runs root, sweep folder, published results/mri_cs)``: one drop rate, quick, published like the real runs."""
    torch.set_num_threads(1)
    runs = tmp_path_factory.mktemp("runs")
    sweep.main(["--drop-rates", "0.3", "--quick", "--results-root", str(runs)])
    root = runs / "sweep_quick"
    results = runs.parent / f"{runs.name}_results"
    publish(root, "mri_cs", results_root=results).rename(results / "mri_cs" / "sweep")
    publish(root / "drop0.3_learned", "mri_cs", results_root=results).rename(
        results / "mri_cs" / "unet_drop0.3_learned"
    )
    return runs, root, results / "mri_cs"


def test_quick_sweep_writes_its_table_and_resumes(swept, capsys):
    runs, root, _ = swept
    with open(root / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["model"], r["mask"]) for r in rows] == [("unet", "fixed"), ("unet", "learned"), ("vanilla", "fixed")]
    assert all(float(r["drop_rate"]) == 0.3 for r in rows)
    assert (root / "results.md").read_text().count("\n") == 5 and (root / "sweep.png").stat().st_size > 0
    assert (root / "config.json").is_file() and (root / "drop0.3_fixed" / "metrics.json").is_file()
    before = snapshot(root)
    with pytest.raises(SystemExit) as exc:  # a second sweep into the same folder needs --resume
        sweep.main(["--drop-rates", "0.3", "--quick", "--results-root", str(runs)])
    assert exc.value.code == 2 and "already holds a run" in capsys.readouterr().err
    sweep.main(
        ["--drop-rates", "0.3", "--quick", "--results-root", str(runs), "--resume"]
    )  # finished cases are skipped
    out = capsys.readouterr().out
    assert out.count("done, skipped") == 3 and out.strip().splitlines()[-1].endswith(str(root))
    # The cases' files are untouched; the sweep's own config.json records the resuming command (common.runs.run_folder).
    kept = lambda files: {k: v for k, v in files.items() if k.endswith((".json", ".pt", ".npz")) and k != "config.json"}  # noqa: E731
    assert kept(snapshot(root)) == kept(before)
    assert load_json(root / "config.json")["command"].endswith("--resume")


def quick_sweep(results_root, *families_and_flags: str) -> None:
    """A quick sweep at drop 0.3 with the given ``--fixed-masks`` families (and flags such as ``--resume``)."""
    flags = [f for f in families_and_flags if f.startswith("--")]
    families = [f for f in families_and_flags if not f.startswith("--")]
    sweep.main(
        ["--drop-rates", "0.3", "--quick", "--results-root", str(results_root), "--fixed-masks", *families, *flags]
    )


def test_sweep_runs_one_fixed_case_per_mask_family(tmp_path):
    """--fixed-masks: one fixed case per family, named after it, trained with that family's mask."""
    torch.set_num_threads(1)
    quick_sweep(tmp_path, "variable-density", "cartesian-random")
    root = tmp_path / "sweep_quick"
    with open(root / "results.csv") as f:
        rows = [(r["model"], r["mask"], r["family"], r["run"]) for r in csv.DictReader(f)]
    assert rows == [
        ("unet", "fixed", "cartesian-random", "drop0.3_fixed_cartesian-random"),
        ("unet", "fixed", "variable-density", "drop0.3_fixed_variable-density"),
        ("unet", "learned", "variable-density", "drop0.3_learned"),
        ("vanilla", "fixed", "uniform", "vanilla_drop0.3_fixed"),
    ]
    assert not (root / "drop0.3_fixed").exists()
    for family in ("variable-density", "cartesian-random"):
        assert load_json(root / f"drop0.3_fixed_{family}" / "config.json")["args"]["mask"] == family
    lines = np.load(root / "drop0.3_fixed_cartesian-random" / "example.npz")["mask"]
    assert ((lines == lines[:1]).all(axis=0)).all()  # whole columns: every column all kept or all dropped
    vd = np.load(root / "drop0.3_fixed_variable-density" / "example.npz")["mask"]
    assert not ((vd == vd[:1]).all(axis=0)).all()
    # The yardsticks: what density and learning add, from the cases' own test PSNRs.
    psnr = {
        r[2]: float(r[4])
        for r in csv_rows_of(root / "results.csv", "model", "mask", "family", "run", "test_psnr_mean")
        if r[0] == "unet" and r[1] == "fixed"
    }
    learned = [float(r[1]) for r in csv_rows_of(root / "results.csv", "mask", "test_psnr_mean") if r[0] == "learned"][0]
    (yard,) = csv_rows_of(root / "yardsticks.csv", "drop_rate", "best_fixed", "learning_gain_db", "density_gain_db")
    best = max(psnr, key=psnr.get)
    assert yard[:2] == ("0.3", best) and float(yard[2]) == pytest.approx(learned - psnr[best]) and yard[3] == ""
    # A TV reconstruction of one case shows in cs.csv once the sweep is resumed.
    cs_args = ["--cs", "tv", "--cs-slices", "2", "--cs-val-slices", "1"]
    evaluate.main([str(root / "drop0.3_fixed_variable-density"), *cs_args])
    quick_sweep(tmp_path, "variable-density", "cartesian-random", "--resume")
    (cs,) = csv_rows_of(root / "cs.csv", "run", "n_slices", "network_psnr", "tv_psnr", "network_over_tv_db")
    # A sweep over fewer families keeps the cases it does not list in its tables.
    quick_sweep(tmp_path, "variable-density", "--resume")
    assert len(csv_rows_of(root / "results.csv", "run")) == 4 and (root / "cs.csv").is_file()
    assert cs[:2] == ("drop0.3_fixed_variable-density", "2")
    assert float(cs[4]) == pytest.approx(float(cs[2]) - float(cs[3]))
    assert "U-Net - TV" in (root / "cs.md").read_text()


def squeeze(table: str) -> str:
    """A Markdown table without its column padding (tabulate pads the cells)."""
    return re.sub(r" {2,}", " ", table)


def csv_rows_of(path, *columns) -> list[tuple[str, ...]]:
    with open(path) as f:
        return [tuple(r[c] for c in columns) for r in csv.DictReader(f)]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--run-name", "x"], "--run-name"),
        (["--drop-rate", "0.2"], "--drop-rate"),
        (["--drop-rates", "1.2"], "argument --drop-rates"),
        (["--resume", "--seed", "1"], "--seed 0 (now 1)"),
    ],
)
def test_sweep_bad_input(swept, capsys, argv, message):
    runs, root, _ = swept
    before = snapshot(root)
    with pytest.raises(SystemExit) as exc:
        sweep.main(["--drop-rates", "0.3", "--quick", "--results-root", str(runs)] + argv)
    assert exc.value.code == 2
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if not ln.startswith(("usage:", " "))]
    assert len(err) == 1 and err[0].startswith("python -m lab.mri_cs.sweep: error:") and message in err[0]
    assert snapshot(root) == before


def outputs(nb) -> str:
    return "".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )


def test_report_on_published_runs(swept, execute_notebook):
    _, _, published = swept
    text = outputs(execute_notebook(NOTEBOOK, env={"REPORT_RUNS": published}))
    assert "learned - fixed test PSNR: largest at drop rate 0.3" in text and "vanilla (one 3x3 conv), drop 0.3" in text
    assert "no sweep" not in text and not re.search(rf"(^|\s){re.escape(str(published))}", text)  # relative paths only


def test_report_on_an_empty_folder_shows_the_commands(tmp_path, execute_notebook):
    text = outputs(execute_notebook(NOTEBOOK, env={"REPORT_RUNS": tmp_path}))
    assert "python main.py --drop-rate 0.3 --learn-mask" in text and "python -m lab.mri_cs.sweep" in text
    assert not re.search(rf"(^|\s){re.escape(str(tmp_path))}", text)


def test_readme_blocks_from_published_runs(swept):
    _, _, published = swept
    blocks = {name: getattr(readme_results, name)(published) for name in ("default_run", "bench_targets")}
    metrics = load_json(published / "unet_drop0.3_learned" / "metrics.json")
    assert f"| test ({metrics['n_slices']['test']}) | {readme_results._pm(metrics['test_psnr'])} |" in squeeze(
        blocks["default_run"]
    )
    argv = load_json(published / "unet_drop0.3_learned" / "config.json")["argv"]
    assert (
        f"made with `{shlex.join(argv)}`" in blocks["default_run"] and "held-out patients" not in blocks["default_run"]
    )
    table = readme_results.sweep_table("sweep", "results.md", "yardsticks.md", results=published)
    argv = load_json(published / "sweep" / "config.json")["argv"]
    assert table.startswith(f"`{shlex.join(argv)}` ")  # the command as run_folder recorded it
    rows = readme_results.csv_rows(published / "sweep" / "results.csv")
    assert f"| unet | 0.3 | fixed | uniform | {float(rows[0]['train_psnr_mean']):.2f}" in squeeze(table)
    assert (published / "sweep" / "yardsticks.md").read_text() in table
    assert "default run unet_drop0.3_learned" in blocks["bench_targets"]


def test_headline_splits_the_gain(tmp_path):
    """Density and learning gains per drop rate, signed; learning only where density is known (with uniform
    and variable-density both run); TV from the fixed mask's row of cs.csv."""
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / "yardsticks.csv").write_text("drop_rate,density_gain_db,learning_gain_db\n0.3,18.5,2.25\n0.7,,16.0\n")
    (sweep_dir / "cs.csv").write_text("drop_rate,mask,network_over_tv_db\n0.3,fixed,-20.125\n0.3,learned,nan\n")
    lines = squeeze(readme_results.headline(tmp_path)).splitlines()
    assert lines[2].startswith("| 0.3 | +18.50 | +2.25 | -20.12 |") and lines[3].startswith("| 0.7 | | | |")


def test_sweep_scores_its_cases_on_other_data(swept, tmp_path, capsys):
    """--resume --score-on adds evaluate.py's scores to a finished sweep; scored on its own data, a case gives back
    its own test numbers; the cross table has one line per case and dataset; a missing folder is one line."""
    runs, root, _ = swept
    copy = tmp_path / "runs"
    shutil.copytree(root, copy / root.name)
    sweep.main(["--drop-rates", "0.3", "--quick", "--results-root", str(copy), "--resume", "--score-on", "mni152"])
    with open(copy / root.name / "cross_data.csv") as f:
        rows = {(r["model"], r["mask"]): r for r in csv.DictReader(f)}
    assert set(rows) == {("unet", "fixed"), ("unet", "learned"), ("vanilla", "fixed")}
    for r in rows.values():
        own = load_json(copy / root.name / r["run"] / "metrics.json")
        assert float(r["psnr_mean"]) == pytest.approx(own["test_psnr"]["mean"], abs=1e-4)
        assert float(r["zero_filled_psnr_mean"]) == pytest.approx(own["zero_filled_test_psnr"]["mean"], abs=1e-4)
        assert (copy / root.name / r["run"] / "eval_mni152_test" / "metrics.json").is_file()
    assert "| unet | 0.3 | learned |" in squeeze((copy / root.name / "cross_data.md").read_text())
    block = readme_results.sweep_table(root.name, "cross_data.md", results=copy)  # the README's block
    assert block.endswith((copy / root.name / "cross_data.md").read_text())
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        sweep.main(
            [
                "--drop-rates",
                "0.3",
                "--quick",
                "--results-root",
                str(copy),
                "--resume",
                "--score-on",
                str(tmp_path / "nowhere"),
            ]
        )
    assert exc.value.code == 2 and "--score-on" in capsys.readouterr().err
