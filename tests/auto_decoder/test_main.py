"""The command line end to end on tiny fixtures: run folders, defaults, resume, and one-line errors."""
import json
from pathlib import Path

import pytest

from auto_decoder import main as main_module
from auto_decoder.main import main, parse
from common.runs import load_checkpoint, load_json

MODEL_RUNS = ("ad-n256_quick", "vad-gaussian-n256_quick", "vad-logistic-n256_quick")


def test_runs_write_complete_folders_and_training_helps(tiny_runs):
    clf = load_json(tiny_runs / "classifier_quick" / "metrics.json")
    assert clf["test_accuracy"] > 0.3  # chance is 0.1; the fixture's classes are bars at different heights
    for name in MODEL_RUNS:
        run = tiny_runs / name
        for f in ("config.json", "metrics.json", "checkpoint.pt", "samples.png", "tsne.png", "interpolation.png",
                  "prior_grid.png", "interpolation.npz", "samples.npz"):
            assert (run / f).is_file(), f"{name}/{f} missing"
        m, c = load_json(run / "metrics.json"), load_json(run / "config.json")
        assert c["args"]["quick"] and c["args"]["batch_size"] == 16 and c["command"] == name.split("-")[0]
        assert c["dataset"]["train_size"] == m["train_size"] and "CSV" in c["dataset"]["train"] and c["device"] == "cpu"
        # a few steps of training beat the untrained decoder, and fitting the test latents beats their start
        assert m["train_reconstruction_loss"] < m["untrained_train_reconstruction_loss"] - 0.01, name
        assert m["test_reconstruction_loss"] < m["test_reconstruction_loss_before_fit"] - 0.01, name
        assert len(m["history"]) == 2 and m["history"][1]["loss"] < m["history"][0]["loss"]
        q = m["sample_quality"]
        assert q["num_samples"] == 100 and sum(q["class_histogram"]) == pytest.approx(1)
        assert m["interpolation_classes"][0] != m["interpolation_classes"][1]
        state = load_checkpoint(run / "checkpoint.pt")  # weights_only=True
        assert state["epoch"] == 2 and "test_latents" in state
        assert oct((run / "metrics.json").stat().st_mode & 0o777) == "0o644"


def test_each_sub_command_keeps_its_own_defaults():
    assert parse(["classifier"]).batch_size == 64  # not the 32 of ad/vad
    assert parse(["ad"]).batch_size == 32 and parse(["vad"]).batch_size == 32
    assert parse(["classifier"]).epochs == 5 and parse(["ad"]).epochs == 150
    assert parse(["ad"]).test_epochs == 150 and parse(["ad", "--epochs", "3"]).test_epochs == 3
    assert parse(["--seed", "4", "ad"]).seed == parse(["ad", "--seed", "4"]).seed == 4
    assert parse(["vad", "--family", "laplace"]).run_name == "vad-laplace-n1000"
    assert parse(["ad", "--subset", "0"]).run_name == "ad-full"
    assert parse(["ad", "--quick"]).run_name == "ad-n256_quick" and parse(["ad", "--quick"]).epochs == 2
    assert parse(["classifier"]).device == "auto" and parse(["ad"]).results_root == "runs"


def test_family_names_in_main_match_the_module():
    from auto_decoder.VariationalAutoDecoder import FAMILIES

    assert sorted(main_module.FAMILIES) == sorted(FAMILIES)


