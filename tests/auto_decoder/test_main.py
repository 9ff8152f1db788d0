"""The command line end to end on tiny fixtures: run folders, defaults, resume, and one-line errors."""

import json
from pathlib import Path

import pytest

from auto_decoder import main as main_module
from auto_decoder.main import main, parse
from common.runs import load_checkpoint, load_json, save_checkpoint

MODEL_RUNS = ("ad-n256_quick", "vad-gaussian-n256_quick", "vad-logistic-n256_quick", "vae-n256_quick")


def test_runs_write_complete_folders_and_training_helps(tiny_runs):
    clf = load_json(tiny_runs / "classifier_quick" / "metrics.json")  # that it learns: test_models.py
    assert 0 <= clf["test_accuracy"] <= 1 and clf["real_test_images"]["class_entropy_bits"] >= 0
    assert clf["frechet_floor"] >= 0 and clf["val_size"] == 5 and clf["train_size"] == 55
    assert 1 <= clf["best_epoch"] <= 2 and clf["val_accuracy"] == max(h["val_accuracy"] for h in clf["history"])
    for name in MODEL_RUNS:
        run = tiny_runs / name
        for f in (
            "config.json",
            "metrics.json",
            "checkpoint.pt",
            "samples.png",
            "tsne.png",
            "interpolation.png",
            "prior_grid.png",
            "interpolation.npz",
            "samples.npz",
        ):
            assert (run / f).is_file(), f"{name}/{f} missing"
        m, c = load_json(run / "metrics.json"), load_json(run / "config.json")
        log = (run / "log.csv").read_text().splitlines()  # one row per epoch, written as the run went
        assert log[0].startswith("epoch,") and len(log) == 1 + len(m["history"]), name
        assert c["args"]["quick"] and c["args"]["batch_size"] == 16 and c["command"] == name.split("-")[0]
        assert c["dataset"]["train_size"] == m["train_size"] and "CSV" in c["dataset"]["train"] and c["device"] == "cpu"
        assert m["train_size"] + m["val_size"] == 60 and m["test_size"] == 30
        # a few steps of training beat the untrained decoder
        assert m["train_reconstruction_loss"] < m["untrained_train_reconstruction_loss"] - 0.01, name
        assert m["history"][-1]["loss"] < m["history"][0]["loss"] and 5 < m["test_psnr"] < 40
        q = m["sample_quality"]
        assert q["num_samples"] == 100 and sum(q["class_histogram"]) == pytest.approx(1)
        assert (
            q["frechet_distance"] > 0 and q["frechet_floor"] == clf["frechet_floor"] and q["frechet_test_images"] == 30
        )
        assert m["interpolation_classes"][0] != m["interpolation_classes"][1]
        state = load_checkpoint(run / "checkpoint.pt")  # weights_only=True
        assert state["step"] == len(m["history"]) == m["epochs_trained"]
        assert oct((run / "metrics.json").stat().st_mode & 0o777) == "0o644"
        if name.startswith("vae"):
            assert "test_fit" not in m and "test_latents" not in state["extra"]
        else:  # fitting the test latents beats their start, and the fit is recorded
            assert m["test_reconstruction_loss"] < m["test_reconstruction_loss_before_fit"] - 0.01, name
            assert m["test_fit"]["steps"] == len(m["test_fit"]["loss_curve"]) == 20 and "test_latents" in state["extra"]
    fixed = load_json(tiny_runs / "ad-n256_quick" / "metrics.json")
    assert fixed["stopped"] == "fixed_epochs" and fixed["val_size"] == 0 and fixed["best_epoch"] is None
    held = load_json(tiny_runs / "vad-logistic-n256_quick" / "metrics.json")  # --val-size 10, 2 epochs at most
    assert held["val_size"] == 10 and held["stopped"] in ("plateau", "max_epochs") and held["best_epoch"] in (1, 2)
    assert all("val_loss" in h for h in held["history"])
    # the held-out images also score the samples (the distance that chooses between runs); no held-out images, no score
    assert held["sample_quality"]["val_frechet_distance"] > 0 and held["sample_quality"]["frechet_val_images"] == 10
    assert "val_frechet_distance" not in fixed["sample_quality"]


def test_each_sub_command_keeps_its_own_defaults():
    assert parse(["classifier"]).batch_size == 128  # not the 32 of ad/vad/vae
    assert parse(["ad"]).batch_size == parse(["vad"]).batch_size == parse(["vae"]).batch_size == 32
    assert parse(["classifier"]).epochs == 10 and parse(["ad"]).epochs == parse(["vae"]).epochs == 150
    assert parse(["ad"]).test_steps == 800 and parse(["ad", "--quick"]).test_steps == 20
    assert parse(["ad"]).val_size == parse(["vae"]).val_size == 0 and parse(["vae"]).test_size == 2000
    assert parse(["vae"]).kl_weight == parse(["vad"]).kl_weight and not hasattr(parse(["vae"]), "latent_lr")
    assert parse(["--seed", "4", "ad"]).seed == parse(["ad", "--seed", "4"]).seed == 4
    assert parse(["vad", "--family", "laplace"]).name == "vad-laplace-n1000"
    assert parse(["ad", "--subset", "0"]).name == "ad-full" and parse(["vae", "--subset", "0"]).name == "vae-full"
    assert parse(["ad", "--quick"]).name == "ad-n256_quick" and parse(["ad", "--quick"]).epochs == 2
    assert parse(["vae"]).samples == 10_000 and parse(["vae", "--quick"]).samples == 100
    assert parse(["classifier"]).device == "auto" and parse(["ad"]).results_root == "runs"


