"""Mask families: budget, determinism, real/imaginary pairing, fastMRI's Cartesian band,
the course's default, bad input."""

import argparse

import pytest
import torch

from mri_cs import main as mri_main
from mri_cs.models.masks import CARTESIAN, FAMILIES, cartesian_lines, cartesian_mask
from mri_cs.models.subsampling import SubsamplingLayer
from mri_cs.train import build_model
from mri_cs.utils import center_keep_fraction

SHAPE = (24, 32)


def layer(family: str, drop: float = 0.6, seed: int = 0, learn: bool = False, shape=SHAPE, **kw) -> SubsamplingLayer:
    return SubsamplingLayer(drop, "cpu", learn, shape, seed=seed, mask=family, **kw)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("drop", [0.3, 0.6, 0.85])
def test_budget_is_exact_or_whole_lines_to_the_nearest_line(family, drop):
    sub = layer(family, drop)
    mask = sub.hard_mask()
    assert set(mask.unique().tolist()) <= {0.0, 1.0} and int(mask.sum()) == sub.num_keep
    if family in CARTESIAN:
        assert torch.equal(mask, mask[:1].expand_as(mask))  # whole columns
        lines = int(mask[0].sum())
        assert abs(lines - (1 - drop) * SHAPE[1]) <= 0.5 and sub.mask_info()["lines"] == lines
        assert sub.mask_info()["keep_fraction"] == pytest.approx(lines / SHAPE[1])
    else:
        assert sub.num_keep == round((1 - drop) * SHAPE[0] * SHAPE[1])


@pytest.mark.parametrize("family", FAMILIES)
def test_a_seed_gives_one_mask_and_other_seeds_others(family):
    a, b = layer(family, seed=3).hard_mask(), layer(family, seed=3).hard_mask()
    assert torch.equal(a, b)
    assert any(not torch.equal(a, layer(family, seed=s).hard_mask()) for s in (4, 5, 6))


@pytest.mark.parametrize("family", FAMILIES)
def test_real_and_imaginary_parts_are_masked_alike(family):
    sub = layer(family)
    out = sub.subsample(torch.randn(2, *SHAPE, 2) + 5.0)  # no sample is zero before masking
    assert torch.equal(out[..., 0] == 0, out[..., 1] == 0)
    assert torch.equal((out[1, ..., 1] != 0).float(), sub.hard_mask())


@pytest.mark.parametrize(
    "width, drop, fraction, band, start",
    [
        (368, 0.75, 0.08, 29, 170),  # fastMRI's knee width at 4x: round(0.08 * 368) lines from (368 - 29 + 1) // 2
        (320, 0.875, 0.04, 13, 154),  # brain width at 8x
        (128, 0.75, None, 10, 59),  # the default fraction is fastMRI's 0.08 at 4x
        (33, 0.5, 0.24, 8, 13),  # an even band in an odd width starts at the rounded-up pad, as fastMRI's does
    ],
)
def test_cartesian_band_is_fastmris(width, drop, fraction, band, start):
    for equispaced in (False, True):
        columns = cartesian_mask((4, width), drop, equispaced, seed=1, centre_fraction=fraction)[0]
        assert cartesian_lines(width, drop, fraction) == (round((1 - drop) * width), band)
        assert bool(columns[start : start + band].all()) and int(columns.sum()) == round((1 - drop) * width)


def test_equispaced_lines_are_evenly_spaced_and_random_lines_are_not():
    width, drop, fraction = 128, 0.75, 0.08
    _, band = cartesian_lines(width, drop, fraction)
    start = (width - band + 1) // 2
    outer = [c for c in range(width) if not start <= c < start + band]
    gaps = {}
    for equispaced in (True, False):
        columns = cartesian_mask((4, width), drop, equispaced, seed=2, centre_fraction=fraction)[0]
        rank = [i for i, c in enumerate(outer) if columns[c]]  # positions among the outer columns
        gaps[equispaced] = {b - a for a, b in zip(rank, rank[1:])}
    step = len(outer) / (round((1 - drop) * width) - band)
    assert gaps[True] <= {int(step), int(step) + 1} and len(gaps[False]) > 2


def test_the_default_family_is_the_courses_and_variable_density_is_the_learned_start():
    shape = (32, 32)
    for learn, family in ((False, "uniform"), (True, "variable-density")):
        default, named = SubsamplingLayer(0.5, "cpu", learn, shape, seed=2), layer(family, 0.5, 2, learn, shape)
        assert default.family == family and torch.equal(default.scores, named.scores)
        assert torch.equal(default.hard_mask(), named.hard_mask())
    fixed_vd = layer("variable-density", 0.5, 2, False, shape)
    learned_start = SubsamplingLayer(0.5, "cpu", True, shape, seed=2).hard_mask()
    assert torch.equal(fixed_vd.hard_mask(), learned_start) and bool(learned_start[fixed_vd.centre_region()].all())
    uniform = layer("uniform", 0.5, 2, False, shape).hard_mask().numpy()
    assert center_keep_fraction(learned_start.numpy()) > center_keep_fraction(uniform) + 0.2
    assert fixed_vd.mask_grad(0.5) == 0.0  # fixed: nothing moves


