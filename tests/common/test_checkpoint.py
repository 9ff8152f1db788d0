"""The one checkpoint layer (common.checkpoint, common.runs.check_run): a resumed run continues exactly as
the uninterrupted one, a changed fixed argument and a damaged checkpoint are refused in one line, and no
package keeps a checkpoint path of its own."""

import argparse
import ast
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from common import checkpoint, runs
from common.checkpoint import KEYS, Progress, load_progress, save_extra, save_progress
from common.cli import RunError, run_command

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mri_cs", "medical_cnn", "autoencoders", "backprop", "auto_decoder")


def _setup(seed: int = 0):
    torch.manual_seed(seed), np.random.seed(seed), random.seed(seed)
    model = nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.3), nn.Linear(8, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1 / (1 + epoch))  # a rate set by the count
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(32, 3, generator=torch.Generator().manual_seed(1)), torch.randn(32, 1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), 8, shuffle=True, generator=g)
    return model, optimizer, scheduler, loader, {"loader": g}


def _train(path: Path, epochs: int, resume: bool, stop_after: int | None = None) -> tuple[nn.Module, Progress]:
    """A loop that draws from every random source a real one does: dropout and noise (torch), the loader's own
    generator, NumPy and Python's ``random``; it keeps the best weights on a score that moves up and down."""
    model, optimizer, scheduler, loader, generators = _setup()
    progress = load_progress(path, model, optimizer, scheduler, generators, resume=resume)
    history = progress.extra.setdefault("history", [])
    for epoch in range(progress.step, epochs):
        for x, y in loader:
            x = x + 0.1 * torch.randn_like(x) + float(np.random.normal()) * 0.01 + random.random() * 0.01
            loss = nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        history.append(loss.item())
        score = -loss.item() + (10.0 if epoch == 1 else 0.0)  # epoch 2 stays the best
        if progress.improves(score):
            progress.keep_best(model, score, epoch + 1)
        progress.step = epoch + 1
        save_progress(path, progress, model, optimizer, scheduler, generators)
        if stop_after is not None and epoch + 1 == stop_after:
            break
    return model, progress


def test_a_resumed_run_continues_exactly_as_the_uninterrupted_one(tmp_path):
    straight, whole = _train(tmp_path / "straight.pt", 5, resume=False)
    _train(tmp_path / "cut.pt", 5, resume=False, stop_after=2)
    torch.manual_seed(123), np.random.seed(123), random.seed(123)  # a new process starts from other random states
    resumed, progress = _train(tmp_path / "cut.pt", 5, resume=True)
    assert progress.extra["history"] == whole.extra["history"] and len(whole.extra["history"]) == 5
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()))
    assert progress.best_step == whole.best_step == 2 and progress.best_score == whole.best_score
    assert all(torch.equal(progress.best_model[k], whole.best_model[k]) for k in whole.best_model)
    assert torch.equal(torch.get_rng_state(), _rng_after(tmp_path / "straight.pt"))


def _rng_after(path: Path) -> torch.Tensor:
    return runs.load_checkpoint(path)["rng"]["torch"]


def test_the_checkpoint_has_the_one_layout_and_loads_without_unpickling_code(tmp_path):
    _train(tmp_path / "c.pt", 2, resume=False)
    ckpt = torch.load(tmp_path / "c.pt", weights_only=True)
    assert tuple(ckpt) == KEYS and ckpt["step"] == 2 and ckpt["best_step"] == 2
    assert set(ckpt["rng"]) == {"torch", "cuda", "numpy", "python", "generators"} and set(
        ckpt["rng"]["generators"]
    ) == {"loader"}
    assert ckpt["scheduler"]["last_epoch"] == 2 and ckpt["optimizer"]["state"]  # Adam's moments travel too


