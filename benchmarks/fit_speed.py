"""Speed and quality of the default Gaussian fit against a long reference fit.

For 100 and 1000 points on a synthetic 512 x 512 image (and on a VGG cells image when
../shared/data/vgg_cells is present) this prints: the seconds of the default fit, its PSNR,
the PSNR of the reference fit (4000 Adam iterations at lr 0.01, as the authors run it), and
the difference in dB. Target (issue): within 0.5 dB, in <= 2 s (100 points), <= 10 s (1000).

    python benchmarks/fit_speed.py [--json] [--reference-iterations 4000] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from napari_gst.splat import fit_gaussians

VGG_CELLS = Path(__file__).resolve().parents[2] / "shared" / "data" / "vgg_cells"


def synthetic_cells(count: int, size: int = 512, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return an RGB image of ``count`` soft elliptical cells on a textured background, + points.

    Cells are flat-topped (not Gaussian) so that no fit is exact, and sized from the spacing.
    """
    rng = np.random.default_rng(seed)
    points = rng.uniform(4, size - 4, size=(count, 2))
    spacing = size / np.sqrt(count)
    rows, cols = np.mgrid[:size, :size].astype(np.float32)
    image = 0.08 + 0.04 * np.sin(rows / 37.0)[..., None] * np.cos(cols / 23.0)[..., None]
    image = np.repeat(image, 3, axis=2)
    for row, col in points:
        major, minor = spacing * rng.uniform(0.12, 0.25), spacing * rng.uniform(0.08, 0.15)
        angle = rng.uniform(0, np.pi)
        radius = int(3 * major) + 1
        top, left = max(int(row) - radius, 0), max(int(col) - radius, 0)
        u = rows[top : int(row) + radius + 1, left : int(col) + radius + 1] - row
        v = cols[top : int(row) + radius + 1, left : int(col) + radius + 1] - col
        along = u * np.cos(angle) + v * np.sin(angle)
        across = -u * np.sin(angle) + v * np.cos(angle)
        shape = np.exp(-(((along / major) ** 2 + (across / minor) ** 2) ** 1.5) / 2)
        colour = rng.uniform(0.3, 0.9, size=3)
        image[top : int(row) + radius + 1, left : int(col) + radius + 1] += (
            shape[..., None] * colour
        )
    image += rng.normal(0, 0.02, size=image.shape)
    return np.clip(image, 0, 1).astype(np.float32), points


def vgg_cells(number: int = 1) -> tuple[np.ndarray, np.ndarray] | None:
    """Return (image, points) of VGG cells image ``number`` (red dots = points), or None."""
    cell, dots = VGG_CELLS / f"{number:03d}cell.png", VGG_CELLS / f"{number:03d}dots.png"
    if not cell.exists():
        return None
    from skimage.io import imread

    dot_image = imread(dots)[..., :3].astype(int)
    red = (dot_image[..., 0] > 200) & (dot_image[..., 1] < 60) & (dot_image[..., 2] < 60)
    return imread(cell)[..., :3], np.argwhere(red).astype(np.float64)


def measure(name: str, image: np.ndarray, points: np.ndarray, reference_iterations: int) -> dict:
    """Return the figures of one case: default fit vs the long reference fit."""
    fit_gaussians(image[:48, :48], points[(points < 40).all(axis=1)], iterations=2)  # warm-up
    start, cpu_start = time.perf_counter(), time.process_time()
    fast = fit_gaussians(image, points, device="cpu")
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    figures = {
        "case": name,
        "points": len(points),
        "shape": list(image.shape[:2]),
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "iterations": fast.settings["iterations_run"],
        "reduction_factors": fast.settings["reduction_factors"],
        "psnr": round(fast.psnr, 3),
        "reference_iterations": reference_iterations,
        "reference_seconds": None,
        "reference_psnr": None,
        "difference_db": None,
    }
    if reference_iterations > 0:  # 0 skips the (long) reference fit
        start = time.perf_counter()
        reference = fit_gaussians(image, points, iterations=reference_iterations, device="cpu")
        figures["reference_seconds"] = round(time.perf_counter() - start, 2)
        figures["reference_psnr"] = round(reference.psnr, 3)
        figures["difference_db"] = round(reference.psnr - fast.psnr, 3)
    return figures


def _cell(value: float | None, width: int, digits: int) -> str:
    """Return ``value`` right-aligned in ``width`` with ``digits`` decimals, or '-' if None."""
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def main() -> None:
    """Run the cases and print a table (or JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--reference-iterations", type=int, default=4000, help="0 skips the reference fit"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = [(f"synthetic-{n}", *synthetic_cells(n)) for n in args.counts]
    real = vgg_cells(1)
    if real is not None:
        cases.append(("vgg-cells-001", *real))
    results = [
        measure(name, image, points, args.reference_iterations) for name, image, points in cases
    ]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"torch threads: {args.threads}")
    header = f"{'case':<16}{'N':>6}{'s':>8}{'cpu s':>8}{'iterations':>20}"
    print(header + f"{'PSNR':>8}{'ref PSNR':>10}{'ref s':>8}{'dB':>7}")
    for r in results:
        stages = "+".join(
            f"{n}@1/{f}" for n, f in zip(r["iterations"], r["reduction_factors"], strict=True)
        )
        print(
            f"{r['case']:<16}{r['points']:>6}{r['seconds']:>8.2f}{r['cpu_seconds']:>8.2f}"
            f"{stages:>20}"
            f"{r['psnr']:>8.2f}{_cell(r['reference_psnr'], 10, 2)}"
            f"{_cell(r['reference_seconds'], 8, 1)}{_cell(r['difference_db'], 7, 2)}"
        )


if __name__ == "__main__":
    main()
