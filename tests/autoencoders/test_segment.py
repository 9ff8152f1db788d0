"""Brain-tumour segmentation: the PNG layout, the block split, per-type scores, and validation (not test)
choosing the reported weights, in segmentation and in the classification loop."""

import argparse
import random

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from autoencoders import cifar, datasets, helper, main, models, segment
from common.runs import load_checkpoint, load_json

CPU = torch.device("cpu")
TYPES = [1] * 10 + [3] * 6 + [2] * 12 + [1] * 4  # files 1..32, types in runs like patients


def test_png_layout_loads_aligned_images_masks_and_labels_in_numeric_order(tmp_path, formats):
    written = formats.write_tumour_pngs(tmp_path, TYPES, size=32)  # labels.csv rows in reverse order
    slices, source = datasets.find_brain_tumour_slices(tmp_path)
    assert [s.number for s in slices] == list(range(1, 33))  # numeric, not 1, 10, 11, ...
    assert [s.label for s in slices] == TYPES and "PNG" in source and "32 slices" in source
    data = datasets.BrainTumourSlices(slices, size=32)
    for i in (0, 1, 9, 10, 31):  # 1.png, 2.png, 10.png, 11.png, 32.png
        image, mask = data[i]
        pixels, true_mask, _ = written[i + 1]
        assert image.shape == mask.shape == (1, 32, 32)
        expected = (pixels - pixels.min()) / (pixels.max() - pixels.min())
        np.testing.assert_allclose(image[0].numpy(), expected, atol=1e-6)
        assert torch.equal(mask[0], torch.from_numpy(true_mask).float())  # 0/255 on disk -> 0/1
    image, mask = datasets.BrainTumourSlices(slices, size=16)[0]
    assert image.shape == (1, 16, 16) and set(mask.unique().tolist()) <= {0.0, 1.0}


def test_png_layout_without_labels_csv_has_unknown_types(tmp_path, formats):
    formats.write_tumour_pngs(tmp_path, [1] * 12, size=16, csv=False)
    slices, source = datasets.find_brain_tumour_slices(tmp_path)
    assert {s.label for s in slices} == {0} and "without labels.csv" in source


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda root: (root / "masks" / "5.png").unlink(), "without a mask"),
        (lambda root: (root / "labels.csv").write_text("file,label\n1.png,4\n"), "labels must be 1"),
        (lambda root: (root / "labels.csv").write_text("name,kind\n1.png,1\n"), "file,label"),
        (lambda root: (root / "images" / "7.png").rename(root / "images" / "seven.png"), "named by their number"),
    ],
)
def test_png_layout_problems_are_data_errors(tmp_path, formats, damage, message):
    formats.write_tumour_pngs(tmp_path, TYPES, size=16)
    damage(tmp_path)
    with pytest.raises(datasets.DataError, match=message):
        datasets.find_brain_tumour_slices(tmp_path)


def _split_of(numbers, labels, guard):
    split = datasets.block_split(numbers, labels, guard)
    return {k: sorted(numbers[i] for i in v) for k, v in split.items()}


def test_block_split_is_contiguous_per_type_disjoint_guarded_and_deterministic():
    rng = random.Random(0)
    labels = [t for _ in range(30) for t in [rng.choice([1, 2, 3])] * rng.randint(3, 12)]  # "patients" of 3-12 slices
    numbers = list(range(1, len(labels) + 1))
    guard = 2
    split = _split_of(numbers, labels, guard)
    assert sum(len(v) for v in split.values()) == len(numbers)
    assert all(not set(split[a]) & set(split[b]) for a in split for b in split if a < b)  # disjoint
    label_of = dict(zip(numbers, labels))
    for t in (1, 2, 3):
        ordered = [n for n in numbers if label_of[n] == t]
        role = {n: name for name, v in split.items() for n in v}
        roles = [role[n] for n in ordered]
        kept = [r for r in roles if r != "dropped"]
        # fixed positions: the train blocks, then one validation block, then the two test blocks, each contiguous
        assert kept == sorted(kept, key=["train", "val", "test"].index)
        for name in ("train", "val", "test"):
            assert name in kept, (t, name)  # every split holds every type
            positions = [i for i, r in enumerate(roles) if r == name]
            assert positions == list(range(positions[0], positions[-1] + 1)), (t, name)
        # the guard: `guard` files on each side of each of the two borders are dropped, nothing else
        n = len(ordered)
        blocks = np.array_split(np.arange(n), 10)
        borders = [blocks[7][0], blocks[8][0]]
        dropped = [i for i, r in enumerate(roles) if r == "dropped"]
        assert dropped == [i for b in borders for i in range(b - guard, b + guard)]
    # deterministic, and the same for any order of the input
    assert _split_of(numbers, labels, guard) == split
    order = list(range(len(numbers)))
    random.Random(1).shuffle(order)
    assert _split_of([numbers[i] for i in order], [labels[i] for i in order], guard) == split
    # guard 0 keeps every file
    assert not _split_of(numbers, labels, 0)["dropped"]


