"""Decoder, latent tables and their optimiser, test-time fitting, reconstruction scores, and the sample scores."""

import math

import numpy as np
import pytest
import torch
from scipy import linalg
from skimage.metrics import peak_signal_noise_ratio
from sklearn.decomposition import PCA
from torch.utils.data import DataLoader

from auto_decoder.AutoDecoder import Decoder, LatentTable, PCAStart, RowAdam
from auto_decoder.classifier import FashionClassifier, augment, feature_statistics, frechet_distance, sample_quality
from auto_decoder.evaluate import (
    evaluate_model,
    fit_latents,
    mean_reconstruction_loss,
    objective,
    reconstruction_loss,
    reconstruction_scores,
)
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
    opt = RowAdam(list(table.parameters()), lr=0.1)
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
    opt_l = RowAdam(list(train_latents.parameters()), lr=1e-1)
    for _ in range(5):
        for idx, x in dl:
            loss, _ = objective(decoder, train_latents, idx, x)
            opt_d.zero_grad(), opt_l.zero_grad(), loss.backward(), opt_d.step(), opt_l.step()

    weights = {k: v.clone() for k, v in decoder.state_dict().items()}
    latents = VariationalLatentTable(len(ds), 4, "gaussian") if variational else LatentTable(len(ds), 4)
    start = latents.state_dict()["loc.weight" if variational else "embedding.weight"].clone()
    # An optimiser that (wrongly) also holds the decoder must still not move it.
    opt = RowAdam([*latents.parameters(), *decoder.parameters()], lr=1e-1)
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


def test_classifier_shapes_and_features():
    model = FashionClassifier().eval()
    x = torch.rand(3, 1, 28, 28)
    features = model.features(x)
    assert features.shape == (3, 128) and features.min() >= 0  # after the ReLU
    assert torch.allclose(model(x), model.head(features))  # the logits are computed from exactly these features
    with pytest.raises(ValueError):
        model(torch.rand(2, 28, 28))


def test_augment_flips_some_images_and_changes_nothing_else():
    x = torch.rand(64, 1, 28, 28)
    out = augment(x, torch.Generator().manual_seed(0))
    same = (out == x).flatten(1).all(1)
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    assert (same | flipped).all() and 10 < int(flipped.sum()) < 54


# --------------------------------------------------------------------------- PCA start
class Images:
    """A duck-typed dataset of float images ``(N, 1, 4, 4)``: what PCAStart reads (``len`` and ``batch``)."""

    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def batch(self, idx):
        return self.x[torch.as_tensor(idx)]


def test_pca_start_is_the_probabilistic_pca_posterior():
    rng = np.random.default_rng(0)
    n, d = 20_000, 3
    w = rng.normal(size=(16, d)) * [3.0, 2.0, 1.0]
    x = rng.normal(size=(n, d)) @ w.T + 0.5 + 0.3 * rng.normal(size=(n, 16))  # a linear-Gaussian model
    images = Images(torch.from_numpy(x).float().reshape(n, 1, 4, 4))
    start = PCAStart(images, d, batch_size=3000)  # several chunks
    reference = PCA(n_components=d).fit(x)
    assert np.allclose(start.lam.numpy(), reference.explained_variance_ * (n - 1) / n, rtol=1e-4)
    assert start.s2 == pytest.approx(reference.noise_variance_ * (n - 1) / n, rel=1e-4)
    assert np.allclose(np.abs(np.sum(start.U.numpy() * reference.components_.T, axis=0)), 1, atol=1e-6)
    means = start.posterior_means(images, batch_size=7000)
    lam, s2 = reference.explained_variance_, reference.noise_variance_
    expected = (x - x.mean(0)) @ reference.components_.T * np.sqrt(lam - s2) / lam  # up to each direction's sign
    assert np.allclose(np.abs(means.numpy()), np.abs(expected), atol=2e-3)
    assert np.allclose(start.std.numpy() ** 2, s2 / lam, rtol=1e-3)
    # means and stds together spread exactly like the N(0, I) prior over the images they were fitted on
    assert np.allclose(means.var(0, unbiased=False).numpy() + start.std.numpy() ** 2, 1, atol=1e-4)


