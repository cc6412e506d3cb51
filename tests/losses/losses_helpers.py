"""Helpers for the loss tests: kernels and point targets built directly from arrays."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from napari_gst.losses import PointTarget
from napari_gst.splat import GaussianFit
from napari_gst.transport import build_kernel


def make_kernel(points, sigma=4.0, image_shape=(32, 32), stride=4, **options):
    """Return the TransportKernel of round Gaussians of scale ``sigma`` at ``points``."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    sigmas = np.full((len(points), 2), float(sigma))
    colours = np.zeros((len(points), 3), dtype=np.float32)
    fit = GaussianFit(points, sigmas, np.zeros(len(points)), colours, 30.0, tuple(image_shape))
    return build_kernel(fit, image_shape, stride, **options)


def make_target(points, image_shape=(32, 32), stride=4):
    """Return the PointTarget of ``points``."""
    return PointTarget(np.asarray(points, dtype=np.float64).reshape(-1, 2), image_shape, stride)


def exact_density(kernel) -> np.ndarray:
    """Return a non-negative (h, w) density whose transport K^T zeta equals kernel.target().

    Solved by non-negative least squares on the dense kernel: it exists when no cell with
    density is shared with the background (build the kernel with background=False).
    """
    solution, residual = nnls(kernel.dense().T.astype(np.float64), kernel.target())
    assert residual < 1e-6, "no exact density for this kernel"
    return solution.reshape(kernel.grid_shape)
