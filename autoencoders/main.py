"""Autoencoders assignment: one sub-command per experiment, each writing a run folder.

    python main.py cifar        --data-dir ../../shared/data   # CIFAR-10 CNN classifier
    python main.py mnist        --data-dir ../../shared/data   # linear vs convolutional autoencoders
    python main.py stl10-cnn    --data-dir DIR                 # STL-10 CNN from scratch
    python main.py stl10-resnet --data-dir DIR --weights resnet18-f37072fd.pth
    python main.py stl10-ae     --data-dir DIR                 # autoencoder on unlabelled + frozen-encoder classifier
    python main.py segment      --data-dir DIR | --synthetic N # brain-tumour segmentation

A run folder ``<results-root>/<run-name>/`` holds config.json, metrics.json (with the
per-epoch histories), PNG figures, ``best.pth`` weights and ``checkpoint.pt`` for ``--resume``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

from autoencoders import datasets, helper, models, plots
from common.runs import make_run_dir, pick_device, save_json, seed_everything

PROG = "main.py"
HERE = Path(__file__).resolve().parent


def _subset(x: torch.Tensor, y: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed random subset of ``n`` samples for ``--quick`` (files are often sorted by class)."""
    idx = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[:n]
    return x[idx], y[idx]


def _one_cycle(optimizer: torch.optim.Optimizer, lr: float, total_steps: int):
    """One-cycle schedule over the whole run; a smoke run too short for its two phases keeps ``lr`` constant."""
    if total_steps < 20:
        return None
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=total_steps, pct_start=0.25)


def _start_run(args: argparse.Namespace, device: torch.device, dataset: str, **extra) -> Path:
    run_dir = make_run_dir(args.results_root, args.run_name or args.task)
    config = {k: v for k, v in vars(args).items() if k != "func"}
    save_json(run_dir / "config.json", {**config, "dataset": dataset, "device": str(device), **extra})
    return run_dir


def _splits(data: dict, quick: bool, quick_train: int, quick_test: int) -> tuple[torch.Tensor, ...]:
    """``(train_x, train_y, test_x, test_y)`` of a loaded dataset; ``--quick`` keeps the first few images."""
    train_x, train_y, test_x, test_y = data["train_x"], data["train_y"], data["test_x"], data["test_y"]
    if quick:
        (train_x, train_y), (test_x, test_y) = _subset(train_x, train_y, quick_train), _subset(test_x, test_y, quick_test)
    return train_x, train_y, test_x, test_y


def _finish_run(run_dir: Path, history: dict, figure_title: str, **metrics) -> None:
    save_json(run_dir / "metrics.json", {**metrics, "history": history})
    plots.save(plots.history_figure(history, figure_title), run_dir / "history.png")
    print(f"run folder: {run_dir}")


# ------------------------------------------------------------------ CIFAR-10
def run_cifar(args: argparse.Namespace, device: torch.device) -> None:
    data = datasets.load_cifar10(args.data_dir, args.download)
    train_x, train_y, test_x, test_y = _splits(data, args.quick, quick_train=256, quick_test=128)
    g = torch.Generator().manual_seed(args.seed)
    norm = dict(mean=datasets.CIFAR10_MEAN, std=datasets.CIFAR10_STD, channels_last=True)
    train_loader = datasets.TensorBatches(train_x, train_y, args.batch_size, shuffle=True, augment=True, generator=g, **norm)
    test_loader = datasets.TensorBatches(test_x, test_y, 500, **norm)

    model = models.CifarCNN().to(device, memory_format=torch.channels_last)
    params = models.count_parameters(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)
    scheduler = _one_cycle(optimizer, args.lr, args.epochs * len(train_loader))
    run_dir = _start_run(args, device, data["source"], train_images=len(train_y), test_images=len(test_y), parameters=params)
    print(f"CifarCNN: {params:,} parameters; {len(train_y)} train / {len(test_y)} test images from {data['source']}")
    history = helper.train_supervised(model, train_loader, test_loader, optimizer, args.epochs, device, run_dir,
                                      scheduler=scheduler, label_smoothing=0.1, resume=args.resume)  # fmt: skip
    _finish_run(run_dir, history, "CIFAR-10 CNN", parameters=params, best_test_acc=max(history["test_acc"]),
                final_test_acc=history["test_acc"][-1], train_seconds=sum(history["epoch_seconds"]),
                train_images=len(train_y), test_images=len(test_y))  # fmt: skip
    print(f"final test accuracy {history['test_acc'][-1]:.4f} (best {max(history['test_acc']):.4f}) "
          f"after {sum(history['epoch_seconds']):.0f} s of training")


