"""Backpropagation by hand, inpainting, a denoiser ablation and Wiener deconvolution with CNNs.

Four sub-commands, each writing a run folder ``<results-root>/<name>/`` with
``config.json``, ``metrics.json``, figures and (for the trained ones) weights:

    python main.py gradcheck                       # hand-written backward passes vs autograd
    python main.py inpaint  --data-dir <root with MNIST/raw>
    python main.py ablation --data-dir <train images> --test-dir <test images>
    python main.py wiener   --data-dir <train images> --test-dir <test images>

Without ``--data-dir`` the image commands use scikit-image's bundled photographs
(an offline fallback, labelled as such in config.json). ``--quick`` runs a tiny
smoke version of any command in seconds.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tqdm import tqdm  # noqa: E402

from backprop.functions import FullyConnectedNet, LinearFunction, ReLUFunction, first_layer_grads  # noqa: E402
from backprop.loaders import DataError, load_mnist, load_natural_images, random_patches  # noqa: E402
from backprop.models import ResidualDenoiser  # noqa: E402
from backprop.wiener import blur, make_kernel, wiener_deconv  # noqa: E402
from common.metrics import psnr  # noqa: E402
from common.runs import load_checkpoint, make_run_dir, pick_device, save_checkpoint, save_json, seed_everything  # noqa: E402


# ----------------------------------------------------------------------------- shared helpers
def start_run(args: argparse.Namespace, dataset: dict, device: torch.device) -> Path:
    """Create the run folder and write config.json (the arguments, the data actually used, the device)."""
    run_dir = make_run_dir(args.results_root, args.name or args.command)
    config = {k: v for k, v in vars(args).items() if k != "func"}
    save_json(run_dir / "config.json", {**config, "dataset": dataset, "device": str(device),
                                        "torch": torch.__version__, "started": time.strftime("%Y-%m-%d %H:%M:%S")})
    return run_dir


def add_noise(clean: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Additive white Gaussian noise of standard deviation ``sigma`` (not clipped)."""
    return clean + sigma * torch.randn(clean.shape, generator=generator)


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size x size`` part of an ``(H, W)`` image (the whole side when it is smaller)."""
    h, w = image.shape[-2:]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return image[..., top:top + size, left:left + size]


@torch.no_grad()
def restore(model: torch.nn.Module, image: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Run an image-to-image model on one ``(H, W)`` image; the output is clipped to ``[0, 1]``."""
    model.eval()
    out = model(image[None, None].to(device)).clamp(0, 1)[0, 0].cpu()
    model.train()
    return out


def mean_psnr(model: torch.nn.Module, inputs: list[torch.Tensor], targets: list[torch.Tensor], device: torch.device) -> float:
    return sum(psnr(restore(model, x, device), y, data_range=1.0) for x, y in zip(inputs, targets)) / len(inputs)


