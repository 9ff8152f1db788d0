"""Probes of mri_cs (tests/mri_cs/test_subsampling.py): the reconstruction model of models/model.py."""

from __future__ import annotations

from grading.probes import probe, raised, rand, randn

A = "mri_cs"


@probe(A, "1", rtol=1e-4, atol=1e-5)
def test_data_consistency_returns_the_measurement_when_nothing_is_dropped(rng):
    import torch

    from mri_cs.models.model import ReconstructionModel

    model = ReconstructionModel(0.0, "cpu", False, shape=(16, 16), width=4).eval()
    with torch.no_grad():
        for p in model.unet.parameters() if hasattr(model, "unet") else model.parameters():
            p.add_(randn(rng, *p.shape) * 0.1)  # whatever the network predicts: not only the untrained identity
        out = model(randn(rng, 2, 16, 16, 2))
    return {"out": out, "wrong_size": raised(model, randn(rng, 2, 8, 8, 2))}


@probe(A, "1", rtol=0, atol=1e-5)
def test_output_ignores_the_unmeasured_samples(rng):
    """Changing k-space where the mask dropped it must not change the output, for any network weights
    (an inverted data-consistency mask reads exactly those samples)."""
    import torch

    from mri_cs.models.model import ReconstructionModel

    model = ReconstructionModel(0.5, "cpu", False, shape=(16, 16), width=4).eval()
    with torch.no_grad():
        for _name, p in model.named_parameters():
            p.add_(randn(rng, *p.shape) * 0.1)
        k = randn(rng, 2, 16, 16, 2)
        dropped = (1 - model.subsample.hard_mask())[None, :, :, None]
        changed = k + dropped * randn(rng, 2, 16, 16, 2) * 5
        difference = (model(k) - model(changed)).abs().max()
    return {"largest_change": difference}


@probe(A, "1")
def test_mask_changes_after_mask_grad_only_when_learning(rng):
    import torch

    from mri_cs.models.model import ReconstructionModel

    out = {}
    for learn in (True, False):
        model = ReconstructionModel(0.5, "cpu", learn, shape=(16, 16), width=4)
        before_mask, before_scores = model.subsample.hard_mask().clone(), model.subsample.scores.detach().clone()
        k, t = randn(rng, 2, 16, 16, 2), rand(rng, 2, 1, 16, 16)
        for _ in range(5):
            torch.nn.functional.l1_loss(model(k), t).backward()
            model.subsample.mask_grad(0.5)
        scores = model.subsample.scores.detach()
        out[f"{learn}_clamped"] = bool((scores >= 0).all() and (scores <= 1).all())
        out[f"{learn}_mask_moved"] = not torch.equal(model.subsample.hard_mask(), before_mask)
        out[f"{learn}_scores_moved"] = not torch.equal(scores, before_scores)
        out[f"{learn}_kept"] = int(model.subsample.hard_mask().sum())
    return out