def test_tables_start_at_the_posterior_in_their_family():
    mean, std = torch.randn(5, 3), torch.tensor([0.1, 0.5, 1.0])
    plain = LatentTable(5, 3)
    plain.start_at(mean, std)
    assert torch.equal(plain.mean(torch.arange(5)), mean)
    for name, prior_var in (("gaussian", 1.0), ("laplace", 2.0), ("logistic", math.pi**2 / 3)):
        table = VariationalLatentTable(5, 3, name)
        table.start_at(mean, std)
        loc, scale = table.params(torch.arange(5))
        assert torch.allclose(loc, mean * prior_var**0.5)
        assert torch.allclose(table.family.variance(scale), prior_var * std**2 * torch.ones(5, 1), rtol=1e-5)
    few = PCAStart(Images(torch.rand(5, 1, 4, 4)), 8)  # more dimensions than 5 images can fill
    assert (
        torch.allclose(few.std[4:], torch.ones(4))
        and few.posterior_means(Images(torch.rand(2, 1, 4, 4)))[:, 4:].abs().max() < 1e-3
    )
    with pytest.raises(ValueError, match="fewer latent dimensions than pixels"):
        PCAStart(Images(torch.rand(50, 1, 4, 4)), 16)


# ---------------------------------------------------------------------------- RowAdam
def test_row_adam_with_every_row_in_every_step_is_adam():
    torch.manual_seed(0)
    table = torch.nn.Embedding(6, 3, sparse=True)
    dense = torch.nn.Parameter(table.weight.detach().clone())
    target = torch.randn(6, 3)
    row_adam, adam = RowAdam(list(table.parameters()), lr=0.05), torch.optim.Adam([dense], lr=0.05)
    for _ in range(30):
        for opt, w in ((row_adam, table(torch.arange(6))), (adam, dense)):
            opt.zero_grad()
            (w - target).pow(3).abs().sum().backward()
            opt.step()
    assert torch.allclose(table.weight, dense, atol=1e-6)


def test_row_adam_moves_a_rarely_updated_row_by_lr_whatever_the_table_size():
    """A row updated once per 'epoch' with a steady gradient moves by lr per update, on its own clock;
    SparseAdam's shared step count lets the same row jump by several times lr in a big table."""

    def moves(make_opt, rows):
        table = torch.nn.Embedding(rows, 2, sparse=True)
        opt, out = make_opt(list(table.parameters())), []
        for _ in range(10):
            for r in range(rows):
                before = table.weight[0].detach().clone()
                opt.zero_grad()
                table(torch.tensor([r])).sum().backward()
                opt.step()
                if r == 0:
                    out.append(float((before - table.weight[0].detach()).abs().max()))
        return out

    for rows in (8, 120):
        assert moves(lambda p: RowAdam(p, lr=0.1), rows) == pytest.approx([0.1] * 10, rel=1e-4)
    assert max(moves(lambda p: torch.optim.SparseAdam(p, lr=0.1), 120)) > 0.3  # the problem RowAdam solves
    with pytest.raises(ValueError, match="sparse"):
        dense = torch.nn.Parameter(torch.zeros(3))
        dense.grad = torch.ones(3)
        RowAdam([dense]).step()


# ------------------------------------------------------------------- test-time fit
@pytest.mark.parametrize("variational", [False, True])
def test_fit_latents_stops_once_the_noise_free_objective_converges(variational):
    torch.manual_seed(0)
    images, labels = fake_split(16, 6)
    ds = IndexedImages(torch.from_numpy(images), torch.from_numpy(labels))
    batches = [(torch.arange(16), ds.batch(torch.arange(16)))]
    decoder = Decoder(latent_dim=4)
    latents = VariationalLatentTable(16, 4, "gaussian") if variational else LatentTable(16, 4)
    weights = {k: v.clone() for k, v in decoder.state_dict().items()}
    fit = fit_latents(
        decoder, batches, RowAdam(list(latents.parameters()), lr=0.05), latents, 3000, "cpu", stop=(1e-3, 20)
    )
    assert (
        fit.converged
        and len(fit.loss) < 3000
        and len(fit.loss) % 20 == 0
        and len(fit.checks) == len(fit.loss) // 20 + 1
    )
    gains = [(a - b) / a for a, b in zip(fit.checks, fit.checks[1:])]
    assert gains[-1] < 1e-3 and all(g >= 1e-3 for g in gains[:-1])  # it stopped at the first small gain
    assert fit.checks[-1] < fit.checks[0] and all(torch.equal(v, weights[k]) for k, v in decoder.state_dict().items())
    fixed = fit_latents(decoder, batches, RowAdam(list(latents.parameters())), latents, 7, "cpu")  # no tol: all epochs
    assert len(fixed.loss) == 7 and fixed.checks == [] and not fixed.converged