# --------------------------------------------------------------------- MNIST
def run_mnist(args: argparse.Namespace, device: torch.device) -> None:
    data = datasets.load_mnist(args.data_dir, args.download)
    train_x, train_y, test_x, test_y = _splits(data, args.quick, quick_train=512, quick_test=256)
    g = torch.Generator().manual_seed(args.seed)
    train_loader = datasets.TensorBatches(train_x, train_y, args.batch_size, shuffle=True, generator=g)
    test_loader = datasets.TensorBatches(test_x, test_y, 1000)
    run_dir = _start_run(args, device, data["source"], train_images=len(train_y), test_images=len(test_y))

    table, histories, trained = [], {}, {}
    for task in helper.TASKS:
        for name, cls in (("linear", models.LinearAutoEncoder), ("conv", models.AutoEncoder_CNN)):
            seed_everything(args.seed)
            model = cls().to(device)
            sub_dir = make_run_dir(run_dir, f"{name}_{task}")
            optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
            history = helper.train_unsupervised(model, train_loader, test_loader, optimizer, args.epochs, device, sub_dir,
                                                task=task, noise_std=args.noise_std, resume=args.resume)  # fmt: skip
            model.eval()  # the final weights: the figures and the table show the same model
            histories[f"{name}_{task}"] = history
            trained[(name, task)] = model
            table.append({"model": cls.__name__, "task": task, "parameters": models.count_parameters(model),
                          "test_mse": history["test_mse"][-1], "train_seconds": sum(history["epoch_seconds"])})  # fmt: skip

    clean = test_x[:10].float() / 255
    noisy = helper.add_noise(clean, args.noise_std, torch.Generator().manual_seed(0))
    out = {}
    with torch.no_grad():
        for (name, task), model in trained.items():
            out[(name, task)] = model((noisy if task == "denoising" else clean).to(device)).cpu()
    plots.save(plots.image_rows_figure({"original": clean, "linear": out[("linear", "reconstruction")],
                                        "conv": out[("conv", "reconstruction")]}, "MNIST reconstruction"),
               run_dir / "reconstruction.png")  # fmt: skip
    plots.save(plots.image_rows_figure({"clean": clean, f"noisy (std {args.noise_std})": noisy,
                                        "linear": out[("linear", "denoising")], "conv": out[("conv", "denoising")]},
                                       "MNIST denoising"), run_dir / "denoising.png")  # fmt: skip
    for key, history in histories.items():
        plots.save(plots.history_figure(history, key), run_dir / f"history_{key}.png")
    save_json(run_dir / "metrics.json", {"table": table, "histories": histories})
    for row in table:
        print(f"{row['model']:>18} {row['task']:>14}: {row['parameters']:>7,} parameters, test MSE {row['test_mse']:.5f}")
    print(f"run folder: {run_dir}")


# -------------------------------------------------------------------- STL-10
def _stl10_labelled(args: argparse.Namespace) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    train_x, train_y = datasets.load_stl10(args.data_dir, "train", args.download)
    test_x, test_y = datasets.load_stl10(args.data_dir, "test", args.download)
    n_train, n_test = (64, 32) if args.quick else (len(train_y), len(test_y))
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    return as_t(train_x[:n_train]), as_t(train_y[:n_train]), as_t(test_x[:n_test]), as_t(test_y[:n_test])


def _stl10_source(args: argparse.Namespace) -> str:
    return f"STL-10 binary files in {Path(args.data_dir) / 'stl10_binary'}"


def _train_stl10_classifier(args, device, model, run_dir, mean, std, augment: bool, lr: float, epochs: int) -> dict:
    """Train the trainable part of ``model`` on the labelled STL-10 split; return the history."""
    train_x, train_y, test_x, test_y = _stl10_labelled(args)
    g = torch.Generator().manual_seed(args.seed)
    train_loader = datasets.TensorBatches(train_x, train_y, args.batch_size, shuffle=True, augment=augment, pad=8,
                                          mean=mean, std=std, generator=g)  # fmt: skip
    test_loader = datasets.TensorBatches(test_x, test_y, 200, mean=mean, std=std)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=lr, weight_decay=args.weight_decay)
    scheduler = _one_cycle(optimizer, lr, epochs * len(train_loader))
    history = helper.train_supervised(model, train_loader, test_loader, optimizer, epochs, device, run_dir,
                                      scheduler=scheduler, resume=args.resume)  # fmt: skip
    return history


