"""The command line end to end on tiny fixtures: run folders, resume, errors, and the report notebook."""
from pathlib import Path

import pytest

from auto_decoder.main import main
from common.runs import load_checkpoint, load_json

NOTEBOOK = Path(__file__).resolve().parents[2] / "auto_decoder" / "report.ipynb"


def test_runs_write_complete_folders(tiny_runs):
    clf = load_json(tiny_runs / "classifier" / "metrics.json")
    assert 0 <= clf["test_accuracy"] <= 1
    for name in ("ad-n256", "vad-gaussian-n256", "vad-logistic-n256"):
        run = tiny_runs / name
        for f in ("config.json", "metrics.json", "checkpoint.pt", "samples.png", "tsne.png", "interpolation.png", "prior_grid.png"):
            assert (run / f).is_file(), f"{name}/{f} missing"
        m, c = load_json(run / "metrics.json"), load_json(run / "config.json")
        assert c["dataset"]["train_size"] == m["train_size"] and "CSV" in c["dataset"]["train"] and c["device"] == "cpu"
        assert m["test_reconstruction_loss"] > 0 and len(m["history"]) == 2
        q = m["sample_quality"]
        assert 0 <= q["confident_share"] <= 1 and q["num_samples"] == 100
        assert m["interpolation_classes"][0] != m["interpolation_classes"][1]
        state = load_checkpoint(run / "checkpoint.pt")  # weights_only=True
        assert state["epoch"] == 2 and "test_latents" in state


def test_resume_continues_and_reuses_the_fit(tiny_runs, csv_dir, capsys):
    base = ["--data-dir", str(csv_dir), "--results-root", str(tiny_runs), "--batch-size", "16", "--subset", "20"]
    main(["ad", *base, "--name", "resumed", "--epochs", "1", "--tsne-points", "15"])
    main(["ad", *base, "--name", "resumed", "--epochs", "2", "--tsne-points", "15", "--resume"])
    assert "resumed from" in capsys.readouterr().out
    m = load_json(tiny_runs / "resumed" / "metrics.json")
    assert [h["epoch"] for h in m["history"]] == [1, 2]
    # resuming a finished run trains nothing and keeps the fitted test latents
    main(["ad", *base, "--name", "resumed", "--epochs", "2", "--tsne-points", "15", "--resume"])
    again = load_json(tiny_runs / "resumed" / "metrics.json")
    assert again["history"] == m["history"] and again["test_reconstruction_loss"] == m["test_reconstruction_loss"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ad", "--epochs", "0"], "--epochs must be at least 1"),
        (["vad", "--family", "cauchy"], "invalid choice"),
        (["ad", "--subset", "-3"], "--subset"),
    ],
)
def test_bad_flags_end_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_missing_data_and_bad_interpolation_pair_end_with_one_line(tmp_path, csv_dir):
    with pytest.raises(SystemExit, match="FashionMNIST/raw.*fashion-mnist_train.csv"):
        main(["ad", "--quick", "--data-dir", str(tmp_path / "nowhere"), "--results-root", str(tmp_path)])
    with pytest.raises(SystemExit, match="pick two classes"):  # test images 0 and 10 are both class 0
        main(["ad", "--quick", "--epochs", "1", "--data-dir", str(csv_dir), "--results-root", str(tmp_path),
              "--subset", "20", "--interp", "0", "10", "--tsne-points", "15"])


def test_summary_compares_vads_with_the_auto_decoder(tiny_runs, capsys):
    main(["summary", "--results-root", str(tiny_runs)])
    out = capsys.readouterr().out
    assert "vad-gaussian-n256" in out and "auto-decoder" in out


def test_report_notebook_runs_on_tiny_runs(tiny_runs, execute_notebook):
    nb = execute_notebook(NOTEBOOK, env={"AUTO_DECODER_RUNS": tiny_runs})
    text = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", []))
    assert "model runs: ad-n256" in text
