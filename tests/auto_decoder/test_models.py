"""Decoder, latent tables, test-time evaluation and the sample-quality score."""
import math

import pytest
import torch
from torch.utils.data import DataLoader

from auto_decoder.AutoDecoder import Decoder, LatentTable
from auto_decoder.classifier import FashionClassifier, sample_quality
from auto_decoder.evaluate import evaluate_model, mean_reconstruction_loss, objective, reconstruction_loss
from auto_decoder.utils import IndexedImages
from auto_decoder.VariationalAutoDecoder import VariationalLatentTable

from .conftest import fake_split


def test_decoder_shapes_and_range():
    dec = Decoder(latent_dim=5)
    out = dec(torch.randn(3, 5) * 10)
    assert out.shape == (3, 1, 28, 28) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError):
        dec(torch.randn(3, 4))


def test_reconstruction_loss_is_bce_and_checks_shapes():
    x, p = torch.rand(2, 1, 28, 28), torch.rand(2, 1, 28, 28).clamp(0.01, 0.99)
    manual = -(x * p.log() + (1 - x) * (1 - p).log()).mean()
    assert torch.allclose(reconstruction_loss(x, p), manual, atol=1e-6)
    binary = (x > 0.5).float()
    assert reconstruction_loss(binary, binary) < 1e-6
    with pytest.raises(ValueError):
        reconstruction_loss(x, p[:1])


def test_latent_table_updates_only_the_batch_rows():
    table = LatentTable(10, 4)
    opt = torch.optim.SparseAdam(list(table.parameters()), lr=0.1)
    before = table.embedding.weight.detach().clone()
    table(torch.tensor([2, 5])).pow(2).sum().backward()
    opt.step()
    changed = (table.embedding.weight != before).any(dim=1)
    assert changed.tolist() == [i in (2, 5) for i in range(10)]
    assert table.kl(torch.tensor([1, 2])).eq(0).all() and table.kl_weight == 0


@pytest.mark.parametrize("variational", [False, True])
def test_evaluate_model_fits_test_latents_and_leaves_decoder_unchanged(variational):
    torch.manual_seed(0)
    images, labels = fake_split(32, 2)
    ds = IndexedImages(torch.from_numpy(images), torch.from_numpy(labels))
    dl = DataLoader(ds, batch_size=8)
    decoder = Decoder(latent_dim=4)
    # Train briefly so the decoder is not trivial, then evaluate on the same images.
    train_latents = LatentTable(len(ds), 4)
    opt_d = torch.optim.Adam(decoder.parameters(), lr=1e-2)
    opt_l = torch.optim.SparseAdam(list(train_latents.parameters()), lr=1e-1)
    for _ in range(5):
        for idx, x in dl:
            loss, _ = objective(decoder, train_latents, idx, x)
            opt_d.zero_grad(), opt_l.zero_grad(), loss.backward(), opt_d.step(), opt_l.step()

    weights = {k: v.clone() for k, v in decoder.state_dict().items()}
    latents = VariationalLatentTable(len(ds), 4, "gaussian") if variational else LatentTable(len(ds), 4)
    start = latents.state_dict()["loc.weight" if variational else "embedding.weight"].clone()
    # An optimiser that (wrongly) also holds the decoder must still not move it.
    opt = torch.optim.SparseAdam([*latents.parameters(), *decoder.parameters()], lr=1e-1)
    loss_before = mean_reconstruction_loss(decoder, latents, dl, "cpu")
    test_loss = evaluate_model(decoder, dl, opt, latents, epochs=3, device="cpu")
    for k, v in decoder.state_dict().items():
        assert torch.equal(v, weights[k]), f"decoder weight {k} changed"
    assert all(p.requires_grad for p in decoder.parameters())  # switched back on afterwards
    assert not torch.equal(latents.mean(torch.arange(len(ds))), start)
    assert test_loss < loss_before and math.isfinite(test_loss)


def test_sample_quality_counts_and_entropy():
    probs = torch.zeros(4, 10)
    probs[0, 1] = probs[1, 1] = 1.0  # two confident "trousers"
    probs[2, 3], probs[2, 4] = 0.5, 0.5  # one undecided
    probs[3, 3], probs[3, 0] = 0.9, 0.1  # exactly at the threshold counts
    q = sample_quality(probs)
    assert q["confident_share"] == pytest.approx(0.75)
    # predicted classes 1, 1, 3, 3: two equally frequent classes = 1 bit
    assert q["class_entropy_bits"] == pytest.approx(1.0)
    assert sum(q["class_histogram"]) == pytest.approx(1.0)
    uniform = torch.eye(10).repeat(3, 1)
    assert sample_quality(uniform)["class_entropy_bits"] == pytest.approx(math.log2(10))
    with pytest.raises(ValueError):
        sample_quality(torch.rand(4, 3))


def test_classifier_shapes():
    assert FashionClassifier()(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError):
        FashionClassifier()(torch.rand(2, 28, 28))


def test_training_gives_each_image_its_own_latent():
    """After a few epochs each image decodes best from its own latent: a loop that mixed up the
    indices (or never stepped the latents) would fail this."""
    from auto_decoder.train import train_one_epoch

    torch.manual_seed(0)
    images, labels = fake_split(40, 3)
    ds = IndexedImages(torch.from_numpy(images), torch.from_numpy(labels))
    dl = DataLoader(ds, batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0))
    decoder, latents = Decoder(latent_dim=8), LatentTable(len(ds), 8)
    opt_d = torch.optim.Adam(decoder.parameters(), lr=2e-3)
    opt_l = torch.optim.SparseAdam(list(latents.parameters()), lr=0.1)
    untrained = mean_reconstruction_loss(decoder, latents, DataLoader(ds, batch_size=40), "cpu")
    history = [train_one_epoch(decoder, latents, dl, opt_d, opt_l, "cpu") for _ in range(15)]
    assert history[-1]["loss"] < history[0]["loss"] and history[-1]["reconstruction"] == history[-1]["loss"]
    idx = torch.arange(len(ds))
    with torch.no_grad():
        own = reconstruction_loss(ds.batch(idx), decoder(latents(idx)))
        shifted = reconstruction_loss(ds.batch(idx), decoder(latents((idx + 1) % len(ds))))  # the next image's latent
    assert own < untrained - 0.05 and own < shifted - 0.02


def test_classifier_learns_the_fixture():
    from auto_decoder.classifier import classify, train_one_epoch

    torch.manual_seed(0)
    images, labels = fake_split(100, 4)
    ds = IndexedImages(torch.from_numpy(images), torch.from_numpy(labels))
    dl = DataLoader(ds, batch_size=10, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = FashionClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(4):
        train_one_epoch(model, dl, ds.labels, opt, "cpu")
    test_images, test_labels = fake_split(30, 5)
    probs = classify(model, torch.from_numpy(test_images).unsqueeze(1).float() / 255, "cpu")
    assert probs.shape == (30, 10) and torch.allclose(probs.sum(1), torch.ones(30))
    assert (probs.argmax(1) == torch.from_numpy(test_labels).long()).float().mean() > 0.8