def test_reconstruction_scores_are_bce_and_skimage_psnr():
    torch.manual_seed(1)
    images, labels = fake_split(12, 7)
    ds = IndexedImages(torch.from_numpy(images), torch.from_numpy(labels))
    decoder, codes = Decoder(latent_dim=3), torch.randn(12, 3)
    scores = reconstruction_scores(decoder, codes, ds, "cpu", batch_size=5)  # batches of 5, 5 and 2
    with torch.no_grad():
        rec = decoder(codes)
    x = ds.batch(torch.arange(12))
    expected = np.mean(
        [
            peak_signal_noise_ratio(
                x[i, 0].numpy().astype(np.float64), rec[i, 0].numpy().astype(np.float64), data_range=1.0
            )
            for i in range(12)
        ]
    )
    assert scores["psnr"] == pytest.approx(expected, rel=1e-6)
    assert scores["bce"] == pytest.approx(float(reconstruction_loss(x, rec)), rel=1e-5)
    with pytest.raises(ValueError):
        reconstruction_scores(decoder, codes[:5], ds, "cpu")


# ------------------------------------------------------------------- Frechet distance
def gaussian_stats(mean, cov) -> dict:
    return {"mean": torch.as_tensor(mean, dtype=torch.float64), "cov": torch.as_tensor(cov, dtype=torch.float64)}


def test_frechet_distance_matches_the_closed_forms():
    # commuting (diagonal) covariances: |dmu|^2 + sum (sqrt(a) - sqrt(b))^2
    a, b = (
        gaussian_stats([1.0, 2.0, 0.0], np.diag([4.0, 1.0, 0.25])),
        gaussian_stats([0.0, 2.0, 3.0], np.diag([1.0, 9.0, 0.25])),
    )
    assert frechet_distance(a, b) == pytest.approx(1 + 9 + (2 - 1) ** 2 + (1 - 3) ** 2 + 0, rel=1e-10)
    # general covariances: the textbook formula with scipy's matrix square root
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=(2, 5, 5))
    c1, c2 = m1 @ m1.T + 0.1 * np.eye(5), m2 @ m2.T
    mu1, mu2 = rng.normal(size=(2, 5))
    reference = np.sum((mu1 - mu2) ** 2) + np.trace(c1 + c2 - 2 * linalg.sqrtm(c1 @ c2).real)
    value = frechet_distance(gaussian_stats(mu1, c1), gaussian_stats(mu2, c2))
    assert value == pytest.approx(reference, rel=1e-8)
    assert frechet_distance(gaussian_stats(mu2, c2), gaussian_stats(mu1, c1)) == pytest.approx(value, rel=1e-8)


def test_frechet_distance_of_feature_sets():
    rng = np.random.default_rng(1)
    features = torch.from_numpy(rng.normal(size=(500, 8)) * np.arange(1, 9) + 3.0)
    assert frechet_distance(feature_statistics(features), feature_statistics(features.flip(0))) == pytest.approx(
        0, abs=1e-9
    )
    # large samples of two known Gaussians: the distance of their estimated statistics approaches the closed form
    n = 200_000
    x = torch.from_numpy(rng.normal(size=(n, 2)) * [1.0, 2.0])
    y = torch.from_numpy(rng.normal(size=(n, 2)) * [3.0, 2.0] + [1.0, 0.0])
    assert frechet_distance(feature_statistics(x), feature_statistics(y)) == pytest.approx(1 + (3 - 1) ** 2, rel=0.02)
    stats = feature_statistics(x[:10])
    assert stats["mean"].shape == (2,) and stats["cov"].shape == (2, 2)
    with pytest.raises(ValueError):
        feature_statistics(x[:1])


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
    opt_l = RowAdam(list(latents.parameters()), lr=0.1)
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
        train_one_epoch(model, dl, ds.labels, (opt, None), "cpu")
    test_images, test_labels = fake_split(30, 5)
    probs = classify(model, torch.from_numpy(test_images).unsqueeze(1).float() / 255, "cpu")
    assert probs.shape == (30, 10) and torch.allclose(probs.sum(1), torch.ones(30))
    assert (probs.argmax(1) == torch.from_numpy(test_labels).long()).float().mean() > 0.8