def test_last_line_names_the_run_folder_and_its_numbers(tiny_runs, csv_dir, capsys):
    main(["ad", "--data-dir", str(csv_dir), "--results-root", str(tiny_runs), "--batch-size", "16", "--subset", "20",
          "--epochs", "1", "--tsne-points", "15", "--name", "lastline"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = load_json(tiny_runs / "lastline" / "metrics.json")
    assert last.startswith(str(tiny_runs / "lastline")) and f"{m['test_reconstruction_loss']:.4f}" in last


def test_interrupted_run_resumes(tiny_runs, csv_dir, capsys, monkeypatch):
    from auto_decoder import train

    base = ["ad", "--data-dir", str(csv_dir), "--results-root", str(tiny_runs), "--batch-size", "16", "--subset", "20",
            "--tsne-points", "15", "--name", "resumed", "--epochs", "2"]
    real, calls = train.train_one_epoch, []

    def interrupted_in_epoch_two(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(train, "train_one_epoch", interrupted_in_epoch_two)
    with pytest.raises(SystemExit) as exc:
        main(base)
    assert exc.value.code == 130 and "--resume" in capsys.readouterr().err
    assert load_checkpoint(tiny_runs / "resumed" / "checkpoint.pt")["epoch"] == 1
    monkeypatch.setattr(train, "train_one_epoch", real)
    main([*base, "--resume"])
    assert "resumed from" in capsys.readouterr().out
    m = load_json(tiny_runs / "resumed" / "metrics.json")
    assert [h["epoch"] for h in m["history"]] == [1, 2]
    # resuming a finished run trains nothing and keeps the fitted test latents
    main([*base, "--resume"])
    again = load_json(tiny_runs / "resumed" / "metrics.json")
    assert again["history"] == m["history"] and again["test_reconstruction_loss"] == m["test_reconstruction_loss"]


def test_overwrite_replaces_a_finished_run(tiny_runs, csv_dir):
    base = ["ad", "--data-dir", str(csv_dir), "--results-root", str(tiny_runs), "--batch-size", "16", "--subset", "20",
            "--epochs", "1", "--tsne-points", "15", "--name", "replaced"]
    main(base)
    (tiny_runs / "replaced" / "stale.txt").write_text("from the old run")
    main([*base, "--overwrite", "--seed", "1"])
    assert not (tiny_runs / "replaced" / "stale.txt").exists()
    assert load_json(tiny_runs / "replaced" / "config.json")["args"]["seed"] == 1


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


BAD_INPUT = {
    "epochs 0": (["ad", "--epochs", "0"], "--epochs"),
    "negative lr": (["ad", "--lr", "-1"], "--lr"),
    "classifier lr": (["classifier", "--lr", "0"], "--lr"),
    "negative subset": (["ad", "--subset", "-3"], "--subset"),
    "unknown family": (["vad", "--family", "cauchy"], "invalid choice"),
    "bad device name": (["ad", "--device", "gpu"], "--device"),
    "unavailable device": (["ad", "--device", "mps"], "MPS is not available"),
    "missing data": (["ad", "--data-dir", "{tmp}/nowhere"], "fashion-mnist_train.csv"),
    "interp same class": (["ad", "--interp", "0", "10"], "pick two classes"),
    "interp out of range": (["ad", "--interp", "0", "999"], "--interp indices"),
    "missing classifier": (["ad", "--classifier", "{tmp}/none.pt"], "no such file"),
    "corrupt classifier": (["ad", "--classifier", "{tmp}/corrupt.pt"], "not a classifier checkpoint"),
    "resume of a missing run": (["ad", "--resume", "--name", "never-made"], "there is no run"),
    # the run folder is checked before the data is loaded
    "resume of a missing run, no data": (["ad", "--resume", "--name", "never-made", "--data-dir", "{tmp}/no"], "there is no run"),
    "finished run in the way": (["ad", "--quick"], "already holds a run"),
    "resume with another seed": (["ad", "--quick", "--resume", "--seed", "5"], "--seed 0"),
    "classifier in the way": (["classifier", "--quick"], "already holds a run"),
    "unwritable results root": (["ad", "--results-root", "/proc/auto_decoder_runs"], "/proc/auto_decoder_runs"),
    "summary of an empty folder": (["summary", "--results-root", "{tmp}"], "no ad/vad run folders"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_changes_no_file(case, tiny_runs, csv_dir, tmp_path, capsys):
    argv, message = BAD_INPUT[case]
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    argv = [*argv[:1], "--data-dir", str(csv_dir), "--results-root", str(tiny_runs), "--batch-size", "16", *argv[1:]]
    if argv[0] == "summary":
        argv = [a for a in argv if a not in ("--data-dir", str(csv_dir), "--batch-size", "16")]
    existing = tiny_runs / ("classifier_quick" if argv[0] == "classifier" else "ad-n256_quick")
    before, folders = snapshot(existing), sorted(p.name for p in tiny_runs.iterdir())
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert message in err and err.startswith("auto_decoder")
    assert snapshot(existing) == before and sorted(p.name for p in tiny_runs.iterdir()) == folders


def test_summary_compares_vads_with_the_auto_decoder(tiny_runs, capsys):
    main(["summary", "--results-root", str(tiny_runs)])
    out = capsys.readouterr().out.strip().splitlines()
    m = load_json(tiny_runs / "vad-gaussian-n256_quick" / "metrics.json")
    table = next(line for line in out if line.startswith("| vad-gaussian-n256_quick"))
    assert f"{m['test_reconstruction_loss']:.4f}" in table
    assert any(line.startswith("vad-gaussian-n256_quick: confident share") and "ad-n256_quick" in line for line in out)
    assert out[-1].startswith(str(tiny_runs))


def test_help_is_instant_and_imports_no_torch(capsys):
    import subprocess
    import sys

    code = "import auto_decoder.main, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert json.loads(json.dumps(vars(parse(["vad", "--interp", "1", "2"]))))["interp"] == [1, 2]  # config.json
    with pytest.raises(SystemExit):
        main(["vad", "--help"])
    text = capsys.readouterr().out
    for default in ("(default: 1000)", "(default: gaussian)", "(default: auto)", "(default: runs)", "(default: data)"):
        assert text.count(default) == 1, default  # each default shown once
    assert "None" not in text