def train_image_net(model: torch.nn.Module, sample_batch, val_inputs: list[torch.Tensor], val_targets: list[torch.Tensor],
                    args: argparse.Namespace, ckpt_path: Path, device: torch.device, desc: str) -> dict:
    """Train an image-to-image network on random patches with Adam and a cosine learning-rate decay.

    ``sample_batch(generator)`` returns ``(inputs, targets)`` of shape ``(B, 1, P, P)``.
    Every ``args.eval_every`` steps the mean validation PSNR is measured and the
    best weights so far are kept: that is the model the test images see. The
    checkpoint (written atomically after each validation) lets ``--resume`` pick up
    where a stopped run left off; a finished checkpoint is simply reloaded.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps, eta_min=args.lr / 20)
    generator = torch.Generator().manual_seed(args.seed)
    state = {"step": 0, "best_val_psnr": -math.inf, "best_step": 0, "history": [], "train_seconds": 0.0,
             "best_model": {k: v.clone() for k, v in model.state_dict().items()}}
    if args.resume and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, map_location=device)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        generator.set_state(ckpt["generator"].cpu())
        state = {k: ckpt[k] for k in state}

    t0 = time.time() - state["train_seconds"]
    bar = tqdm(range(state["step"], args.steps), desc=desc, initial=state["step"], total=args.steps, leave=False)
    for step in bar:
        inputs, targets = sample_batch(generator)
        loss = F.mse_loss(model(inputs.to(device)), targets.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            val = mean_psnr(model, val_inputs, val_targets, device)
            state["history"].append({"step": step + 1, "loss": loss.item(), "val_psnr": val})
            if val > state["best_val_psnr"]:
                state.update(best_val_psnr=val, best_step=step + 1,
                             best_model={k: v.detach().clone() for k, v in model.state_dict().items()})
            state.update(step=step + 1, train_seconds=time.time() - t0)
            save_checkpoint(ckpt_path, {**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                        "scheduler": scheduler.state_dict(), "generator": generator.get_state()})
            bar.set_postfix(loss=f"{loss.item():.2e}", val_psnr=f"{val:.2f}")
    model.load_state_dict(state["best_model"])
    return {k: state[k] for k in ("best_val_psnr", "best_step", "history", "train_seconds")}


def save_figure(fig: plt.Figure, path: Path) -> None:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def show_grid(rows: list[list[tuple[torch.Tensor, str]]], row_labels: list[str], path: Path) -> None:
    """Save a grid of grey images; ``rows[i][j] = (image, title)``."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.4 * n_cols, 2.4 * n_rows), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(row):
                image, title = row[j]
                ax.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1)
                ax.set_title(title, fontsize=8)
        axes[i][0].text(-0.08, 0.5, row_labels[i], transform=axes[i][0].transAxes, rotation=90,
                        ha="right", va="center", fontsize=9)
    save_figure(fig, path)


# ----------------------------------------------------------------------------- gradcheck
def cmd_gradcheck(args: argparse.Namespace) -> None:
    """gradcheck (float64) of both Functions and of a network; hand-derived first-layer gradients vs autograd."""
    device = pick_device(args.device)
    seed_everything(args.seed)
    run_dir = start_run(args, {"name": "random float64 tensors"}, device)
    dt = dict(dtype=torch.float64, device=device)
    n, sizes = 8, [6, 5, 4, 3]

    x = torch.randn(n, sizes[0], **dt, requires_grad=True)
    w = torch.randn(sizes[1], sizes[0], **dt, requires_grad=True)
    b = torch.randn(sizes[1], **dt, requires_grad=True)
    net = FullyConnectedNet(sizes).to(**dt)
    params = dict(net.named_parameters())

    def net_of(x_, *p):  # the network as a function of its input and all its parameters
        return torch.func.functional_call(net, dict(zip(params, p)), (x_,))

    checks = {
        "LinearFunction": lambda: torch.autograd.gradcheck(LinearFunction.apply, (x, w, b)),
        "LinearFunction_no_bias": lambda: torch.autograd.gradcheck(LinearFunction.apply, (x, w, None)),
        "ReLUFunction": lambda: torch.autograd.gradcheck(ReLUFunction.apply, (x,)),
        "FullyConnectedNet": lambda: torch.autograd.gradcheck(net_of, (x, *params.values())),
    }
    metrics: dict = {"gradcheck": {}}
    for name, check in tqdm(checks.items(), desc="gradcheck"):
        metrics["gradcheck"][name] = bool(check())

    # Hand-derived dL/dW1, dL/db1 of the MSE loss vs what autograd accumulates in .grad.
    target = torch.randn(n, sizes[-1], **dt)
    net.zero_grad()
    F.mse_loss(net(x.detach()), target).backward()
    grad_w, grad_b = first_layer_grads(net, x.detach(), target)
    first = net[0]
    metrics["first_layer_manual_vs_autograd"] = {
        "max_abs_diff_weight": float((grad_w - first.weight.grad).abs().max()),
        "max_abs_diff_bias": float((grad_b - first.bias.grad).abs().max()),
        "match": bool(torch.allclose(grad_w, first.weight.grad) and torch.allclose(grad_b, first.bias.grad)),
    }
    save_json(run_dir / "metrics.json", metrics)
    for name, ok in metrics["gradcheck"].items():
        print(f"gradcheck {name:24s} {'passed' if ok else 'FAILED'}")
    m = metrics["first_layer_manual_vs_autograd"]
    print(f"first layer, hand-derived vs autograd: max |dW| diff {m['max_abs_diff_weight']:.2e}, "
          f"max |db| diff {m['max_abs_diff_bias']:.2e}")
    print(f"run folder: {run_dir}")