def run_stl10_cnn(args: argparse.Namespace, device: torch.device) -> None:
    model = models.STL10CNN().to(device)
    params = models.count_parameters(model)
    run_dir = _start_run(args, device, _stl10_source(args), parameters=params)
    history = _train_stl10_classifier(args, device, model, run_dir, datasets.STL10_MEAN, datasets.STL10_STD, True, args.lr, args.epochs)
    _finish_run(run_dir, history, "STL-10 CNN", parameters=params, best_test_acc=max(history["test_acc"]),
                final_test_acc=history["test_acc"][-1], train_seconds=sum(history["epoch_seconds"]))  # fmt: skip


def run_stl10_resnet(args: argparse.Namespace, device: torch.device) -> None:
    if args.weights is None and not args.no_pretrained:
        sys.exit(f"{PROG}: error: stl10-resnet needs ImageNet weights: download resnet18-f37072fd.pth from "
                 "https://download.pytorch.org/models/ and pass --weights PATH (or --no-pretrained for a smoke test)")  # fmt: skip
    if args.weights is not None and not Path(args.weights).is_file():
        sys.exit(f"{PROG}: error: --weights {args.weights}: file not found (expected torchvision's resnet18-f37072fd.pth)")
    try:
        model = models.resnet18_transfer(args.weights).to(device)
    except (RuntimeError, OSError) as e:
        sys.exit(f"{PROG}: error: --weights {args.weights} is not a ResNet-18 state dict ({str(e).splitlines()[0]})")
    backbone = "ImageNet weights from " + str(args.weights) if args.weights else "RANDOM initialisation (no pretrained weights)"
    trainable = models.count_parameters(model, trainable_only=True)
    run_dir = _start_run(args, device, _stl10_source(args), backbone=backbone, trainable_parameters=trainable)
    print(f"ResNet-18 backbone: {backbone}; {trainable:,} trainable parameters")
    history = _train_stl10_classifier(args, device, model, run_dir, datasets.IMAGENET_MEAN, datasets.IMAGENET_STD, True, args.lr, args.epochs)
    _finish_run(run_dir, history, "STL-10 ResNet-18 (frozen)", backbone=backbone, trainable_parameters=trainable,
                best_test_acc=max(history["test_acc"]), final_test_acc=history["test_acc"][-1],
                train_seconds=sum(history["epoch_seconds"]))  # fmt: skip


def run_stl10_ae(args: argparse.Namespace, device: torch.device) -> None:
    unlabeled, _ = datasets.load_stl10(args.data_dir, "unlabeled", args.download)
    test_x, _ = datasets.load_stl10(args.data_dir, "test", args.download)
    n_unlabeled = min(len(unlabeled), 256 if args.quick else args.max_unlabeled or len(unlabeled))
    n_test = 32 if args.quick else 1000  # reconstruction MSE on the first 1,000 test images
    train_set = Subset(datasets.UnlabeledImages(unlabeled), range(n_unlabeled))
    test_set = datasets.UnlabeledImages(test_x[:n_test])
    g = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(train_set, args.batch_size, shuffle=True, num_workers=args.workers, generator=g)
    test_loader = DataLoader(test_set, 200, num_workers=args.workers)

    ae = models.STL10AutoEncoder().to(device)
    params = models.count_parameters(ae)
    run_dir = _start_run(args, device, _stl10_source(args), unlabeled_images=n_unlabeled, parameters=params)
    ae_dir = make_run_dir(run_dir, "autoencoder")
    optimizer = torch.optim.Adam(ae.parameters(), lr=args.lr)
    ae_history = helper.train_unsupervised(ae, train_loader, test_loader, optimizer, args.epochs, device, ae_dir,
                                           task="reconstruction", resume=args.resume)  # fmt: skip
    ae.eval()
    pick = torch.randperm(len(test_set), generator=torch.Generator().manual_seed(args.seed))[:9]
    originals = torch.stack([test_set[int(i)] for i in pick])
    with torch.no_grad():
        recon = ae(originals.to(device)).cpu()
    plots.save(plots.pairs_grid_figure(originals, recon, "STL-10 autoencoder: nine random test images"), run_dir / "reconstructions.png")

    # Frozen encoder under a classifier; the encoder saw [0, 1] images, so no standardisation here.
    clf = models.EncoderClassifier(ae.encoder, models.code_classifier_head(ae.code_channels)).to(device)
    clf_dir = make_run_dir(run_dir, "classifier")
    clf_epochs = 1 if args.quick else args.classifier_epochs
    clf_history = _train_stl10_classifier(args, device, clf, clf_dir, None, None, False, args.classifier_lr, clf_epochs)
    _finish_run(run_dir, clf_history, "STL-10 frozen-encoder classifier", parameters=params,
                classifier_trainable_parameters=models.count_parameters(clf, trainable_only=True),
                ae_test_mse=ae_history["test_mse"][-1], best_test_acc=max(clf_history["test_acc"]),
                final_test_acc=clf_history["test_acc"][-1], ae_history=ae_history)  # fmt: skip
    plots.save(plots.history_figure(ae_history, "STL-10 autoencoder"), run_dir / "history_autoencoder.png")


