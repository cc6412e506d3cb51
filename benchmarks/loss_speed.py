"""Forward + backward time of the GST loss and the baselines on one synthetic image.

Usage::

    python benchmarks/loss_speed.py --points 1000 --stride 4 --json
    python benchmarks/loss_speed.py --sweep          # N = 100, 1000, 5000 at stride 8 and 4

One run prints one JSON object (``--json``) or a table: the median milliseconds of
forward + backward per loss, GST's speed-up over the Bayesian and OT losses, the kernel's
non-zeros and build time, and GST's achieved memory bandwidth (bytes its two sparse mat-vecs
stream / their time) next to the machine's (a large numpy triad and torch add in this run).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch
from scipy.spatial import cKDTree

from napari_gst.losses import BayesianLoss, GSTLoss, L2DensityLoss, OTLoss, PointTarget
from napari_gst.splat import GaussianFit
from napari_gst.transport import build_kernel


def synthetic_fit(n_points: int, size: int, seed: int = 0) -> GaussianFit:
    """Return a fit-like set of Gaussians: uniform points, scales from the kNN distance.

    Scales are half the mean distance to the 3 nearest points (what a fit of touching
    objects gives), anisotropy up to 1.5, random angles.
    """
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, size - 1, (n_points, 2))
    if n_points > 3:
        distances, _ = cKDTree(points).query(points, k=4)
        base = 0.5 * distances[:, 1:].mean(axis=1)
    else:
        base = np.full(n_points, 8.0)
    sigmas = np.maximum(
        base[:, None] * np.stack([np.ones(n_points), rng.uniform(1, 1.5, n_points)], 1), 1.0
    )
    angles = rng.uniform(0, np.pi, n_points)
    colours = np.zeros((n_points, 3), dtype=np.float32)
    return GaussianFit(points, sigmas, angles, colours, 30.0, (size, size))


def time_ms(function, repeats: int, budget_s: float) -> tuple[float, float]:
    """Return the (median, minimum) wall time in ms of ``function`` over up to ``repeats`` runs.

    A first run warms caches when it is quick; slow functions stop once ``budget_s`` is spent.
    """
    start = time.perf_counter()
    function()
    first = time.perf_counter() - start
    times = [] if first < 1.0 else [first]
    spent = first
    while len(times) < repeats and (spent < budget_s or not times):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
        spent += times[-1]
    return 1e3 * float(np.median(times)), 1e3 * float(np.min(times))


def cpu_ms(function, repeats: int) -> float:
    """Return the median CPU time (ms, all threads of this process) of ``function``.

    Unlike wall time it leaves out the time the process waits for a core, so it stays
    meaningful on a machine that other jobs load (memory contention still shows).
    """
    function()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return 1e3 * float(np.median(times))


def median_ms(function, repeats: int, budget_s: float) -> float:
    """Return the median wall time (ms) of ``function`` (see :func:`time_ms`)."""
    return time_ms(function, repeats, budget_s)[0]


def forward_backward(loss: torch.nn.Module, density: torch.Tensor, targets: list):
    """Return a function that runs loss(density, targets).backward() once."""

    def run() -> None:
        density.grad = None
        loss(density, targets).backward()

    return run


def machine_bandwidth_gbs(n: int = 20_000_000) -> dict:
    """Return measured memory bandwidth (GB/s): numpy copy and triad, torch add (all threads)."""
    a, b, c = np.ones(n), np.ones(n), np.ones(n)
    copy = median_ms(lambda: np.copyto(a, b), 5, 5.0) / 1e3
    triad = median_ms(lambda: np.add(b, np.multiply(c, 3.0, out=a), out=a), 5, 5.0) / 1e3
    ta, tb, tc = torch.ones(n), torch.ones(n), torch.ones(n)
    add = median_ms(lambda: torch.add(tb, tc, alpha=3.0, out=ta), 5, 5.0) / 1e3
    return {
        "numpy_copy_gbs": 16 * n / copy / 1e9,
        "numpy_triad_gbs": 32 * n / triad / 1e9,  # c read, a written, a read, b read
        "torch_add_gbs": 3 * 4 * n / add / 1e9,
    }


def gst_bytes(kernel) -> int:
    """Return the bytes the forward (K^T x) and backward (K g) mat-vecs must stream at least."""
    nnz = kernel.matrix.nnz
    n_cols = kernel.n_points + 1
    n_rows = kernel.matrix.shape[0]
    index = kernel.matrix.indices.itemsize
    per_pass = nnz * (4 + index) + 4 * (n_rows + n_cols)
    return 2 * per_pass + index * (n_rows + n_cols + 2)


def measure(n_points: int, stride: int, size: int, repeats: int, budget_s: float) -> dict:
    """Return the timings of one configuration as a dict."""
    fit = synthetic_fit(n_points, size)
    start = time.perf_counter()
    kernel = build_kernel(fit, (size, size), stride)
    build_ms = 1e3 * (time.perf_counter() - start)
    target = PointTarget(fit.points, (size, size), stride)
    grid = kernel.grid_shape
    density = torch.rand(1, 1, *grid, requires_grad=True)
    result = {"points": n_points, "stride": stride, "size": size, "nnz": kernel.matrix.nnz}
    result["kernel_build_ms"] = build_ms
    for name, loss, targets in (
        ("gst", GSTLoss(), [kernel]),
        ("l2", L2DensityLoss(), [target]),
        ("bayesian", BayesianLoss(), [target]),
        ("ot", OTLoss(), [target]),
    ):
        result[f"{name}_ms"] = median_ms(
            forward_backward(loss, density, targets), repeats, budget_s
        )
    # The two mat-vecs GSTLoss runs on the CPU (scipy CSR, see napari_gst.losses.gst).
    kernel_t, matrix = kernel.scipy_matrix(transpose=True), kernel.scipy_matrix()
    flat = density.detach().reshape(-1).numpy()
    grad = np.random.default_rng(0).random(kernel.n_points + 1, dtype=np.float32)
    result["gst_spmv_ms"], result["gst_spmv_min_ms"] = time_ms(
        lambda: (kernel_t @ flat, matrix @ grad), repeats * 5, budget_s
    )
    result["bayesian_over_gst"] = result["bayesian_ms"] / result["gst_ms"]
    result["ot_over_gst"] = result["ot_ms"] / result["gst_ms"]
    result["gst_bytes"] = gst_bytes(kernel)
    result["gst_spmv_gbs"] = result["gst_bytes"] / result["gst_spmv_ms"] / 1e6
    result["gst_spmv_best_gbs"] = result["gst_bytes"] / result["gst_spmv_min_ms"] / 1e6
    result["gst_loss_gbs"] = result["gst_bytes"] / result["gst_ms"] / 1e6
    return result


def print_table(rows: list[dict], bandwidth: dict) -> None:
    """Print the results as a plain-text table."""
    header = ("N", "s", "nnz", "build", "gst", "spmv", "l2", "bayes", "ot", "bay/gst", "ot/gst")
    print(" ".join(f"{h:>9}" for h in header))
    for row in rows:
        values = (
            row["points"], row["stride"], row["nnz"], row["kernel_build_ms"], row["gst_ms"],
            row["gst_spmv_ms"], row["l2_ms"], row["bayesian_ms"], row["ot_ms"],
            row["bayesian_over_gst"], row["ot_over_gst"],
        )  # fmt: skip
        print(" ".join(f"{v:>9.4g}" if isinstance(v, float) else f"{v:>9}" for v in values))
    print("times in ms (median forward+backward); machine bandwidth GB/s:", end=" ")
    print(", ".join(f"{key} {value:.1f}" for key, value in bandwidth.items()))
    for row in rows:
        print(
            f"N={row['points']} s={row['stride']}: GST mat-vecs stream {row['gst_bytes'] / 1e6:.1f}"
            f" MB -> {row['gst_spmv_gbs']:.1f} GB/s median, {row['gst_spmv_best_gbs']:.1f} GB/s"
            f" best (mat-vecs only), {row['gst_loss_gbs']:.1f} GB/s (whole loss, median)"
        )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--stride", type=int, default=4)
    parser.add_argument("--size", type=int, default=512, help="image side in pixels")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds per slow loss")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sweep", action="store_true", help="N = 100, 1000, 5000; stride 8, 4")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support")
    configs = (
        [(n, s) for s in (8, 4) for n in (100, 1000, 5000)]
        if args.sweep
        else [(args.points, args.stride)]
    )
    rows = [measure(n, s, args.size, args.repeats, args.budget) for n, s in configs]
    bandwidth = machine_bandwidth_gbs()
    if args.json:
        payload = {**rows[0], **bandwidth} if len(rows) == 1 else {"runs": rows, **bandwidth}
        payload["threads"] = args.threads
        print(json.dumps(payload))
    else:
        print_table(rows, bandwidth)


if __name__ == "__main__":
    main()