# ----------------------------------------------------------------------------- inpaint
def cmd_inpaint(args: argparse.Namespace) -> None:
    """Fill in the bottom half of MNIST digits with a net of hand-written layers trained by hand-written SGD."""
    device = pick_device(args.device)
    seed_everything(args.seed)
    train_all = load_mnist(args.data_dir, train=True, download=args.download)
    test = load_mnist(args.data_dir, train=False, download=args.download)
    if args.quick:
        train_all, test = train_all[:2000], test[:500]
    if len(train_all) <= args.val_count:
        raise DataError(f"MNIST training set has {len(train_all)} images; need more than --val-count={args.val_count}")
    order = torch.randperm(len(train_all), generator=torch.Generator().manual_seed(args.seed))
    val, train = train_all[order[: args.val_count]], train_all[order[args.val_count:]]
    dataset = {"name": "MNIST", "root": str(Path(args.data_dir).resolve()), "n_train": len(train),
               "n_val": len(val), "n_test": len(test)}
    run_dir = start_run(args, dataset, device)

    side = train.shape[-1]
    known = torch.ones(side, side)
    known[side // 2:] = 0  # the bottom half is hidden
    known = known.flatten().to(device)

    def reconstruct(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
        """Measured top half kept as it is, the hidden bottom half predicted; ``(N, 28, 28)``."""
        x = images.flatten(1).to(device)
        out = known * x + (1 - known) * net(known * x)
        return out.clamp(0, 1).view_as(images).cpu()

    def mean_psnr_of(images: torch.Tensor, preds: torch.Tensor) -> float:
        return sum(psnr(p, t, data_range=1.0) for p, t in zip(preds, images)) / len(images)

    @torch.no_grad()
    def evaluate(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([reconstruct(net, chunk) for chunk in images.split(1000)])

    net = FullyConnectedNet([side * side, *args.hidden, side * side]).to(device)
    ckpt_path = run_dir / "inpaint_net.pt"
    state = {"epoch": 0, "best_val_psnr": -math.inf, "best_epoch": 0, "history": [], "train_seconds": 0.0,
             "best_model": {k: v.clone() for k, v in net.state_dict().items()}}
    generator = torch.Generator().manual_seed(args.seed)
    if args.resume and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, map_location=device)
        net.load_state_dict(ckpt["model"])
        generator.set_state(ckpt["generator"].cpu())
        state = {k: ckpt[k] for k in state}

    t0 = time.time() - state["train_seconds"]
    for epoch in range(state["epoch"], args.epochs):
        perm = torch.randperm(len(train), generator=generator)
        bar = tqdm(perm.split(args.batch_size), desc=f"inpaint epoch {epoch + 1}/{args.epochs}", leave=False)
        for idx in bar:
            x = train[idx].flatten(1).to(device)
            pred = net(known * x)
            # Squared error over the hidden pixels, summed per image and averaged over the batch.
            loss = (((pred - x) * (1 - known)) ** 2).sum(1).mean()
            net.zero_grad(set_to_none=True)
            loss.backward()
            with torch.no_grad():  # plain stochastic gradient descent, written out
                for p in net.parameters():
                    p -= args.lr * p.grad
            bar.set_postfix(loss=f"{loss.item():.3f}")
        val_psnr = mean_psnr_of(val, evaluate(net, val))
        state["history"].append({"epoch": epoch + 1, "loss": loss.item(), "val_psnr": val_psnr})
        if val_psnr > state["best_val_psnr"]:
            state.update(best_val_psnr=val_psnr, best_epoch=epoch + 1,
                         best_model={k: v.detach().clone() for k, v in net.state_dict().items()})
        state.update(epoch=epoch + 1, train_seconds=time.time() - t0)
        save_checkpoint(ckpt_path, {**state, "model": net.state_dict(), "generator": generator.get_state()})
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.3f}, validation PSNR {val_psnr:.2f} dB")

    net.load_state_dict(state["best_model"])
    recon = evaluate(net, test)
    measured = test * known.view(side, side).cpu()
    mean_fill = measured + (1 - known.view(side, side).cpu()) * train.mean(0)  # baseline: the average digit's bottom half
    hidden = (1 - known).bool().view(side, side).cpu()
    metrics = {
        "test_psnr": mean_psnr_of(test, recon),
        "test_psnr_hidden_half": sum(psnr(p[hidden], t[hidden], 1.0) for p, t in zip(recon, test)) / len(test),
        "test_psnr_measurement": mean_psnr_of(test, measured),
        "test_psnr_mean_digit_fill": mean_psnr_of(test, mean_fill),
        "best_val_psnr": state["best_val_psnr"], "best_epoch": state["best_epoch"],
        "history": state["history"], "train_seconds": state["train_seconds"],
    }
    save_json(run_dir / "metrics.json", metrics)

    cols = min(8, len(test))
    rows = [[(im, "") for im in images[:cols]] for images in (test, measured, recon)]
    show_grid(rows, ["ground truth", "measurement", "reconstruction"], run_dir / "inpainting.png")
    print(f"test PSNR {metrics['test_psnr']:.2f} dB (whole digit; hidden half alone {metrics['test_psnr_hidden_half']:.2f} dB; "
          f"measurement {metrics['test_psnr_measurement']:.2f} dB, mean-digit fill {metrics['test_psnr_mean_digit_fill']:.2f} dB)")
    print(f"run folder: {run_dir}")


# ----------------------------------------------------------------------------- ablation
def noisy_pairs(images: list[torch.Tensor], sigmas: list[float], seed: int) -> dict[float, list[torch.Tensor]]:
    """The same noisy version of each image at each ``sigma`` for every model (seeded)."""
    generator = torch.Generator().manual_seed(seed)
    return {s: [add_noise(im, s, generator) for im in images] for s in sigmas}


def load_image_splits(args: argparse.Namespace):
    """Train/validation/test images; validation crops keep model selection cheap, --quick keeps two tiny ones."""
    splits = load_natural_images(args.data_dir, args.test_dir, args.val_count, args.seed, args.patch_size)
    if args.quick:
        splits.val = [center_crop(im, 64) for im in splits.val[:2]]
        splits.test = [center_crop(im, 64) for im in splits.test[:2]]
    else:
        splits.val = [center_crop(im, args.val_crop) for im in splits.val]
    return splits


def cmd_ablation(args: argparse.Namespace) -> None:
    """Residual CNN denoisers with / without biases and with two widths, evaluated at three noise levels."""
    device = pick_device(args.device)
    splits = load_image_splits(args)
    run_dir = start_run(args, splits.source, device)
    low, high = args.train_sigma
    val_sigmas = [s for s in args.test_sigmas if low <= s <= high] or [high]
    val_noisy = noisy_pairs(splits.val, val_sigmas, args.seed + 1)
    test_noisy = noisy_pairs(splits.test, args.test_sigmas, args.seed + 2)

    def sample_batch(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        (clean,) = random_patches(splits.train, args.batch_size, args.patch_size, generator)
        sigma = low + (high - low) * torch.rand(len(clean), 1, 1, 1, generator=generator)
        return clean + sigma * torch.randn(clean.shape, generator=generator), clean

    results, models = [], {}
    for channels in args.channels:
        for bias in (True, False):
            name = f"{channels}ch_{'bias' if bias else 'nobias'}"
            seed_everything(args.seed)
            model = ResidualDenoiser(channels, args.depth, bias).to(device)
            train_info = train_image_net(
                model, sample_batch, [x for s in val_sigmas for x in val_noisy[s]], splits.val * len(val_sigmas),
                args, run_dir / f"{name}.pt", device, desc=f"train {name}")
            test_psnr = {}
            for s in args.test_sigmas:
                scores = [psnr(restore(model, x, device), y, 1.0)
                          for x, y in zip(tqdm(test_noisy[s], desc=f"test {name} sigma={s}", leave=False), splits.test)]
                test_psnr[str(s)] = sum(scores) / len(scores)
            results.append({"model": name, "channels": channels, "bias": bias,
                            "parameters": sum(p.numel() for p in model.parameters()), "test_psnr": test_psnr, **train_info})
            models[name] = model
            print(f"{name}: validation PSNR {train_info['best_val_psnr']:.2f} dB (step {train_info['best_step']}), test PSNR "
                  + ", ".join(f"sigma={s}: {v:.2f}" for s, v in test_psnr.items()))

    noisy_psnr = {str(s): sum(psnr(x, y, 1.0) for x, y in zip(test_noisy[s], splits.test)) / len(splits.test)
                  for s in args.test_sigmas}
    chosen = max(results, key=lambda r: r["best_val_psnr"])["model"]
    save_json(run_dir / "metrics.json", {"noisy_psnr": noisy_psnr, "models": results, "chosen_on_validation": chosen,
                                         "validation_sigmas": val_sigmas, "train_sigma": args.train_sigma})
    table = ["| model | " + " | ".join(f"sigma={s}" for s in args.test_sigmas) + " |",
             "|---|" + "---|" * len(args.test_sigmas),
             "| noisy input | " + " | ".join(f"{noisy_psnr[str(s)]:.2f}" for s in args.test_sigmas) + " |"]
    table += [f"| {r['channels']} channels, {'with' if r['bias'] else 'no'} bias | "
              + " | ".join(f"{r['test_psnr'][str(s)]:.2f}" for s in args.test_sigmas) + " |" for r in results]
    (run_dir / "table.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))

    # One test image at every noise level through every model.
    rows = []
    for s in args.test_sigmas:
        noisy = test_noisy[s][0]
        row = [(splits.test[0], "clean"), (noisy.clamp(0, 1), f"noisy {psnr(noisy, splits.test[0], 1.0):.2f} dB")]
        for name, model in models.items():
            out = restore(model, noisy, device)
            row.append((out, f"{name} {psnr(out, splits.test[0], 1.0):.2f} dB"))
        rows.append(row)
    show_grid(rows, [f"sigma={s}" for s in args.test_sigmas], run_dir / "denoising_examples.png")

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for r in results:
        ax.plot([h["step"] for h in r["history"]], [h["val_psnr"] for h in r["history"]], marker=".", label=r["model"])
    ax.set(xlabel="training step", ylabel="validation PSNR (dB)", title="denoiser training")
    ax.legend()
    save_figure(fig, run_dir / "validation_curves.png")
    print(f"run folder: {run_dir}")


# ----------------------------------------------------------------------------- wiener
def choose_snr(clean: list[torch.Tensor], blurred_noisy: list[torch.Tensor], kernel: torch.Tensor) -> float:
    """The Wiener ``snr`` (from a log grid) with the best mean PSNR on the given (validation) images."""
    grid = torch.logspace(-1, 6, 57).tolist()
    scores = [sum(psnr(wiener_deconv(y, kernel, snr).clamp(0, 1), x, 1.0) for x, y in zip(clean, blurred_noisy))
              for snr in grid]
    return grid[max(range(len(grid)), key=scores.__getitem__)]


def degrade(images: list[torch.Tensor], kernel: torch.Tensor, sigmas: list[float], snrs: list[float],
            generator: torch.Generator) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Blur + noise at every sigma, and its Wiener deconvolution: two lists of ``(len(sigmas), H, W)`` stacks."""
    noisy, restored = [], []
    for im in images:
        blurred = blur(im, kernel)
        y = torch.stack([add_noise(blurred, s, generator) for s in sigmas])
        noisy.append(y)
        restored.append(torch.stack([wiener_deconv(y[i], kernel, snr) for i, snr in enumerate(snrs)]))
    return noisy, restored


def cmd_wiener(args: argparse.Namespace) -> None:
    """Wiener deconvolution alone, a CNN alone, and a CNN after Wiener, at three noise levels."""
    device = pick_device(args.device)
    seed_everything(args.seed)
    splits = load_image_splits(args)
    kernel = make_kernel(args.kernel, args.kernel_size)
    run_dir = start_run(args, splits.source, device)
    sigmas = args.sigmas

    val_noisy, _ = degrade(splits.val, kernel, sigmas, [1.0] * len(sigmas), torch.Generator().manual_seed(args.seed + 1))
    snrs = [choose_snr(splits.val, [y[i] for y in val_noisy], kernel) for i in range(len(sigmas))]
    val_wiener = [torch.stack([wiener_deconv(y[i], kernel, snr) for i, snr in enumerate(snrs)]) for y in val_noisy]
    print("Wiener snr chosen on validation: " + ", ".join(f"sigma={s}: {snr:.3g}" for s, snr in zip(sigmas, snrs)))

    # Training pairs are cut from whole degraded images (the blur is circular over the whole image, as at
    # test time); the noise is drawn afresh every `refresh` steps so the networks do not learn one realisation.
    refresh = 200

    def make_sampler(key: str):
        pool = {"calls": 0}

        def sample_batch(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
            if pool["calls"] % refresh == 0:
                pool["noisy"], pool["wiener"] = degrade(splits.train, kernel, sigmas, snrs, generator)
            pool["calls"] += 1
            clean, stack = random_patches(splits.train, args.batch_size, args.patch_size, generator, [pool[key]])
            level = torch.randint(len(sigmas), (len(clean),), generator=generator)
            return stack[torch.arange(len(clean)), level].unsqueeze(1), clean
        return sample_batch

    nets, infos = {}, {}
    for key, inputs in (("noisy", val_noisy), ("wiener", val_wiener)):
        seed_everything(args.seed)
        model = ResidualDenoiser(args.channels, args.depth, bias=True).to(device)
        infos[key] = train_image_net(model, make_sampler(key), [y[k] for y in inputs for k in range(len(sigmas))],
                                     [im for im in splits.val for _ in sigmas], args, run_dir / f"net_{key}.pt", device,
                                     desc=f"train net on {key} input")
        nets[key] = model

    test_noisy, test_wiener = degrade(splits.test, kernel, sigmas, snrs, torch.Generator().manual_seed(args.seed + 2))
    methods = {"blurred+noisy input": lambda i, k: test_noisy[i][k].clamp(0, 1),
               "Wiener": lambda i, k: test_wiener[i][k].clamp(0, 1),
               "net": lambda i, k: restore(nets["noisy"], test_noisy[i][k], device),
               "Wiener+net": lambda i, k: restore(nets["wiener"], test_wiener[i][k], device)}
    table: dict[str, dict[str, float]] = {m: {} for m in methods}
    for k, s in enumerate(sigmas):
        for m, method in methods.items():
            scores = [psnr(method(i, k), clean, 1.0)
                      for i, clean in enumerate(tqdm(splits.test, desc=f"test {m} sigma={s}", leave=False))]
            table[m][str(s)] = sum(scores) / len(scores)
    save_json(run_dir / "metrics.json", {"test_psnr": table, "snr": dict(zip(map(str, sigmas), snrs)),
                                         "kernel": kernel, "networks": infos})
    lines = ["| method | " + " | ".join(f"sigma={s}" for s in sigmas) + " |", "|---|" + "---|" * len(sigmas)]
    lines += [f"| {m} | " + " | ".join(f"{v:.2f}" for v in row.values()) + " |" for m, row in table.items()]
    (run_dir / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    clean = splits.test[0]
    rows = []
    for k, s in enumerate(sigmas):
        row = [(clean, "clean")]
        for m, method in methods.items():
            out = method(0, k)
            row.append((out, f"{m} {psnr(out, clean, 1.0):.2f} dB"))
        rows.append(row)
    show_grid(rows, [f"sigma={s}" for s in sigmas], run_dir / "deblurring_grid.png")
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(kernel.numpy(), cmap="gray")
    ax.set_title(f"{args.kernel} kernel {args.kernel_size}x{args.kernel_size}", fontsize=8)
    ax.axis("off")
    save_figure(fig, run_dir / "kernel.png")
    print(f"run folder: {run_dir}")


# ----------------------------------------------------------------------------- command line
def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def noise_level(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"noise sigma must be in [0, 1], got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    common = argparse.ArgumentParser(add_help=False, formatter_class=fmt)
    common.add_argument("--seed", type=int, default=0, help="random seed (data splits, initialisation, noise)")
    common.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1'...")
    common.add_argument("--results-root", default="runs", help="run folders go here")
    common.add_argument("--name", default=None, help="run folder name; None: the sub-command's name")
    common.add_argument("--quick", action="store_true", help="tiny smoke run: few steps, few images")

    trained = argparse.ArgumentParser(add_help=False, formatter_class=fmt)
    trained.add_argument("--resume", action="store_true", help="continue from the checkpoints in the run folder")

    images = argparse.ArgumentParser(add_help=False, formatter_class=fmt)
    images.add_argument("--data-dir", default=None,
                        help="folder of training images (e.g. Train400); default: scikit-image's bundled photographs")
    images.add_argument("--test-dir", default=None, help="folder of held-out test images (e.g. BSD68, Set12)")
    images.add_argument("--val-count", type=positive_int, default=20, help="training images held out for validation")
    images.add_argument("--val-crop", type=positive_int, default=128, help="validation images are centre crops of this side")
    images.add_argument("--patch-size", type=positive_int, default=40, help="side of the training patches")
    images.add_argument("--batch-size", type=positive_int, default=16, help="patches per step")
    images.add_argument("--steps", type=positive_int, default=2500, help="training steps per network")
    images.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (cosine decay to lr/20)")
    images.add_argument("--eval-every", type=positive_int, default=250, help="steps between validations")
    images.add_argument("--depth", type=positive_int, default=6, help="3x3 convolution layers per network")

    parser = argparse.ArgumentParser(prog="main.py", description=__doc__.split("\n\n")[0], formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("gradcheck", parents=[common], formatter_class=fmt,
                       help="gradcheck of the hand-written Functions and network; manual first-layer gradients")
    p.set_defaults(func=cmd_gradcheck)

    p = sub.add_parser("inpaint", parents=[common, trained], formatter_class=fmt,
                       help="MNIST inpainting with the hand-written layers and hand-written SGD")
    p.add_argument("--data-dir", default="data", help="folder holding MNIST/raw/ (torchvision layout)")
    p.add_argument("--download", action="store_true", help="let torchvision download MNIST when missing (needs internet)")
    p.add_argument("--hidden", type=positive_int, nargs="+", default=[512, 512], help="hidden layer sizes")
    p.add_argument("--epochs", type=positive_int, default=10, help="passes over the training set")
    p.add_argument("--batch-size", type=positive_int, default=64, help="digits per SGD step")
    p.add_argument("--lr", type=positive_float, default=0.05, help="SGD learning rate")
    p.add_argument("--val-count", type=positive_int, default=5000, help="training digits held out for validation")
    p.set_defaults(func=cmd_inpaint)

    p = sub.add_parser("ablation", parents=[common, trained, images], formatter_class=fmt,
                       help="denoiser with/without biases, two widths, three noise levels")
    p.add_argument("--channels", type=positive_int, nargs="+", default=[32, 64], help="hidden widths to compare")
    p.add_argument("--train-sigma", type=noise_level, nargs=2, default=[0.0, 0.1], metavar=("LOW", "HIGH"),
                   help="training noise sigma is drawn uniformly from [LOW, HIGH]")
    p.add_argument("--test-sigmas", type=noise_level, nargs="+", default=[0.01, 0.1, 0.2], help="test noise levels")
    p.set_defaults(func=cmd_ablation)

    p = sub.add_parser("wiener", parents=[common, trained, images], formatter_class=fmt,
                       help="Wiener deconvolution, a CNN, and Wiener followed by a CNN")
    p.add_argument("--kernel", choices=["motion", "gaussian"], default="motion", help="blur kernel shape")
    p.add_argument("--kernel-size", type=positive_int, default=9, help="blur kernel side (odd)")
    p.add_argument("--sigmas", type=noise_level, nargs="+", default=[0.005, 0.01, 0.02], help="noise levels")
    p.add_argument("--channels", type=positive_int, default=32, help="hidden width of both networks")
    p.set_defaults(func=cmd_wiener)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("ablation", "wiener"):
        if args.quick:
            args.steps, args.eval_every, args.batch_size = min(args.steps, 6), 3, 4
            args.patch_size = min(args.patch_size, 24)
        if args.command == "ablation" and args.train_sigma[0] > args.train_sigma[1]:
            parser.error(f"--train-sigma LOW must not exceed HIGH, got {args.train_sigma}")
        if args.command == "wiener" and args.kernel_size % 2 == 0:
            parser.error(f"--kernel-size must be odd, got {args.kernel_size}")
    if args.command == "inpaint" and args.quick:
        args.epochs, args.hidden, args.val_count = min(args.epochs, 1), [64], 200
    try:
        pick_device(args.device)
    except (ValueError, RuntimeError) as err:
        parser.error(str(err))
    try:
        args.func(args)
    except DataError as err:
        sys.exit(f"{parser.prog} {args.command}: error: {err}")


if __name__ == "__main__":
    main()