# -------------------------------------------------------------- segmentation
def run_segment(args: argparse.Namespace, device: torch.device) -> None:
    if args.synthetic:
        n = min(args.synthetic, 16) if args.quick else args.synthetic
        images, masks = datasets.synthetic_lesion_slices(n, size=args.size, seed=args.seed)
        full = TensorDataset(images, masks)
        source = f"SYNTHETIC lesions drawn into real MNI152 T1 slices (nilearn), {len(full)} slices; NOT the Figshare brain-tumour dataset"
    else:
        files = datasets.find_brain_tumour_files(args.data_dir)
        datasets.read_brain_tumour_mat(files[0])  # fail early, with one line, on a wrong format
        full = datasets.BrainTumourSlices(files[:16] if args.quick else files, size=args.size)
        source = f"Figshare brain-tumour .mat files in {args.data_dir} ({len(full)} slices)"
    train_idx, test_idx = datasets.split_indices(len(full), 0.2, args.seed)
    g = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(Subset(full, train_idx), args.batch_size, shuffle=True, num_workers=args.workers, generator=g)
    test_loader = DataLoader(Subset(full, test_idx), args.batch_size, num_workers=args.workers)
    sample_images, sample_masks = map(torch.stack, zip(*[full[i] for i in test_idx[:4]]))

    model = models.SegmentationNet().to(device)
    params = models.count_parameters(model)
    run_dir = _start_run(args, device, source, parameters=params, train_slices=len(train_idx), test_slices=len(test_idx))
    np.savez_compressed(run_dir / "samples_inputs.npz", images=sample_images.numpy(), masks=sample_masks.numpy())
    print(f"SegmentationNet: {params:,} parameters; {len(train_idx)} train / {len(test_idx)} test slices; data: {source}")
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    history = helper.train_segmentation(model, train_loader, test_loader, optimizer, args.epochs, device, run_dir,
                                        sample_images, sample_every=args.sample_every, resume=args.resume)  # fmt: skip
    best = int(np.argmax(history["test_dice"]))
    _finish_run(run_dir, history, "segmentation", dataset=source, parameters=params, best_epoch=best + 1,
                best_test_dice=history["test_dice"][best], best_test_iou=history["test_iou"][best],
                final_test_dice=history["test_dice"][-1], final_test_iou=history["test_iou"][-1], train_seconds=sum(history["epoch_seconds"]))  # fmt: skip
    preds = {int(p.stem.split("_")[1]): np.load(p).astype(np.float32) for p in sorted((run_dir / "samples").glob("epoch_*.npy"))}
    title = "SYNTHETIC lesions in MNI152 slices" if args.synthetic else "brain-tumour test slices"
    plots.save(plots.segmentation_samples_figure(sample_images.numpy(), sample_masks.numpy(), preds, title), run_dir / "samples.png")


