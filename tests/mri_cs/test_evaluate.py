"""evaluate.py: a finished run scored on other data without retraining, its files, its errors and bad configs."""

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Subset

from common.metrics import batch_psnr
from common.runs import load_checkpoint, load_json
from mri_cs import evaluate
from mri_cs import main as mri_main
from mri_cs.data import build_datasets
from mri_cs.data.acquisition import AcquiredSlices, Acquisition
from mri_cs.models.subsampling import SubsamplingLayer
from mri_cs.train import DRAW_SEEDS

from .fixtures import make_image_dir, snapshot, write_nifti

MRI_DIR = Path(mri_main.__file__).parent


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``(run folder, its metrics, image folder, NIfTI folder)``: a quick U-Net run (learned mask, drop 0.5) trained
    on ``brain_tumor/images/1..40.png``, and three small NIfTI volumes to test it on."""
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("evaluate")
    images = make_image_dir(base / "brain_tumor" / "images", n=40)
    nifti = base / "volumes_t1"
    nifti.mkdir()
    for i in range(3):
        write_nifti(nifti / f"sub{i}.nii.gz", seed=10 + i)
    metrics = mri_main.main(
        [
            "--quick",
            "--drop-rate",
            "0.5",
            "--learn-mask",
            "--data-dir",
            str(images.parent),
            "--results-root",
            str(base / "runs"),
        ]
    )
    return base / "runs" / "unet_drop0.5_learned_quick", metrics, images, nifti


def test_scoring_a_run_on_its_own_data_gives_back_its_test_numbers(trained, capsys):
    run, metrics, images, _ = trained
    scored = evaluate.main([str(run), "--data-dir", str(images.parent)])
    reported = {
        "psnr": "test_psnr",
        "ssim": "test_ssim",
        "zero_filled_psnr": "zero_filled_test_psnr",
        "zero_filled_ssim": "zero_filled_test_ssim",
    }
    for key, run_key in reported.items():  # same weights, same mask, same slices
        assert scored[key]["mean"] == pytest.approx(metrics[run_key]["mean"], rel=1e-6), key
    assert scored["n_slices"] == metrics["n_slices"]["test"] and scored["keep_fraction"] == metrics["keep_fraction"]
    # fastMRI's per-volume PSNR: the test split's contiguous blocks of files are its volumes
    assert scored["psnr_volume"]["mean"] == pytest.approx(metrics["test_psnr_volume"]["mean"], rel=1e-6)
    assert (
        scored["n_volumes"]
        == metrics["n_test_volumes"]
        == len(load_json(run / "config.json")["data"]["file_ranges"]["test"])
    )
    assert metrics["zero_filled_test_psnr_volume"]["mean"] < metrics["test_psnr_volume"]["mean"]
    assert (
        scored["psnr"]["mean"] > scored["zero_filled_psnr"]["mean"]
    )  # the trained weights are loaded, not a fresh net
    out = run / "eval_brain_tumor_test"
    assert load_json(out / "metrics.json")["psnr"] == scored["psnr"] and (out / "examples.png").stat().st_size > 0
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in out.iterdir())
    assert scored["trained_on"]["layout"] == scored["tested_on"]["layout"] == "image folder"
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("trained on MR magnitude images, brain_tumor/images -> tested on MR magnitude images")
    assert f"PSNR {scored['psnr']['mean']:.2f} (zero-filled {scored['zero_filled_psnr']['mean']:.2f}): " in last
    assert last.endswith(f"{scored['gain_db']:+.2f} dB -> {out}")
    val = evaluate.main(
        [str(run), "--data-dir", str(images.parent), "--split", "val"]
    )  # the split best.pt was chosen on
    assert (
        val["psnr"]["mean"] == pytest.approx(metrics["best_val_psnr"], rel=1e-5)
        and val["n_slices"] == metrics["n_slices"]["val"]
    )
    assert (run / "eval_brain_tumor_val" / "metrics.json").is_file()


def zero_filled_psnr(kspace: torch.Tensor, target: torch.Tensor, mask: np.ndarray) -> torch.Tensor:
    """Per-slice PSNR of the magnitude of the centred inverse FFT (numpy's) of the masked k-space."""
    k = torch.view_as_complex(kspace.contiguous()).numpy() * mask
    image = np.abs(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)))
    return batch_psnr(torch.from_numpy(image).float().unsqueeze(1), target)


