"""The classical baselines (TV, L1-wavelet): known answers on a piecewise-constant phantom, only measured samples
used, the convergence check, evaluate.py --cs."""

import json
import shutil

import numpy as np
import pytest
import torch

from common.metrics import batch_psnr
from mri_cs import cs, evaluate
from mri_cs import main as mri_main
from mri_cs.data.transforms import fft2
from mri_cs.models.subsampling import SubsamplingLayer
from mri_cs.utils import freq_to_image

from .fixtures import snapshot


def phantom(n: int = 2, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """``(kspace (n, size, size, 2), magnitude (n, 1, size, size))`` of piecewise-constant images (real, in [0, 1])."""
    images = torch.zeros(n, size, size, 2)
    for i in range(n):
        images[i, 6 + i : 24, 8 : 22 - i, 0] = 0.6
        images[i, 12:18, 4 + 2 * i : 28, 0] += 0.4
    return fft2(images), images[..., 0].unsqueeze(1)


@pytest.mark.parametrize("method", cs.METHODS)
def test_full_noiseless_sampling_recovers_a_piecewise_constant_phantom_and_the_weight_shrinks_it(method):
    kspace, target = phantom()
    full = torch.ones(32, 32)
    recovered = cs.reconstruct(method, kspace, full, 1e-5)
    assert recovered.shape == (2, 1, 32, 32) and float((recovered - target).abs().max()) < 1e-3
    assert float((cs.reconstruct(method, kspace, full, 3e-2) - target).abs().max()) > 1e-2


@pytest.mark.parametrize("method", cs.METHODS)
def test_cs_beats_zero_filled_from_subsampled_kspace_and_uses_only_the_measured_samples(method):
    kspace, target = phantom()
    mask = SubsamplingLayer(0.6, "cpu", False, (32, 32), seed=0, mask="variable-density").hard_mask()
    recon = cs.reconstruct(method, kspace, mask, 1e-2)
    zero_filled = freq_to_image(kspace * mask[None, :, :, None]).unsqueeze(1)
    assert float(batch_psnr(recon, target).min()) > float(batch_psnr(zero_filled, target).max()) + 3
    other = kspace + 10 * (1 - mask)[None, :, :, None] * torch.randn_like(kspace)  # the dropped samples changed
    torch.testing.assert_close(cs.reconstruct(method, other, mask, 1e-2), recon)
    with pytest.raises(ValueError, match="kspace"):
        cs.reconstruct(method, kspace, torch.ones(16, 16), 1e-2)


def test_tv_denoises_a_noisy_fully_sampled_phantom():
    kspace, target = phantom()
    noisy = kspace + 0.05 * torch.randn(kspace.shape, generator=torch.Generator().manual_seed(0))
    before = float(batch_psnr(freq_to_image(noisy).unsqueeze(1), target).mean())
    assert float(batch_psnr(cs.tv_reconstruct(noisy, torch.ones(32, 32), 0.02), target).mean()) > before + 3


def test_the_weight_is_the_best_on_validation_and_the_subset_is_fixed():
    kspace, target = phantom()
    mask = SubsamplingLayer(0.6, "cpu", False, (32, 32), seed=1, mask="variable-density").hard_mask()
    lam, tried = cs.choose_lambda("tv", kspace, target, mask, (1e-4, 1e-2, 1.0))
    assert set(tried) == {"0.0001", "0.01", "1"} and lam == float(max(tried, key=tried.get)) != 1.0
    with pytest.raises(ValueError, match="no positive value"):
        cs.choose_lambda("tv", kspace, target, mask, (0.0, -1.0))
    assert cs.subset(61, 4) == [0, 20, 40, 60] and cs.subset(3, 16) == [0, 1, 2]


@pytest.mark.parametrize("method", cs.METHODS)
def test_the_convergence_check_tells_a_converged_solver_from_a_stopped_one(method, monkeypatch):
    kspace, target = phantom()
    kspace = kspace + 0.02 * torch.randn(kspace.shape, generator=torch.Generator().manual_seed(1))  # measured noise
    mask = SubsamplingLayer(0.5, "cpu", False, (32, 32), seed=2, mask="variable-density").hard_mask()
    converged = cs.convergence(method, kspace, target, mask, 1e-2)
    assert converged["iterations"] == cs.ITERATIONS[method] and abs(converged["change_db"]) < 0.01
    monkeypatch.setitem(cs.ITERATIONS, method, 3)
    stopped = cs.convergence(method, kspace, target, mask, 1e-2)
    assert stopped["iterations"] == 3 and abs(stopped["change_db"]) > 0.1


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished quick run with a Cartesian mask (vanilla model: seconds)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("cs_runs")
    mri_main.main(
        [
            "--quick",
            "--epochs",
            "1",
            "--model",
            "vanilla",
            "--mask",
            "cartesian-equispaced",
            "--drop-rate",
            "0.5",
            "--results-root",
            str(root),
        ]
    )
    return root / "vanilla_drop0.5_fixed_cartesian-equispaced_quick"


CS_ARGS = ["--cs", "tv", "--cs-slices", "3", "--cs-val-slices", "2"]


def test_evaluate_cs_writes_its_folder_beside_the_run(run, capsys):
    metrics = evaluate.main([str(run), *CS_ARGS])
    out = run / "cs_tv_mni152_test"
    assert json.loads((out / "metrics.json").read_text())["tv"] == metrics["tv"]
    config = json.loads((out / "config.json").read_text())
    assert config["mask_family"] == "cartesian-equispaced" and config["iterations"] == cs.ITERATIONS["tv"]
    assert metrics["slices"] == [0, 4, 7] and metrics["n_slices"] == 3 and len(metrics["val_slices"]) == 2
    assert metrics["lambda"] in cs.LAMBDAS and metrics["network"] is not None and metrics["seconds_per_slice"] > 0
    mask = np.load(run / "example.npz")["mask"]
    assert metrics["keep_fraction"] == pytest.approx(mask.mean()) and bool((mask == mask[:1]).all())
    assert metrics["tv"]["psnr"]["mean"] > metrics["zero_filled"]["psnr"]["mean"]
    assert abs(metrics["convergence"]["change_db"]) < 0.01 and config["acquisition"]["kind"] == "realistic"
    assert "s per slice ->" in capsys.readouterr().out.strip().splitlines()[-1]
    published = run.parent / "published"  # example.npz carries the mask when best.pt does not travel
    shutil.copytree(run, published, ignore=shutil.ignore_patterns("*.pt", "cs_*"))
    again = evaluate.main([str(published), *CS_ARGS])
    assert again["network"] is None and again["zero_filled"] == metrics["zero_filled"] and again["tv"] == metrics["tv"]


def test_cs_bad_input_is_one_line_exit_2_and_writes_nothing(run, tmp_path, capsys):
    if not (run / "cs_tv_mni152_test").is_dir():
        evaluate.main([str(run), *CS_ARGS])
    maskless = tmp_path / "maskless"
    maskless.mkdir()
    shutil.copy(run / "config.json", maskless / "config.json")
    for argv, message in (
        ([str(maskless)], "has no mask"),
        ([str(run)], "already holds an evaluation"),
        ([str(run), "--cs", "fista"], "argument --cs"),
    ):
        before = snapshot(tmp_path), snapshot(run)
        with pytest.raises(SystemExit) as exc:
            evaluate.main(argv + (CS_ARGS if "--cs" not in argv else []))
        err = capsys.readouterr().err.strip().splitlines()
        assert exc.value.code == 2 and len(err) == 1 and err[0].startswith("evaluate.py: error:") and message in err[0]
        assert (snapshot(tmp_path), snapshot(run)) == before
