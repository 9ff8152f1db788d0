"""The scoring behind every reported number, against values computed independently:
Dice inside the field of view (score_segmentation), whole-image prediction (predict_full), ROC AUC (auc_score)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score, roc_auc_score
from torch import nn

from medical_cnn.classify import auc_score
from medical_cnn.segment import predict_full, score_segmentation


def test_score_segmentation_counts_only_pixels_inside_the_field_of_view():
    # one 3x4 image; the FOV is the left 3 columns; outside it the prediction is all wrong
    fov = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 0]], dtype=torch.bool)
    vessels = torch.tensor([[1, 0, 0, 1], [1, 1, 0, 1], [0, 0, 0, 1]], dtype=torch.bool)
    probs = torch.tensor([[0.9, 0.8, 0.1, 0.0], [0.2, 0.7, 0.3, 0.1], [0.1, 0.2, 0.4, 0.0]])
    # inside the FOV: predicted {(0,0), (0,1), (1,1)}, true {(0,0), (1,0), (1,1)}: TP 2, FP 1, FN 1 -> Dice 4/6
    scores = score_segmentation(probs[None], vessels[None], fov[None], threshold=0.5, with_auc=True)
    assert scores["dice_per_image"] == [pytest.approx(4 / 6)]
    assert scores["dice_mean"] == pytest.approx(4 / 6) and scores["dice_pooled"] == pytest.approx(4 / 6)
    # AUC over the 9 FOV pixels: positives 0.9, 0.2, 0.7; negatives 0.8, 0.1, 0.3, 0.1, 0.2, 0.4
    # pairs won by the positive: 0.9 -> 6, 0.7 -> 5, 0.2 -> 2 + 0.5 (tie with 0.2) = 13.5 of 18
    assert scores["auc"] == pytest.approx(13.5 / 18)


def test_score_segmentation_pools_and_averages_over_images_like_sklearn():
    rng = np.random.default_rng(0)
    vessels = torch.from_numpy(rng.random((3, 20, 24)) < 0.2)
    fov = torch.from_numpy(rng.random((3, 20, 24)) < 0.7)
    probs = torch.from_numpy(np.clip(vessels.numpy() * 0.4 + rng.random((3, 20, 24)) * 0.7, 0, 1)).float()
    scores = score_segmentation(probs, vessels, fov, threshold=0.5, with_auc=True)
    pred = probs.numpy() > 0.5
    per_image = [f1_score(v[m], p[m]) for p, v, m in zip(pred, vessels.numpy(), fov.numpy())]
    assert scores["dice_per_image"] == pytest.approx(per_image)
    assert scores["dice_mean"] == pytest.approx(np.mean(per_image)) and scores["dice_std"] == pytest.approx(
        np.std(per_image)
    )
    m = fov.numpy()
    assert scores["dice_pooled"] == pytest.approx(f1_score(vessels.numpy()[m], pred[m]))
    assert scores["auc"] == pytest.approx(roc_auc_score(vessels.numpy()[m], probs.numpy()[m]))
    # changing anything outside the FOV changes no score
    outside = probs.clone()
    outside[~fov] = 1 - outside[~fov]
    assert score_segmentation(outside, vessels, fov, threshold=0.5, with_auc=True) == scores


class SizeChecked(nn.Module):
    """A 3x3 convolution that, like the U-Net, accepts only sizes that are multiples of 16, in eval mode."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.dropout = nn.Dropout(0.9)

    def forward(self, x):
        assert x.shape[-2] % 16 == 0 and x.shape[-1] % 16 == 0 and not self.training
        return self.dropout(self.conv(x))


def test_predict_full_pads_predicts_and_crops_back():
    torch.manual_seed(0)
    model = SizeChecked().train()
    images = torch.randn(2, 1, 21, 35)
    probs = predict_full(model, images, 16, torch.device("cpu"))
    # zero padding at the bottom/right is what the convolution's own zero padding sees at the border,
    # so the result equals the convolution of the unpadded image
    expected = torch.sigmoid(F.conv2d(images, model.conv.weight, model.conv.bias, padding=1))[:, 0]
    assert probs.shape == (2, 21, 35)
    torch.testing.assert_close(probs, expected)


def test_auc_score_matches_sklearn_for_two_and_more_classes():
    labels = torch.tensor([0, 0, 1, 1])
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    assert auc_score(labels, probs) == pytest.approx(0.75)  # 3 of the 4 positive/negative pairs ranked right
    assert auc_score(labels, probs) == pytest.approx(roc_auc_score(labels.numpy(), probs[:, 1].numpy()))
    rng = np.random.default_rng(1)
    labels = torch.from_numpy(rng.integers(0, 4, 60))
    probs = torch.softmax(torch.from_numpy(rng.normal(size=(60, 4))) + F.one_hot(labels, 4), 1)
    expected = roc_auc_score(labels.numpy(), probs.numpy(), multi_class="ovr", average="macro")
    assert auc_score(labels, probs) == pytest.approx(expected)
    assert (
        auc_score(torch.tensor([1, 1, 1]), torch.tensor([[0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])) is None
    )  # one class only