def test_a_learned_mask_starts_from_a_cartesian_mask_and_then_learns():
    sub = layer("cartesian-random", 0.5, 0, True, (32, 32))
    fixed = layer("cartesian-random", 0.5, 0, False, (32, 32)).hard_mask()
    start = sub.hard_mask()
    assert sub.num_keep == int(fixed.sum()) == int(start.sum()) and bool(start[sub.centre_region()].all())
    assert float((start == fixed).float().mean()) > 0.95  # the band covers the always-measured centre at this rate
    sub.train()
    for _ in range(20):
        sub(torch.randn(2, 32, 32, 2)).pow(2).mean().backward()
        sub.mask_grad(0.1)
    assert not torch.equal(sub.hard_mask(), start) and int(sub.hard_mask().sum()) == sub.num_keep


def test_bad_family_and_budgets_raise():
    with pytest.raises(ValueError, match="unknown mask family"):
        layer("radial")
    with pytest.raises(ValueError, match="too small"):
        cartesian_lines(16, 0.95)
    with pytest.raises(ValueError, match="by more than one line"):
        cartesian_lines(128, 0.7, 0.5)
    assert cartesian_lines(32, 0.99, 0.04) == (1, 1)  # one line: within one line of a third of a line


def test_build_model_puts_the_family_into_the_model_and_its_checkpoint():
    args = argparse.Namespace(
        model="vanilla",
        drop_rate=0.5,
        learn_mask=False,
        resolution=32,
        seed=1,
        mask="cartesian-equispaced",
        centre_fraction=None,
        width=0,
        stages=5,
        vd_weight=None,
    )
    model = build_model(args, torch.device("cpu"))
    assert model.subsample.family == "cartesian-equispaced" and torch.equal(
        model.subsample.hard_mask(), layer("cartesian-equispaced", 0.5, 1, False, (32, 32)).hard_mask()
    )
    other = build_model(argparse.Namespace(**dict(vars(args), seed=2)), torch.device("cpu"))
    other.load_state_dict(model.state_dict())
    assert torch.equal(other.subsample.hard_mask(), model.subsample.hard_mask())
    course = argparse.Namespace(**dict(vars(args), mask="uniform"))
    assert build_model(course, torch.device("cpu")).subsample.family == "uniform"  # the model's own layer


def test_run_names_record_the_family():
    names = {
        tuple(a): mri_main.parse_args(a)
        for a in (
            [],
            ["--drop-rate", "0.5"],
            ["--mask", "cartesian-random"],
            ["--learn-mask", "--mask", "uniform"],
            ["--learn-mask", "--mask", "variable-density"],
            ["--mask", "cartesian-equispaced", "--centre-fraction", "0.1"],
        )
    }
    assert [(a.name, a.mask) for a in names.values()] == [
        ("unet_drop0.3_fixed", "uniform"),
        ("unet_drop0.5_fixed", "uniform"),
        ("unet_drop0.3_fixed_cartesian-random", "cartesian-random"),
        ("unet_drop0.3_learned_uniform", "uniform"),
        ("unet_drop0.3_learned", "variable-density"),
        ("unet_drop0.3_fixed_cartesian-equispaced_cf0.1", "cartesian-equispaced"),
    ]


BAD = [
    (["--mask", "poisson"], "argument --mask: invalid choice"),
    (["--mask", "cartesian-random", "--quick", "--drop-rate", "0.98"], "too small"),
    (["--mask", "cartesian-random", "--drop-rate", "0.7", "--centre-fraction", "0.5"], "by more than one line"),
    (["--centre-fraction", "0.1"], "Cartesian masks only"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_mask_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        mri_main.main(argv + ["--results-root", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2 and len(err) == 1 and err[0].startswith("main.py: error:") and message in err[0]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("width, acceleration, fraction", [(128, 4, 0.08), (368, 4, 0.08), (256, 8, 0.04)])
def test_cartesian_masks_agree_with_deepinvs_generators(width, acceleration, fraction):
    """deepinv's Random/EquispacedMaskGenerator on widths where its band (floor) and fastMRI's (round) agree: the same
    band (the columns every draw samples) and the same number of lines (equispaced: within one)."""
    from deepinv.physics.generator import EquispacedMaskGenerator, RandomMaskGenerator

    drop = 1 - 1 / acceleration
    lines, band = cartesian_lines(width, drop, fraction)
    ours = torch.zeros(width, dtype=torch.bool)
    ours[(width - band + 1) // 2 : (width - band + 1) // 2 + band] = True
    for generator, equispaced in ((RandomMaskGenerator, False), (EquispacedMaskGenerator, True)):
        gen = generator((2, 8, width), acceleration=acceleration, center_fraction=fraction)
        draws = torch.stack([gen.step(batch_size=1, seed=s)["mask"][0, 0, 0] for s in range(5)]).bool()
        assert torch.equal(draws.all(0), ours)
        assert all(abs(int(d.sum()) - lines) <= (1 if equispaced else 0) for d in draws)
        mine = cartesian_mask((8, width), drop, equispaced, seed=0, centre_fraction=fraction)[0].bool()
        assert int(mine.sum()) == lines and bool(mine[ours].all())
