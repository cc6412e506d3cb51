"""Per-landmark transport kernels: one Gaussian fit per image, then L one-point kernels.

GST for landmarks (method.md, section 5): channel i of the density is trained with its own
kernel over {landmark i, background}. All the image's landmarks are fitted together once (the
Gaussians see each other, as in counting), and kernel i is built from the sub-fit holding only
landmark i. A missing landmark's channel gets a kernel with no point: every cell goes to the
background, so the loss of that channel is its total mass (see docs/parts/landmarks.md).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .._validation import as_shape, as_stride
from ..errors import GSTError
from ..splat import GaussianFit, fit_gaussians
from ..transport import TransportKernel, build_kernel, cached_fit


def present_mask(landmarks: object, name: str = "landmarks") -> np.ndarray:
    """Return the (L,) bool mask of rows of an (L, 2) landmark array that are not NaN."""
    array = np.asarray(landmarks, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
        raise GSTError(
            f"{name} must be an (L, 2) array with one row per landmark, got {array.shape}"
        )
    finite = np.isfinite(array)
    partial = finite.any(axis=1) & ~finite.all(axis=1)
    if np.any(partial):
        raise GSTError(f"{name} row {int(np.flatnonzero(partial)[0])} is half NaN")
    return finite.all(axis=1)


def fit_landmarks(
    image: object,
    landmarks: object,
    *,
    cache_dir: str | Path | None = None,
    **fit_options: object,
) -> GaussianFit:
    """Return one Gaussian fit of all present landmarks of an image (fit i = i-th present row).

    Parameters
    ----------
    image : (H, W) or (H, W, C) array
    landmarks : (L, 2) array of (row, col), NaN rows for missing landmarks.
    cache_dir : path, optional
        Reuse fits through ``napari_gst.transport.cached_fit`` (keyed by image, points, options).
    **fit_options
        Passed to :func:`napari_gst.splat.fit_gaussians` (e.g. ``iterations``).
    """
    points = np.asarray(landmarks, dtype=np.float64)[present_mask(landmarks)]
    if cache_dir is not None:
        return cached_fit(image, points, cache_dir, **fit_options)
    return fit_gaussians(image, points, **fit_options)


def select_fit(fit: GaussianFit, index: int | None) -> GaussianFit:
    """Return the sub-fit holding only Gaussian ``index`` (no Gaussian when ``index`` is None)."""
    keep = slice(0, 0) if index is None else slice(index, index + 1)
    return GaussianFit(
        points=fit.points[keep],
        sigmas=fit.sigmas[keep],
        angles=fit.angles[keep],
        colours=fit.colours[keep],
        psnr=fit.psnr,
        image_shape=fit.image_shape,
        settings=fit.settings,
    )


def landmark_kernels(
    fit: GaussianFit,
    landmarks: object,
    shape: tuple[int, int],
    stride: int,
    **kernel_options: object,
) -> list[TransportKernel]:
    """Return L transport kernels, one per landmark channel, each with at most one point.

    Parameters
    ----------
    fit : GaussianFit
        The joint fit of the present landmarks, in the order of ``landmarks``' present rows
        (as :func:`fit_landmarks` returns it).
    landmarks : (L, 2) array
        The image's landmarks, NaN for missing ones.
    shape : (H, W)
        The shape the kernels describe (the rescaled image when ``scale`` is given).
    stride : int
        Density stride in pixels.
    **kernel_options
        Passed to :func:`napari_gst.transport.build_kernel` (``sigma_range``, ``scale``, ...).

    Returns
    -------
    list of L TransportKernel: kernel i has 1 point (landmark i) or 0 points (missing:
    every row sends all its mass to the background column).
    """
    present = present_mask(landmarks)
    if fit.n_points != int(present.sum()):
        raise GSTError(
            f"fit has {fit.n_points} Gaussians but landmarks has {int(present.sum())} present rows"
        )
    shape, stride = as_shape(shape), as_stride(stride)
    fit_index = np.cumsum(present) - 1
    kernels = []
    for channel, is_present in enumerate(present):
        # A missing landmark's sub-fit has no Gaussian: its kernel sends every cell to the
        # background column.
        sub_fit = select_fit(fit, int(fit_index[channel]) if is_present else None)
        kernel = build_kernel(sub_fit, shape, stride, **kernel_options)
        ids = np.full(kernel.n_points, channel, dtype=np.int64)
        kernels.append(replace(kernel, ids=ids, _torch_cache={}))
    return kernels
