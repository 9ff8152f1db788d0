"""common.notebook: where a report reads its runs, figures with captions, tables without index or NaN."""

from pathlib import Path

import pandas as pd

from common import notebook


def test_report_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REPORT_RUNS", raising=False)
    assert (tmp_path / notebook.report_dir("mri_cs")).resolve() == notebook.RESULTS_ROOT / "mri_cs"
    monkeypatch.setenv("REPORT_RUNS", str(tmp_path / "runs"))
    assert str(notebook.report_dir("mri_cs")) == "runs"


def test_finished_runs_are_the_folders_with_metrics(tmp_path):
    for name, files in {"b": ["metrics.json"], "a": ["metrics.json"], "unfinished": ["config.json"]}.items():
        (tmp_path / name).mkdir()
        for f in files:
            (tmp_path / name / f).write_text("{}")
    assert [p.name for p in notebook.finished_runs(tmp_path)] == ["a", "b"]
    assert notebook.finished_runs(tmp_path / "missing") == []


def test_figure_links_the_file_under_its_caption_and_names_a_missing_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loss.png").write_bytes(b"\x89PNG")
    html = notebook.figure("loss.png", "the loss falls & flattens").data
    assert '<img src="loss.png"' in html and "<figcaption>the loss falls &amp; flattens</figcaption>" in html
    missing = notebook.figure("gone.png", "x").data
    assert "<img" not in missing and "gone.png" in missing


def test_table_hides_the_index_and_shows_a_dash_for_missing_values():
    html = notebook.table(pd.DataFrame({"PSNR (dB)": [30.12345, float("nan")]}), "two runs").to_html()
    assert "30.123" in html and "–" in html and "nan" not in html.lower().replace("nan-", "")
    assert "row_heading" not in html and "two runs" in html


def test_caption_is_a_figure_caption_for_a_plot_drawn_above_it():
    assert notebook.caption("a < b").data == "<figure><figcaption>a &lt; b</figcaption></figure>"


def test_without_published_results_a_report_reads_the_assignments_own_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(notebook, "RESULTS_ROOT", tmp_path / "results")
    monkeypatch.delenv("REPORT_RUNS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert notebook.report_dir("backprop") == Path("backprop/runs")  # the starter: no results/ at all
    (tmp_path / "results" / "backprop").mkdir(parents=True)
    assert notebook.report_dir("backprop") == Path("results/backprop")
