"""Task 3 experiment: Wiener deconvolution alone, a CNN alone, and a CNN after Wiener, at three noise levels.

Images are blurred circularly by a known kernel (:mod:`backprop.wiener`) and get white Gaussian
noise. Wiener's ``snr`` is chosen per noise level on the validation images (:func:`choose_snr`).
Two residual CNNs of the task 2 design are trained with :func:`backprop.ablation.train_image_net`:
one on the blurred, noisy image ("net"), one on the Wiener output ("Wiener+net").
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from backprop.ablation import Batch, markdown_table, train_image_net
from backprop.loaders import ImageSplits, random_patches
from backprop.models import ResidualDenoiser
from backprop.restoration_eval import PATCH_TRAINING_FIXED, load_image_splits, mean_psnr, restore, save_plot, show_grid
from backprop.wiener import blur, make_kernel, wiener_deconv
from common.noise import add_noise
from common.runs import open_run, save_json, save_text, seed_everything

# Arguments a --resume must repeat: all but --device, --results-root, --name, --resume, --overwrite and --download.
FIXED_ON_RESUME = PATCH_TRAINING_FIXED + ("kernel", "kernel_size", "sigmas", "channels")
SNR_GRID = torch.logspace(-1, 6, 57).tolist()  # 8 values per decade
REFRESH = 200  # training noise is drawn afresh every REFRESH steps


def choose_snr(
    clean: list[torch.Tensor], blurred_noisy: list[torch.Tensor], kernel: torch.Tensor, grid: list[float] = SNR_GRID
) -> float:
    """The Wiener ``snr`` from ``grid`` whose (clipped) output has the best mean PSNR against ``clean``
    on the given (validation) images."""
    scores = [mean_psnr([wiener_deconv(y, kernel, snr).clamp(0, 1) for y in blurred_noisy], clean) for snr in grid]
    return grid[max(range(len(grid)), key=scores.__getitem__)]


def degrade(
    images: list[torch.Tensor], kernel: torch.Tensor, sigmas: list[float], snrs: list[float], generator: torch.Generator
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Blur + noise at every sigma, and its Wiener deconvolution: two lists of ``(len(sigmas), H, W)`` stacks."""
    noisy, restored = [], []
    for im in images:
        blurred = blur(im, kernel)
        y = torch.stack([add_noise(blurred, s, generator) for s in sigmas])
        noisy.append(y)
        restored.append(torch.stack([wiener_deconv(y[i], kernel, snr) for i, snr in enumerate(snrs)]))
    return noisy, restored


def make_sampler(
    key: str,
    splits: ImageSplits,
    kernel: torch.Tensor,
    sigmas: list[float],
    snrs: list[float],
    args: argparse.Namespace,
) -> Batch:
    """Training pairs (``key`` = "noisy" or "wiener" input, clean target) cut from whole degraded images.

    The blur is circular over the whole image, as at test time; the noise is drawn afresh every
    :data:`REFRESH` steps so the networks do not learn one realisation.
    """
    pool: dict = {"calls": 0}

    def sample_batch(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if pool["calls"] % REFRESH == 0:
            pool["noisy"], pool["wiener"] = degrade(splits.train, kernel, sigmas, snrs, generator)
        pool["calls"] += 1
        clean, stack = random_patches(splits.train, args.batch_size, args.patch_size, generator, [pool[key]])
        level = torch.randint(len(sigmas), (len(clean),), generator=generator)
        return stack[torch.arange(len(clean)), level].unsqueeze(1), clean

    return sample_batch


def write_outputs(
    run_dir: Path, metrics: dict, methods: dict, clean: torch.Tensor, kernel: torch.Tensor, args: argparse.Namespace
) -> str:
    """metrics.json, table.md, the deblurring grid of one test image and the kernel; returns the table."""
    sigmas = args.sigmas
    save_json(run_dir / "metrics.json", metrics)
    table = markdown_table(
        "method", [f"sigma={s}" for s in sigmas], {m: list(row.values()) for m, row in metrics["test_psnr"].items()}
    )
    save_text(run_dir / "table.md", table)
    rows = []
    for k in range(len(sigmas)):
        row = [(clean, "clean")]
        for m, method in methods.items():
            out = method(0, k)
            row.append((out, f"{m} {mean_psnr([out], [clean]):.2f} dB"))
        rows.append(row)
    show_grid(rows, [f"sigma={s}" for s in sigmas], run_dir / "deblurring_grid.png")

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(kernel.numpy(), cmap="gray")
    ax.set_title(f"{args.kernel} kernel {args.kernel_size}x{args.kernel_size}", fontsize=8)
    ax.axis("off")
    save_plot(fig, run_dir / "kernel.png")
    return table


def run(args: argparse.Namespace, device: torch.device) -> str:
    """The ``wiener`` command; returns its last line (run folder and headline numbers)."""
    seed_everything(args.seed)
    splits = load_image_splits(args)
    kernel = make_kernel(args.kernel, args.kernel_size)
    sigmas = args.sigmas

    val_noisy, _ = degrade(
        splits.val, kernel, sigmas, [1.0] * len(sigmas), torch.Generator().manual_seed(args.seed + 1)
    )
    snrs = [choose_snr(splits.val, [y[i] for y in val_noisy], kernel) for i in range(len(sigmas))]
    val_wiener = [torch.stack([wiener_deconv(y[i], kernel, snr) for i, snr in enumerate(snrs)]) for y in val_noisy]
    print("Wiener snr chosen on validation: " + ", ".join(f"sigma={s}: {snr:.3g}" for s, snr in zip(sigmas, snrs)))
    val_targets = [im for im in splits.val for _ in sigmas]

    nets, infos = {}, {}
    with open_run(
        args,
        FIXED_ON_RESUME,
        dataset=splits.source,
        device=str(device),
        started=time.strftime("%Y-%m-%d %H:%M:%S"),
    ) as run_dir:
        for key, inputs in (("noisy", val_noisy), ("wiener", val_wiener)):
            seed_everything(args.seed)
            model = ResidualDenoiser(args.channels, args.depth, bias=True).to(device)
            val = [y[k] for y in inputs for k in range(len(sigmas))], val_targets
            sampler = make_sampler(key, splits, kernel, sigmas, snrs, args)
            infos[key] = train_image_net(
                model, sampler, val, args, run_dir / f"net_{key}.pt", device, desc=f"train net on {key} input"
            )
            nets[key] = model

        test_noisy, test_wiener = degrade(
            splits.test, kernel, sigmas, snrs, torch.Generator().manual_seed(args.seed + 2)
        )
        methods = {
            "blurred+noisy input": lambda i, k: test_noisy[i][k].clamp(0, 1),
            "Wiener": lambda i, k: test_wiener[i][k].clamp(0, 1),
            "net": lambda i, k: restore(nets["noisy"], test_noisy[i][k], device),
            "Wiener+net": lambda i, k: restore(nets["wiener"], test_wiener[i][k], device),
        }
        table = {
            m: {
                str(s): mean_psnr([method(i, k) for i in range(len(splits.test))], splits.test)
                for k, s in enumerate(sigmas)
            }
            for m, method in methods.items()
        }
        metrics = {"test_psnr": table, "snr": dict(zip(map(str, sigmas), snrs)), "kernel": kernel, "networks": infos}
        print(write_outputs(run_dir, metrics, methods, splits.test[0], kernel, args), end="")
    return f"{run_dir}: test PSNR Wiener+net " + ", ".join(
        f"sigma={s}: {table['Wiener+net'][str(s)]:.2f} dB (Wiener {table['Wiener'][str(s)]:.2f})" for s in sigmas
    )
