"""bf16 training in mri_cs: the U-Net runs in bf16, everything the loss and the metrics see stays float32."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from common import precision
from common.runs import load_json
from mri_cs import main as mri_main
from mri_cs import train


def test_only_the_network_runs_in_bf16():
    args = mri_main.parse_args(["--quick", "--loss", "l1", "--augment", "none"])
    model = train.build_model(args, torch.device("cpu"))
    seen = {}
    model.unet.register_forward_hook(lambda module, inputs, output: seen.update(unet=output.dtype))
    loader = DataLoader(TensorDataset(torch.randn(4, 32, 32, 2), torch.rand(4, 1, 32, 32)), batch_size=2)
    fit = train.Fit(args, torch.device("cpu"), "bf16")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    original = train.F.l1_loss
    losses = []

    def l1_loss(output, target):
        losses.append(output.dtype)
        return original(output, target)

    train.F.l1_loss = l1_loss
    try:
        train.train_one_epoch(model, loader, optimizer, 0.0, fit, "test")
    finally:
        train.F.l1_loss = original
    assert seen["unet"] == torch.bfloat16 and set(losses) == {torch.float32}
    assert all(p.dtype == torch.float32 for p in model.parameters())


@pytest.mark.parametrize("fast, expected", [(True, "bf16"), (False, "fp32")])
def test_the_run_records_the_precision_auto_picked(tmp_path, monkeypatch, fast, expected):
    monkeypatch.setattr(precision, "fast_bf16", lambda device: fast)
    metrics = mri_main.main(["--quick", "--results-root", str(tmp_path), "--epochs", "1"])
    config = load_json(tmp_path / "unet_drop0.3_fixed_quick" / "config.json")
    assert config["precision"] == metrics["precision"] == expected and config["args"]["precision"] == "auto"
