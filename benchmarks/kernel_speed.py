"""Time to build a transport kernel from a fit, and to crop, flip and move it to torch.

Usage::

    python benchmarks/kernel_speed.py                      # 512 x 512, 1000 points, stride 4
    python benchmarks/kernel_speed.py --points 5000 --stride 8 --json

Prints the median and best wall milliseconds and the median CPU milliseconds of each step
(target: build <= 10 ms for the default case) and the kernel's non-zeros.
"""

from __future__ import annotations

import argparse
import json
import warnings
from dataclasses import replace

import numpy as np
import torch

from loss_speed import cpu_ms, synthetic_fit, time_ms
from napari_gst.transport import build_kernel


def measure(n_points: int, stride: int, size: int, repeats: int) -> dict:
    """Return the timings (median and best ms) of one configuration."""
    fit = synthetic_fit(n_points, size)
    kernel = build_kernel(fit, (size, size), stride)
    crop_side = (size // 2) // stride * stride
    rng = np.random.default_rng(1)
    corners = rng.integers(0, (size - crop_side) // stride + 1, (repeats * 2, 2)) * stride
    boxes = iter(corners.tolist() * 4)

    def crop() -> None:
        top, left = next(boxes)
        kernel.crop(top, left, crop_side, crop_side)

    steps = {
        "build": lambda: build_kernel(fit, (size, size), stride),
        "build_rescaled": lambda: build_kernel(
            fit, (round(size * 0.75),) * 2, stride, scale=round(size * 0.75) / size
        ),
        "crop": crop,
        "flip": lambda: kernel.flip(1),
        # A copy with an empty cache, so the conversion is timed, not the cache look-up.
        "to_torch": lambda: replace(kernel, _torch_cache={}).to_torch(transpose=True),
    }
    result = {"points": n_points, "stride": stride, "size": size, "nnz": kernel.matrix.nnz}
    result["crop_side"] = crop_side
    for name, step in steps.items():
        result[f"{name}_ms"], result[f"{name}_min_ms"] = time_ms(step, repeats, 30.0)
        result[f"{name}_cpu_ms"] = cpu_ms(step, repeats)
    return result


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
    result = measure(args.points, args.stride, args.size, args.repeats)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.size}x{args.size}, {args.points} points, stride {args.stride}: ", end="")
    print(f"nnz {result['nnz']}")
    for step in ("build", "build_rescaled", "crop", "flip", "to_torch"):
        median, best, cpu = (result[f"{step}{k}"] for k in ("_ms", "_min_ms", "_cpu_ms"))
        print(f"  {step:<15} median {median:8.3f} ms   best {best:8.3f} ms   cpu {cpu:8.3f} ms")


if __name__ == "__main__":
    main()