def test_block_split_refuses_a_guard_that_empties_a_split():
    with pytest.raises(datasets.DataError, match="--guard"):
        datasets.block_split(list(range(1, 31)), [1] * 30, guard=3)


def test_per_type_scores_on_a_hand_made_prediction():
    t = torch.zeros(4, 1, 4, 4)
    p = torch.full((4, 1, 4, 4), -5.0)  # logits: the identity "model" below predicts sigmoid(p)
    t[0, 0, :2, :2] = 1
    p[0, 0, :2, :2] = 5  # exact: Dice 1, IoU 1
    t[1, 0, 0, :2] = 1
    p[1, 0, 0, 0] = 5  # 1 of 2 pixels: Dice 2/3, IoU 1/2
    t[2, 0, 3, 3] = 1  # nothing predicted: Dice 0, IoU 0
    t[3, 0, 1, 1:3] = 1
    p[3, 0, 1, :4] = 5  # 4 predicted, 2 right: Dice 4/6, IoU 2/4
    labels = [1, 1, 2, 3]
    scores = helper.segmentation_scores(nn.Identity(), [(p[:3], t[:3]), (p[3:], t[3:])], CPU)
    out = helper.per_type_scores(scores["dice"], scores["iou"], labels, datasets.TUMOUR_TYPES)
    assert out["meningioma"] == pytest.approx({"dice": (1 + 2 / 3) / 2, "iou": 3 / 4, "slices": 2})
    assert out["glioma"] == pytest.approx({"dice": 0.0, "iou": 0.0, "slices": 1})
    assert out["pituitary"] == pytest.approx({"dice": 2 / 3, "iou": 1 / 2, "slices": 1})
    assert out["overall"] == pytest.approx(
        {"dice": (1 + 2 / 3 + 0 + 2 / 3) / 4, "iou": (1 + 0.5 + 0 + 0.5) / 4, "slices": 4}
    )


class Scripted(nn.Module):
    """A 'model' whose output after epoch k is column k of its input: val and test scores per epoch are scripted."""

    def __init__(self):
        super().__init__()
        self.k = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x[:, int(self.k.item())] + 0 * self.k


def _advance(model, *args, **kwargs):
    """Stands in for train_one_epoch: the 'training' moves the model on by one epoch."""
    with torch.no_grad():
        model.k += 1
    return 0.0


def _classification_set(accuracies):
    """Inputs whose column k holds one-hot logits that are right for a fraction accuracies[k-1] of 4 samples."""
    y = torch.tensor([0, 1, 0, 1])
    x = torch.zeros(4, len(accuracies) + 1, 2)
    for k, acc in enumerate(accuracies, start=1):
        right = int(round(acc * 4))
        pred = torch.where(torch.arange(4) < right, y, 1 - y)
        x[:, k] = nn.functional.one_hot(pred, 2).float()
    return [(x, y)]


def test_validation_not_test_chooses_the_reported_cifar_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar, "train_one_epoch", _advance)
    val, test = _classification_set([0.5, 1.0, 0.75]), _classification_set([1.0, 0.25, 0.5])
    model = Scripted()
    fit = helper.Fit(torch.optim.SGD(model.parameters(), lr=0.0), 3, CPU, tmp_path)
    history = cifar.train(model, [None], val, fit, test_loader=test)
    m = cifar.headline(model, history, test, CPU)
    assert history["val_acc"] == [0.5, 1.0, 0.75] and history["test_acc"] == [1.0, 0.25, 0.5]
    assert m["best_epoch"] == 2 and m["val_acc"] == 1.0 and m["test_acc"] == 0.25  # the headline: epoch 2's test score
    assert m["test_selected_epoch"] == 1 and m["test_selected_test_acc"] == 1.0  # the course's protocol, beside it
    assert (
        float(load_checkpoint(tmp_path / "best.pth")["k"]) == 2
        and float(load_checkpoint(tmp_path / "best_test.pth")["k"]) == 1
    )


def test_validation_not_test_chooses_the_reported_segmentation_weights(tmp_path, monkeypatch):
    """Validation Dice is best after epoch 2, test Dice after epoch 3: the reported test Dice is epoch 2's."""
    monkeypatch.setattr(segment, "train_one_epoch", _advance)

    def scripted(right_per_epoch, n=4):
        t = torch.zeros(n, 1, 8, 8)
        t[:, 0, 2:5, 2:5] = 1
        x = torch.full((n, len(right_per_epoch) + 1, 1, 8, 8), -9.0)
        for k, right in enumerate(right_per_epoch, start=1):
            x[:right, k] = t[:right] * 18 - 9  # the first `right` slices exactly right, the others empty
        return x, t

    val_x, val_t = scripted([1, 3, 2])
    test_x, test_t = scripted([1, 2, 4])
    model = Scripted()
    fit = helper.Fit(torch.optim.SGD(model.parameters(), lr=0.0), 3, CPU, tmp_path)
    history = segment.train(model, [None], [(val_x, val_t)], fit, val_x[:1], sample_every=5)
    assert history["val_dice"] == [0.25, 0.75, 0.5]
    args = argparse.Namespace(batch_size=2, workers=0)
    slices = [datasets.TumourSlice(i + 1, tmp_path, tmp_path, [1, 2, 3, 3][i]) for i in range(4)]
    test, dices = segment.test_once(model, TensorDataset(test_x, test_t), list(range(4)), slices, CPU, args)
    assert test["test_dice"] == 0.5  # epoch 2: two of four test slices right (epoch 3 would give 1.0)
    assert dices.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert test["test_per_type"]["pituitary"]["dice"] == 0.0 and test["test_per_type"]["glioma"]["dice"] == 1.0


