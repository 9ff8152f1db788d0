"""common/pretrained.py: the ImageNet ResNet-18 weights from torch hub's cache, a download, a file, or nowhere.

No test touches the network: ``torch.hub.urlopen`` fails as it does offline, or the download
function is replaced by one that returns a real-shaped (random) state dict.
"""

import hashlib
from urllib.error import URLError

import pytest
import torch
import torchvision

from common import pretrained
from common.cli import DataError


@pytest.fixture(autouse=True)
def offline_hub(tmp_path, monkeypatch):
    """An empty torch hub cache in ``tmp_path`` and a network that is not there;
    returns the IMAGENET1K_V1 cache file."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "urlopen", no_network)
    return pretrained.imagenet_cache_file()


@pytest.fixture(scope="module")
def reference() -> dict:
    """A full torchvision ResNet-18 state dict (random weights, as the IMAGENET1K_V1 file holds them)."""
    torch.manual_seed(0)
    return torchvision.models.resnet18().state_dict()


def test_the_cache_file_is_torchvisions_in_torch_home(offline_hub, tmp_path):
    assert offline_hub == tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"


def test_offline_without_a_cached_file_is_a_skip_that_says_how_to_get_the_weights():
    weights = pretrained.resnet18_weights("imagenet", "--weights")  # through torch.hub, whose urlopen fails
    assert not weights.available and weights.state_dict is None
    assert weights.source == f"skipped: {weights.reason}"
    assert "could not be downloaded" in weights.reason and "Name or service not known" in weights.reason
    assert "--weights imagenet" in weights.reason and "--weights PATH" in weights.reason and "\n" not in weights.reason


def test_no_flag_is_a_skip_naming_the_flag():
    weights = pretrained.resnet18_weights(None, "--encoder-weights")
    assert not weights.available and weights.reason.startswith("no --encoder-weights given")
    assert "--encoder-weights imagenet" in weights.reason


def test_a_cached_file_is_used_offline(offline_hub, reference):
    offline_hub.parent.mkdir(parents=True)
    torch.save(reference, offline_hub)
    weights = pretrained.resnet18_weights("imagenet", "--weights")
    assert weights.source == "ImageNet (torchvision IMAGENET1K_V1, cached)" and weights.reason is None
    assert not any(k.startswith("fc.") for k in weights.state_dict)
    assert weights.state_dict.keys() == {k for k in reference if not k.startswith("fc.")}
    assert torch.equal(weights.state_dict["layer4.1.conv2.weight"], reference["layer4.1.conv2.weight"])


def test_a_download_is_labelled_downloaded_and_the_next_run_reads_the_cache(offline_hub, reference, monkeypatch):
    def download():  # what torch.hub does online: write the cache file, return its weights
        offline_hub.parent.mkdir(parents=True, exist_ok=True)
        torch.save(reference, offline_hub)
        return reference

    real = pretrained.download_imagenet
    monkeypatch.setattr(pretrained, "download_imagenet", download)
    first = pretrained.resnet18_weights("imagenet", "--weights")
    assert first.source == "ImageNet (torchvision IMAGENET1K_V1, downloaded)"
    torch.testing.assert_close(first.state_dict["conv1.weight"], reference["conv1.weight"])
    monkeypatch.setattr(pretrained, "download_imagenet", real)  # offline again: the cached file serves the second run
    monkeypatch.setattr(torch.hub, "urlopen", lambda *a, **k: pytest.fail("the network was used"))
    assert pretrained.resnet18_weights("imagenet", "--weights").source.endswith("cached)")


def test_a_corrupt_cached_file_is_an_error_that_says_to_delete_it(offline_hub):
    offline_hub.parent.mkdir(parents=True)
    offline_hub.write_bytes(b"half a download")
    with pytest.raises(DataError, match=r"cannot read the cached .*resnet18-f37072fd.pth .*; delete it") as e:
        pretrained.resnet18_weights("imagenet", "--weights")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "wrap", [lambda s: s, lambda s: {"state_dict": s, "epoch": 90}], ids=["torchvision", "checkpoint"]
)
def test_a_file_is_loaded_and_recorded_with_its_sha256(tmp_path, reference, wrap):
    path = tmp_path / "resnet18.pth"
    torch.save(wrap(reference), path)
    weights = pretrained.resnet18_weights(str(path), "--weights")
    assert weights.source == f"file {path} (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:8]})"
    torch.testing.assert_close(
        weights.state_dict["layer2.0.downsample.1.running_var"], reference["layer2.0.downsample.1.running_var"]
    )


def test_bad_files_are_one_line_errors(tmp_path, reference):
    garbage, other, resnet34_shape = tmp_path / "garbage.pth", tmp_path / "other.pth", tmp_path / "wide.pth"
    garbage.write_bytes(b"not a torch file")
    torch.save({"something": torch.zeros(1)}, other)
    torch.save({**reference, "layer1.0.conv1.weight": torch.zeros(32, 64, 3, 3)}, resnet34_shape)
    cases = [
        (tmp_path / "missing.pth", "file not found"),
        (garbage, "cannot read"),
        (other, "not a ResNet-18"),
        (resnet34_shape, "not a ResNet-18"),
    ]
    for path, message in cases:
        with pytest.raises(DataError, match=message) as e:
            pretrained.resnet18_weights(str(path), "--weights")
        assert str(e.value).startswith(f"--weights {path}") and "\n" not in str(e.value), path