@pytest.mark.parametrize("source", ["torch", "numpy", "python", "generator"])
def test_every_random_state_is_restored(source):
    g = torch.Generator().manual_seed(0)
    draw = {
        "torch": lambda: torch.rand(3).tolist(),
        "numpy": lambda: np.random.rand(3).tolist(),
        "python": lambda: [random.random() for _ in range(3)],
        "generator": lambda: torch.rand(3, generator=g).tolist(),
    }[source]
    saved = checkpoint.rng_state({"g": g})
    first = draw()
    draw(), torch.manual_seed(7), np.random.seed(7), random.seed(7), g.manual_seed(7)
    checkpoint.set_rng_state(saved, {"g": g})
    assert draw() == first


def test_the_best_weights_are_a_copy_not_the_live_tensors():
    model, progress = nn.Linear(2, 1), Progress()
    progress.keep_best(model, 1.0, 1)
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not torch.equal(progress.best_model["weight"], model.weight)
    assert progress.improves(2.0) and not progress.improves(0.5) and progress.improves(0.5, higher_is_better=False)


def test_a_new_run_reads_nothing_and_a_required_checkpoint_must_exist(tmp_path):
    model = nn.Linear(2, 1)
    (tmp_path / "c.pt").write_bytes(b"garbage")
    assert load_progress(tmp_path / "c.pt", model, resume=False) == Progress()  # without --resume nothing is read
    assert load_progress(tmp_path / "missing.pt", model, resume=True) == Progress()  # a model the run had not reached
    with pytest.raises(RunError, match="has no missing.pt; start it again with --overwrite"):
        load_progress(tmp_path / "missing.pt", model, resume=True, required=True)


def _damaged(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.pt"
    if kind == "garbage":
        path.write_bytes(b"PK\x03\x04 not a checkpoint")
    else:
        save_progress(path, Progress(step=1), nn.Linear(2, 1), torch.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1))
        if kind == "truncated":
            path.write_bytes(path.read_bytes()[:200])
        elif kind == "another model":
            save_progress(path, Progress(step=1), nn.Linear(5, 1))
        elif kind == "old layout":
            runs.save_checkpoint(path, {"model": nn.Linear(2, 1).state_dict(), "opt": {}, "epoch": 1})
    return path