def test_family_names_in_main_match_the_module():
    from auto_decoder.VariationalAutoDecoder import FAMILIES

    assert sorted(main_module.FAMILIES) == sorted(FAMILIES)


def test_last_line_names_the_run_folder_and_its_numbers(tiny_runs, csv_dir, capsys):
    main(
        [
            "ad",
            "--data-dir",
            str(csv_dir),
            "--results-root",
            str(tiny_runs),
            "--batch-size",
            "16",
            "--subset",
            "20",
            "--epochs",
            "1",
            "--tsne-points",
            "15",
            "--name",
            "lastline",
            "--test-steps",
            "5",
            "--samples",
            "300",
            "--classifier",
            str(tiny_runs / "classifier_quick" / "checkpoint.pt"),
        ]
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    m = load_json(tiny_runs / "lastline" / "metrics.json")
    assert last.startswith(str(tiny_runs / "lastline")) and f"{m['test_reconstruction_loss']:.4f}" in last
    assert (
        f"{m['test_psnr']:.2f} dB" in last and f"Frechet distance {m['sample_quality']['frechet_distance']:.2f}" in last
    )


def test_interrupted_run_resumes(tiny_runs, csv_dir, capsys, monkeypatch):
    from auto_decoder import train

    base = [
        "ad",
        "--data-dir",
        str(csv_dir),
        "--results-root",
        str(tiny_runs),
        "--batch-size",
        "16",
        "--subset",
        "20",
        "--tsne-points",
        "15",
        "--name",
        "resumed",
        "--val-size",
        "4",
        "--test-steps",
        "60",
        "--samples",
        "50",
        "--epochs",
        "2",
    ]
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
    assert load_checkpoint(tiny_runs / "resumed" / "checkpoint.pt")["step"] == 1
    monkeypatch.setattr(train, "train_one_epoch", real)
    main([*base, "--resume"])
    assert "resuming" in capsys.readouterr().out
    m = load_json(tiny_runs / "resumed" / "metrics.json")
    assert [h["epoch"] for h in m["history"]] == [1, 2] and all("val_loss" in h for h in m["history"])
    # resuming a finished run trains nothing and keeps the fitted test latents
    main([*base, "--resume"])
    again = load_json(tiny_runs / "resumed" / "metrics.json")
    assert again["history"] == m["history"] and again["test_reconstruction_loss"] == m["test_reconstruction_loss"]
    assert again["test_fit"] == m["test_fit"]
    # resuming with more epochs trains on, and the test latents are fitted again for the new decoder
    main([*base[:-1], "3", "--resume"])
    more = load_json(tiny_runs / "resumed" / "metrics.json")
    assert more["history"][:2] == m["history"] and len(more["history"]) == 3
    assert more["test_fit"]["loss_curve"] != m["test_fit"]["loss_curve"]


def test_overwrite_replaces_a_finished_run(tiny_runs, csv_dir):
    base = [
        "ad",
        "--data-dir",
        str(csv_dir),
        "--results-root",
        str(tiny_runs),
        "--batch-size",
        "16",
        "--subset",
        "20",
        "--epochs",
        "1",
        "--tsne-points",
        "15",
        "--name",
        "replaced",
        "--test-steps",
        "5",
        "--samples",
        "50",
    ]
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
    "interp beyond the fitted test images": (["ad", "--test-size", "5", "--interp", "0", "7"], "--interp indices"),
    "validation takes every image": (["vad", "--val-size", "60"], "cannot hold out 60 of 60"),
    "vae validation takes every image": (["vae", "--val-size", "70"], "cannot hold out 70 of 60"),
    "old classifier checkpoint": (["vae", "--classifier", "{tmp}/old.pt"], "not a finished classifier checkpoint"),
    "missing classifier": (["ad", "--classifier", "{tmp}/none.pt"], "no such file"),
    "corrupt classifier": (["ad", "--classifier", "{tmp}/corrupt.pt"], "not a finished classifier checkpoint"),
    "resume of a missing run": (["ad", "--resume", "--name", "never-made"], "there is no run"),
    # the run folder is checked before the data is loaded
    "resume of a missing run, no data": (
        ["ad", "--resume", "--name", "never-made", "--data-dir", "{tmp}/no"],
        "there is no run",
    ),
    "finished run in the way": (["ad", "--quick"], "already holds a run"),
    "resume with another seed": (["ad", "--quick", "--resume", "--seed", "5"], "--seed 0"),
    "classifier in the way": (["classifier", "--quick"], "already holds a run"),
    "unwritable results root": (["ad", "--results-root", "/proc/auto_decoder_runs"], "/proc/auto_decoder_runs"),
    "summary of an empty folder": (["summary", "--results-root", "{tmp}"], "no ad/vad/vae run folders"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_changes_no_file(case, tiny_runs, csv_dir, tmp_path, capsys):
    argv, message = BAD_INPUT[case]
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    from auto_decoder.classifier import FashionClassifier

    save_checkpoint(tmp_path / "old.pt", {"model": FashionClassifier().state_dict()})  # no reference statistics
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
    assert message in err and err.startswith("main.py")
    assert snapshot(existing) == before and sorted(p.name for p in tiny_runs.iterdir()) == folders


def test_summary_compares_vads_with_the_auto_decoder(tiny_runs, capsys):
    main(["summary", "--results-root", str(tiny_runs)])
    out = capsys.readouterr().out.strip().splitlines()
    m = load_json(tiny_runs / "vad-gaussian-n256_quick" / "metrics.json")
    table = next(line for line in out if line.startswith("| vad-gaussian-n256_quick"))
    assert f"{m['test_reconstruction_loss']:.4f}" in table and f"{m['sample_quality']['frechet_distance']:.2f}" in table
    assert f"{m['test_psnr']:.2f}" in table and "20 steps (30 images)" in table
    assert "| vae-n256_quick" in "\n".join(out) and "encoded (30 images)" in "\n".join(out)
    fd, ad_fd = (
        m["sample_quality"]["frechet_distance"],
        load_json(tiny_runs / "ad-n256_quick" / "metrics.json")["sample_quality"]["frechet_distance"],
    )
    vs_ad = next(
        line for line in out if line.startswith("vad-gaussian-n256_quick: Fréchet distance") and "ad-n256_quick" in line
    )
    assert ("does NOT beat" in vs_ad) == (fd >= ad_fd)
    vae_fd = load_json(tiny_runs / "vae-n256_quick" / "metrics.json")["sample_quality"]["frechet_distance"]
    vs_vae = next(
        line
        for line in out
        if line.startswith("vad-gaussian-n256_quick") and f"{fd / vae_fd:.3f} × vae-n256_quick" in line
    )
    assert ("NOT within the target 1.25" in vs_vae) == (fd / vae_fd > 1.25)
    assert out[-1].startswith(str(tiny_runs))


def fake_run(model: str, kl: float, val_fd: float, fd: float, size: int = 1000) -> tuple[dict, dict]:
    quality = {
        "frechet_distance": fd,
        "val_frechet_distance": val_fd,
        "confident_share": 0.5,
        "class_entropy_bits": 3.2,
    }
    return {"model": model, "train_size": size, "sample_quality": quality}, {"args": {"kl_weight": kl}}


def test_runs_are_chosen_on_the_validation_distance_not_the_test_one():
    from auto_decoder.summary import chosen, verdicts

    runs = {
        "ad": fake_run("ad", 0, 150, 140),
        "vad-a-kl2": fake_run("vad-gaussian", 2, 110, 90),
        "vad-a-kl4": fake_run("vad-gaussian", 4, 100, 99),
        "vad-b": fake_run("vad-laplace", 2, 105, 80),
        "vae-kl2": fake_run("vae", 2, 95, 70),
        "vae-kl4": fake_run("vae", 4, 90, 80),
        "vae-other-size": fake_run("vae", 2, 10, 10, size=500),
    }
    assert chosen(runs, "vae", 1000)[0] == "vae-kl4" and chosen(runs, "vad-gaussian", 1000)[0] == "vad-a-kl4"
    assert chosen(runs, "vae", 500)[0] == "vae-other-size" and chosen(runs, "vad-logistic", 1000) is None
    lines = verdicts(runs)
    assert "`vad-a-kl2`: Fréchet distance 90.00 is 1.125 × `vae-kl4`'s 80.00 (within the target 1.25 ×)" in lines
    best = lines[-1]  # the lowest validation distance among the VADs (vad-a-kl4, 100), not the lowest test one (vad-b)
    assert best.startswith("**Best VAD on 1,000 images, chosen on validation**") and "`vad-a-kl4`" in best
    assert "99.00 is 1.238 × `vae-kl4`'s 80.00 (within" in best
    runs["vad-a-kl4"] = fake_run("vad-gaussian", 4, 100, 100.5)
    assert "1.256 × `vae-kl4`'s 80.00 (NOT within the target" in verdicts(runs)[-1]


def test_help_is_instant_and_imports_no_torch(capsys):
    import subprocess
    import sys

    code = "import auto_decoder.main, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert json.loads(json.dumps(vars(parse(["vad", "--interp", "1", "2"]))))["interp"] == [1, 2]  # config.json
    with pytest.raises(SystemExit):
        main(["vad", "--help"])
    text = capsys.readouterr().out
    for default in (
        "(default: 1000)",
        "(default: gaussian)",
        "(default: runs)",
        "(default: data)",
        "(default: 800)",
        "(default: pca)",
    ):
        assert text.count(default) == 1, default  # each default shown once
    assert text.count("(default: auto)") == 2  # --device and --precision, once each
    assert "None" not in text
