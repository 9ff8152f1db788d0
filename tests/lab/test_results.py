"""lab.results / lab.publish / lab.blocks, and the README blocks cog generates from results/."""

import pytest

from common.cli import RunError
from lab import blocks, results
from lab.results import ASSIGNMENTS


def make_run(root, name="run1"):
    run = root / "mri_cs" / "runs" / name
    run.mkdir(parents=True)
    (run / "metrics.json").write_text('{"psnr": 30.0}')
    (run / "config.json").write_text('{"args": {}}')
    (run / "curves.png").write_bytes(b"\x89PNG small")
    (run / "checkpoint.pt").write_bytes(b"weights")
    (run / "huge.npz").write_bytes(b"0" * (results.MAX_FILE_BYTES + 1))
    (run / "case").mkdir()
    (run / "case" / "metrics.json").write_text("{}")
    return run


def test_publish_copies_only_small_result_files(tmp_path):
    run = make_run(tmp_path)
    dest = results.publish(run, results_root=tmp_path / "results")
    assert dest == tmp_path / "results" / "mri_cs" / "run1"
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == ["case/metrics.json", "config.json", "curves.png", "metrics.json"]


def test_large_figures_are_shrunk_and_excluded_files_left_out(tmp_path):
    import numpy as np
    from PIL import Image

    run = make_run(tmp_path)
    noise = np.random.default_rng(0).integers(0, 255, (1200, 1200, 3), dtype=np.uint8)  # ~4 MB as PNG
    Image.fromarray(noise).save(run / "big.png")
    assert (run / "big.png").stat().st_size > results.MAX_FILE_BYTES
    dest = results.publish(run, results_root=tmp_path / "results", exclude=("case/*",))
    assert 0 < (dest / "big.png").stat().st_size <= results.MAX_FILE_BYTES
    assert Image.open(dest / "big.png").size[0] <= 1200 and not (dest / "case").exists()


def test_publish_replaces_the_whole_folder(tmp_path):
    run = make_run(tmp_path)
    dest = results.publish(run, results_root=tmp_path / "results")
    (dest / "stale.json").write_text("{}")
    (run / "metrics.json").write_text('{"psnr": 31.0}')
    results.publish(run, results_root=tmp_path / "results")
    assert not (dest / "stale.json").exists() and (dest / "metrics.json").read_text() == '{"psnr": 31.0}'
    assert sorted(p.name for p in dest.parent.iterdir()) == ["run1"]  # no staging folder left


def test_publish_refuses_unfinished_runs_and_unknown_places(tmp_path):
    run = tmp_path / "mri_cs" / "runs" / "half"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    with pytest.raises(RunError, match="not finished"):
        results.publish(run, results_root=tmp_path / "results")
    other = tmp_path / "elsewhere" / "r"
    other.mkdir(parents=True)
    (other / "metrics.json").write_text("{}")
    with pytest.raises(RunError, match="not inside"):
        results.publish(other, results_root=tmp_path / "results")
    assert results.publish(other, "backprop", results_root=tmp_path / "results").parent.name == "backprop"


def test_publish_command_is_one_line_on_error(tmp_path, capsys):
    from lab import publish

    with pytest.raises(SystemExit) as e:
        publish.main([str(tmp_path / "missing")])
    assert e.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_blocks_fill_and_detect_a_changed_number():
    text = "PSNR <!-- results:begin psnr -->30.0<!-- results:end psnr --> dB\n"
    assert blocks.read_blocks(text, "results") == {"psnr": "30.0"}
    assert blocks.fill_blocks(text, {"psnr": "30.1"}, "results") == text.replace("30.0", "30.1")
    table = "| a |\n| - |"
    assert f"\n\n{table}\n\n" in blocks.fill_blocks(text, {"psnr": table}, "results")
    with pytest.raises(ValueError, match="missing"):
        blocks.fill_blocks(text, {"psnr": "1", "other": "2"}, "results")


GENERATED_PAGES = sorted(
    p.relative_to(results.REPO_ROOT).as_posix()
    for p in [*(results.REPO_ROOT / a / "README.md" for a in ASSIGNMENTS), *(results.REPO_ROOT / "docs").glob("*.md")]
    if "[[[cog" in p.read_text(encoding="utf-8")
)


def test_every_assignment_readme_has_generated_results():
    assert {f"{a}/README.md" for a in ASSIGNMENTS} <= set(GENERATED_PAGES)


@pytest.mark.parametrize("page", GENERATED_PAGES)
def test_generated_numbers_match_the_committed_results(page):
    """Every generated block of a README or docs page is what cog renders from results/ now (``cog --check``)."""
    from cogapp import Cog

    assert Cog().main(["cog", "--check", "-I", str(results.REPO_ROOT), str(results.REPO_ROOT / page)]) == 0, (
        f"run: cog -r -I . {page}"
    )