@pytest.mark.parametrize("kind", ["garbage", "truncated", "another model", "old layout"])
def test_a_damaged_or_mismatched_checkpoint_is_one_line_and_exit_2(tmp_path, capsys, kind):
    path = _damaged(tmp_path, kind)
    model = nn.Linear(2, 1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(SystemExit) as e:
        run_command(
            "prog", lambda: load_progress(path, model, torch.optim.SGD(model.parameters(), lr=0.1), resume=True)
        )
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and err[0].startswith(f"prog: error: cannot resume from {path}")
    assert "start the run again with --overwrite" in err[0] and "Traceback" not in err[0]
    if kind != "another model":
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def _args(tmp_path: Path, **kw) -> argparse.Namespace:
    return argparse.Namespace(
        **{
            "results_root": str(tmp_path),
            "name": "run",
            "resume": False,
            "overwrite": False,
            "seed": 0,
            "lr": 0.1,
            "epochs": 3,
            "device": "cpu",
            **kw,
        }
    )


def test_a_changed_fixed_argument_is_refused_in_one_line_and_free_ones_may_change(tmp_path, capsys):
    fixed = ("seed", "lr")
    with runs.open_run(_args(tmp_path), fixed, dataset="toy") as run_dir:
        runs.save_checkpoint(run_dir / "checkpoint.pt", {})
    config = runs.load_json(run_dir / "config.json")
    assert config["args"] == vars(_args(tmp_path)) and config["dataset"] == "toy"
    with pytest.raises(SystemExit) as e:
        run_command("prog", lambda: runs.check_run(_args(tmp_path, resume=True, lr=0.2), fixed))
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "was started with --lr 0.1 (now 0.2)" in err[0]
    assert runs.check_run(_args(tmp_path, resume=True, epochs=9, device="cuda"), fixed) == run_dir  # free on resume
    with pytest.raises(RunError, match="already holds a run"):
        runs.check_run(_args(tmp_path), fixed)  # a new run never writes over one


def test_save_extra_replaces_the_records_only(tmp_path):
    model = nn.Linear(2, 1)
    save_progress(tmp_path / "c.pt", Progress(step=3, extra={"history": [1.0]}), model)
    save_extra(tmp_path / "c.pt", {"history": [1.0], "reference": torch.ones(2)})
    ckpt = runs.load_checkpoint(tmp_path / "c.pt")
    assert ckpt["step"] == 3 and torch.equal(ckpt["model"]["weight"], model.weight.detach())
    assert torch.equal(ckpt["extra"]["reference"], torch.ones(2))


def _defined_and_called(path: Path) -> tuple[set[str], set[str]]:
    tree = ast.parse(path.read_text())
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    called = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return defined, called


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_keeps_a_checkpoint_path_of_its_own(package):
    """Checkpoints are written and read through common.checkpoint / common.runs only."""
    for path in sorted((ROOT / package).rglob("*.py")):
        defined, called = _defined_and_called(path)
        own = {
            d
            for d in defined
            if any(w in d for w in ("checkpoint", "progress", "rng_state"))
            or d in ("load_best", "keep_best_test", "prepare_run", "check_run")
        }
        assert not own, f"{path.relative_to(ROOT)} defines {sorted(own)}"
        assert not called & {"torch.save", "torch.load"}, f"{path.relative_to(ROOT)} calls torch.save/torch.load itself"


def _parsed_commands() -> dict[str, list[tuple[argparse.Namespace, tuple[str, ...]]]]:
    """Per package, each command's parsed default arguments and the tuple its --resume must repeat."""
    import importlib

    from auto_decoder import main as ad_main
    from autoencoders import helper
    from autoencoders import main as ae_main
    from backprop import main as bp_main
    from common.cli import fill_common_defaults
    from medical_cnn import main as mc_main
    from mri_cs import main as mri_main
    from mri_cs import train

    def module(name: str):
        return importlib.import_module(name)

    return {
        "mri_cs": [(mri_main.parse_args([]), train.FIXED_ON_RESUME)],
        "medical_cnn": [
            (fill_common_defaults(mc_main.build_parser().parse_args([c])), module(f"medical_cnn.{m}").FIXED_ON_RESUME)
            for c, m in mc_main.MODULES.items()
        ],
        "autoencoders": [
            (fill_common_defaults(ae_main.build_parser().parse_args([t])), helper.fixed_on_resume(t))
            for t in ae_main.TASKS
        ],
        "backprop": [(bp_main.parse([c]), module(m).FIXED_ON_RESUME) for c, m in bp_main.MODULES.items()],
        "auto_decoder": [
            (ad_main.parse([c]), module(f"auto_decoder.{m}").FIXED_ON_RESUME)
            for c, m in (("ad", "train"), ("vad", "train"), ("vae", "vae"), ("classifier", "classifier"))
        ],
    }


def test_every_fixed_argument_is_a_real_one_and_the_run_folder_is_args_name():
    """A misspelt name in a FIXED_ON_RESUME tuple would never be checked; backprop fixes every argument but the
    ones that only say where and how to run."""
    for package, commands in _parsed_commands().items():
        known = {k for args, _ in commands for k in vars(args)}
        for args, fixed in commands:
            assert set(fixed) <= known, (package, sorted(set(fixed) - known))
            assert not hasattr(args, "run_name"), package
            if package in ("mri_cs", "backprop", "auto_decoder"):  # parsed in full (the others name it in main())
                assert isinstance(args.name, str) and args.name, package
    free = {"device", "results_root", "name", "resume", "overwrite", "download"}
    for args, fixed in _parsed_commands()["backprop"]:
        assert set(fixed) == set(vars(args)) - free, args.command
