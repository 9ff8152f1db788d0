"""The README's cross-data block: a run scored by evaluate.py on other data, once published, renders in it."""

import re
import shutil

import pytest
import torch

from common.runs import load_json
from lab.mri_cs import readme_results
from lab.results import publish
from mri_cs import evaluate
from mri_cs import main as mri_main
from tests.mri_cs.fixtures import make_image_dir


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """A quick run trained on ``brain_tumor/images`` and scored by evaluate.py on that folder's test split."""
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("blocks")
    images = make_image_dir(base / "brain_tumor" / "images", n=40)
    argv = ["--quick", "--drop-rate", "0.5", "--learn-mask", "--data-dir", str(images.parent)]
    mri_main.main([*argv, "--results-root", str(base / "runs")])
    run = base / "runs" / "unet_drop0.5_learned_quick"
    evaluate.main([str(run), "--data-dir", str(images.parent)])
    return run


def test_published_evaluations_render_in_the_readme_block(scored, tmp_path):
    published = publish(scored, "mri_cs", results_root=tmp_path)
    assert (published / "eval_brain_tumor_test" / "metrics.json").is_file() and not list(published.rglob("*.pt"))
    m = load_json(published / "eval_brain_tumor_test" / "metrics.json")
    block = re.sub(r" {2,}", " ", readme_results.cross_data(results=tmp_path / "mri_cs"))
    assert (
        f"| `{scored.name}` | MR magnitude images, brain_tumor/images "
        "| MR magnitude images, brain_tumor/images | test (8) | "
        f"{m['psnr']['mean']:.2f} ± {m['psnr']['std']:.2f} | {m['zero_filled_psnr']['mean']:.2f}" in block
    )
    case = tmp_path / "mri_cs" / "sweep" / "drop0.3_fixed"  # a sweep's cases have their own table (sweep_cross)
    shutil.copytree(published, case)
    assert "`sweep/" not in readme_results.cross_data(results=tmp_path / "mri_cs")
    assert "`drop0.3_fixed`" not in readme_results.cross_data(results=tmp_path / "mri_cs")