# -------------------------------------------------------------------- parser
TASKS = {
    # name: (function, help, defaults)
    "cifar": (run_cifar, "CIFAR-10 CNN classifier", dict(epochs=16, batch_size=128, lr=0.1, weight_decay=5e-4)),
    "mnist": (run_mnist, "MNIST linear vs convolutional autoencoders, reconstruction and denoising", dict(epochs=5, batch_size=128, lr=1e-3)),
    "stl10-cnn": (run_stl10_cnn, "STL-10 CNN classifier from scratch", dict(epochs=30, batch_size=64, lr=2e-3, weight_decay=5e-4)),
    "stl10-resnet": (run_stl10_resnet, "STL-10 with a frozen ResNet-18 and a new head", dict(epochs=10, batch_size=64, lr=1e-3, weight_decay=1e-4)),
    "stl10-ae": (run_stl10_ae, "STL-10 autoencoder on the unlabelled split, then its frozen encoder under a classifier", dict(epochs=10, batch_size=128, lr=1e-3, weight_decay=1e-4)),
    "segment": (run_segment, "brain-tumour segmentation with the Dice loss", dict(epochs=20, batch_size=8, lr=1e-3)),
}  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0], formatter_class=fmt)
    common = argparse.ArgumentParser(add_help=False, formatter_class=fmt)
    common.add_argument("--data-dir", default=str(HERE / "data"), help="dataset root (see README for the layout of each dataset)")
    common.add_argument("--results-root", default=str(HERE / "runs"), help="run folders go here")
    common.add_argument("--run-name", default=None, help="run folder name (default: the sub-command)")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1 ...")
    common.add_argument("--quick", action="store_true", help="smoke test: a few hundred images, 1 epoch unless --epochs")
    common.add_argument("--resume", action="store_true", help="continue from checkpoint.pt in the run folder")
    common.add_argument("--download", action="store_true", help="let torchvision download the dataset (needs internet)")
    common.add_argument("--workers", type=int, default=2, help="data-loader processes for datasets read from disk")
    common.add_argument("--epochs", type=int, default=None, help="epochs (default per task, shown below; 1 with --quick)")
    sub = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    for name, (func, help_text, defaults) in TASKS.items():
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text, formatter_class=fmt)
        p.add_argument("--batch-size", type=int, default=defaults["batch_size"])
        p.add_argument("--lr", type=float, default=defaults["lr"], help="(peak) learning rate")
        if "weight_decay" in defaults:
            p.add_argument("--weight-decay", type=float, default=defaults["weight_decay"])
        p.set_defaults(func=func, default_epochs=defaults["epochs"])
        if name == "mnist":
            p.add_argument("--noise-std", type=float, default=0.4, help="std of the Gaussian noise for denoising")
        if name == "stl10-resnet":
            p.add_argument("--weights", default=None, help="torchvision ImageNet state dict, e.g. resnet18-f37072fd.pth")
            p.add_argument("--no-pretrained", action="store_true", help="random backbone (smoke test only)")
        if name == "stl10-ae":
            p.add_argument("--max-unlabeled", type=int, default=None, help="train on the first N unlabelled images")
            p.add_argument("--classifier-lr", type=float, default=2e-3, help="learning rate of the classifier on the frozen encoder")
            p.add_argument("--classifier-epochs", type=int, default=20)
        if name == "segment":
            p.add_argument("--synthetic", type=int, default=0, metavar="N",
                           help="offline demo: N real MNI152 slices with SYNTHETIC lesions instead of the Figshare files")  # fmt: skip
            p.add_argument("--sample-every", type=int, default=2, help="keep sample predictions every this many epochs")
            p.add_argument("--size", type=int, default=240, help="slices are resized to size x size (a multiple of 16)")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.quick else args.default_epochs
    for key in ("epochs", "batch_size", "workers", "synthetic", "sample_every", "max_unlabeled", "classifier_epochs"):
        value = getattr(args, key, None)
        if value is not None and value < (0 if key in ("workers", "synthetic") else 1):
            parser.error(f"--{key.replace('_', '-')} must be positive, got {value}")
    if getattr(args, "size", 16) % 16 or getattr(args, "size", 16) < 16:
        parser.error(f"--size must be a positive multiple of 16 (the network pools four times), got {args.size}")
    if getattr(args, "noise_std", 0) < 0:
        parser.error(f"--noise-std must be non-negative, got {args.noise_std}")
    try:
        device = pick_device(args.device)
    except (ValueError, RuntimeError) as e:
        parser.error(str(e))
    seed_everything(args.seed)
    start = time.perf_counter()
    try:
        args.func(args, device)
    except datasets.DataError as e:
        sys.exit(f"{PROG}: error: {e}")
    print(f"done in {time.perf_counter() - start:.0f} s on {device}")


if __name__ == "__main__":
    main()