def test_zero_filled_score_on_other_data_is_that_of_the_checkpoint_mask(trained):
    run, _, _, nifti = trained
    scored = evaluate.main([str(run), "--data-dir", str(nifti), "--split", "all"])
    assert (run / "eval_volumes_t1_all" / "metrics.json").is_file()
    scores = load_checkpoint(run / "best.pt")["model"]["subsample.scores"]
    scores[SubsamplingLayer(0.5, "cpu", True, (32, 32)).centre_region()] = float("inf")  # a learned mask's centre
    mask = np.zeros(scores.numel(), dtype=np.float32)
    mask[torch.topk(scores.flatten(), round(0.5 * 32 * 32)).indices.numpy()] = 1
    datasets, info = build_datasets(nifti, 32, seed=0)  # the run's seed and resolution; --quick's subset of each split
    subsets = {
        k: Subset(d, np.linspace(0, len(d) - 1, 16 if k == "train" else 8).astype(int).tolist())
        for k, d in datasets.items()
    }
    measured = {k: AcquiredSlices(d, Acquisition(), DRAW_SEEDS[k]) for k, d in subsets.items()}  # the seeded draws
    pairs = [measured[k][i] for k in datasets for i in range(len(measured[k]))]
    kspace, target = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    direct = zero_filled_psnr(kspace, target, mask.reshape(32, 32))
    assert scored["n_slices"] == 32 and scored["zero_filled_psnr"]["mean"] == pytest.approx(
        float(direct.mean()), rel=1e-5
    )
    assert scored["tested_on"]["data"]["volumes"] == info["volumes"] and scored["tested_on"]["split"] == "all"


def test_without_data_dir_it_scores_the_template_test_split(trained, capsys):
    run = trained[0]
    scored = evaluate.main([str(run), "--name", "template"])
    assert scored["tested_on"]["dataset"].startswith("MNI152") and scored["n_slices"] == 8
    assert (run / "eval_template" / "metrics.json").is_file()
    assert (
        evaluate.slug(None, "test") == "mni152_test"
        and evaluate.slug("/x/brain_tumor/images", "all") == "brain_tumor_images_all"
    )


@pytest.fixture(scope="module")
def bad_runs(trained, tmp_path_factory):
    """Run folders evaluate.py must refuse: no best.pt (a published copy), a corrupt best.pt;
    and a folder of no layout."""
    base = tmp_path_factory.mktemp("bad_runs")
    shutil.copytree(trained[0], base / "published", ignore=shutil.ignore_patterns("*.pt", "eval_*"))
    shutil.copytree(trained[0], base / "corrupt", ignore=shutil.ignore_patterns("eval_*"))
    (base / "corrupt" / "best.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    (base / "notes").mkdir()
    (base / "notes" / "readme.txt").write_text("no data here")
    config = load_json(trained[0] / "config.json")
    for name, change in (
        ("drop5", lambda a: a.update(drop_rate=5)),
        ("no_model", lambda a: a.pop("model")),
        ("seed_text", lambda a: a.update(seed="0")),
        ("sigma_negative", lambda a: a.update(noise_sigma=-0.01)),
    ):
        shutil.copytree(trained[0], base / name, ignore=shutil.ignore_patterns("eval_*"))
        args = json.loads(json.dumps(config["args"]))
        change(args)
        (base / name / "config.json").write_text(json.dumps({**config, "args": args}))
    return base


BAD_INPUT = [
    (["{base}/nowhere"], "is not a run folder"),
    (["{base}/published"], "has no best.pt"),
    (["{base}/corrupt"], "does not load"),
    (["{base}/drop5"], "drop_rate: 5 is not a valid value of --drop-rate"),
    (["{base}/no_model"], "the key 'model' is missing"),
    (["{base}/seed_text"], "seed: '0' is not a valid value"),
    (["{base}/sigma_negative"], "noise_sigma: -0.01 is not a valid value"),
    (["{run}", "--data-dir", "{base}/notes"], "three layouts"),
    (["{run}", "--data-dir", "{base}/nowhere"], "is not a folder"),
    (["{run}", "--data-dir", "{images}"], "already holds an evaluation"),
    (["{run}", "--split", "train"], "argument --split"),
    (["{run}", "--name", "../up"], "--name"),
    (["{run}", "--device", "mps"], "MPS is not available"),
]


@pytest.mark.parametrize("argv, message", BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_and_changes_nothing(trained, bad_runs, capsys, argv, message):
    run, _, images, _ = trained
    if not (run / "eval_brain_tumor_test").is_dir():
        evaluate.main([str(run), "--data-dir", str(images.parent)])
    before = snapshot(run.parent), snapshot(bad_runs)
    argv = [a.format(base=bad_runs, run=run, images=images.parent) for a in argv]
    with pytest.raises(SystemExit) as exc:
        evaluate.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith(("usage:", " "))]
    assert len(lines) == 1 and lines[0].startswith("evaluate.py: error:") and message in lines[0], err
    assert "Traceback" not in err and (snapshot(run.parent), snapshot(bad_runs)) == before


def test_help_is_instant_and_torch_free():
    code = "import mri_cs.evaluate, sys; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], cwd=MRI_DIR.parent).returncode == 0
    proc = subprocess.run([sys.executable, "evaluate.py", "--help"], cwd=MRI_DIR, capture_output=True, text=True)
    assert proc.returncode == 0 and "--data-dir" in proc.stdout and "--split" in proc.stdout