def test_segmentation_net_stays_within_500k_parameters():
    assert models.count_parameters(models.SegmentationNet()) == 469_121 <= 500_000


def test_png_pipeline_trains_scores_per_type_and_records_the_split(tmp_path, formats):
    """`segment` on the PNG layout: the split is in config.json, the test scores come per type, and the
    kept weights segment the test slices better than the untrained network."""
    labels = [1] * 40 + [2] * 40 + [3] * 40  # per type: 10 blocks of 4 files
    formats.write_tumour_pngs(tmp_path / "png", labels, size=32)
    main.main(
        [
            "segment",
            "--data-dir",
            str(tmp_path / "png"),
            "--size",
            "32",
            "--epochs",
            "4",
            "--batch-size",
            "4",
            "--lr",
            "0.01",
            "--guard",
            "1",
            "--workers",
            "0",
            "--results-root",
            str(tmp_path / "runs"),
        ]
    )
    run = tmp_path / "runs" / "segment"
    config, m = load_json(run / "config.json"), load_json(run / "metrics.json")
    split = config["split"]
    assert {name: split[name]["slices"] for name in ("train", "val", "test", "dropped")} == {
        "train": 81,
        "val": 6,
        "test": 21,
        "dropped": 12,
    }
    assert split["val"]["per_type"]["glioma"] == {"slices": 2, "files": "70-71"}
    assert split["test"]["per_type"]["glioma"] == {"slices": 7, "files": "74-80"}
    assert split["dropped"]["per_type"]["glioma"] == {"slices": 4, "files": "68-69, 72-73"}
    assert set(m["test_per_type"]) == {"overall", "meningioma", "glioma", "pituitary"}
    assert m["test_per_type"]["overall"]["slices"] == 21 and m["parameters"] <= 500_000
    assert (run / "test_cases.png").exists() and m["test_dice"] == m["test_per_type"]["overall"]["dice"]
    slices, _ = datasets.find_brain_tumour_slices(tmp_path / "png")
    test_idx = [i for i, s in enumerate(slices) if (s.number - 1) % 40 >= 33]
    data = torch.utils.data.Subset(datasets.BrainTumourSlices(slices, size=32), test_idx)
    torch.manual_seed(0)
    untrained = helper.segmentation_scores(models.SegmentationNet(), torch.utils.data.DataLoader(data, 4), CPU)
    trained = models.SegmentationNet()
    trained.load_state_dict(load_checkpoint(run / "best.pth"))
    scores = helper.segmentation_scores(trained, torch.utils.data.DataLoader(data, 4), CPU)
    assert float(scores["dice"].mean()) == pytest.approx(m["test_dice"], abs=1e-6)
    assert m["test_dice"] > float(untrained["dice"].mean()) + 0.1


def test_augmentation_moves_image_and_mask_together_and_keeps_masks_binary():
    torch.manual_seed(0)
    mask = torch.zeros(1, 1, 32, 32)
    mask[0, 0, 4:12, 3:20] = 1  # an off-centre bar: any flip or rotation moves it
    augmented = datasets.AugmentedSlices(TensorDataset(mask.clone(), mask.clone()), gain=(1.0, 1.0))
    moved = 0
    for _ in range(20):
        image, m = augmented[0]
        assert set(m.unique().tolist()) <= {0.0, 1.0}
        assert ((image > 0.5).float() != m).float().mean() < 0.03  # the same flip, rotation and scaling for both
        moved += int(not torch.equal(m, mask[0]))
    assert moved >= 15
    flips = datasets.AugmentedSlices(TensorDataset(mask, mask), degrees=0.0, scale=(1.0, 1.0), gain=(2.0, 2.0))
    seen = {bool(torch.equal(flips[0][1], mask[0].flip(-1))) for _ in range(20)}
    assert seen == {True, False} and float(flips[0][0].max()) == pytest.approx(2.0)  # flips half the time; the gain


def test_init_from_loads_earlier_weights_or_ends_with_one_line(tmp_path):
    trained = models.SegmentationNet()
    torch.save(trained.state_dict(), tmp_path / "best.pth")
    model = models.SegmentationNet()
    segment.start_from(model, str(tmp_path / "best.pth"))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), trained.state_dict().values()))
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pth")
    for path, message in ((tmp_path / "missing.pth", "no such file"), (tmp_path / "other.pth", "not the weights")):
        with pytest.raises(datasets.DataError, match=message):
            segment.start_from(models.SegmentationNet(), str(path))
