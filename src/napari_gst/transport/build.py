"""build_kernel: the sparse transport kernel K of an image from its Gaussian fit."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._validation import as_shape, as_sigma_range, as_stride
from ..errors import GSTError
from .geometry import EllipseCells, Gaussians, ellipse_cells, grid_shape_for
from .kernel import TransportKernel
from .posterior import posterior_csr

DEFAULT_CUTOFF = 6.0
"""Mahalanobis radius beyond which an annotation does not reach a cell (see truncation_bound)."""
MAX_CUTOFF = 20.0
"""Largest accepted cut-off: keeps the posterior's fixed-shift exponentials in float64 range."""


SIGMA_MIN_PER_STRIDE = 0.625
"""Default lower clamp of the kernel's scales in strides (2.5 px at stride 4 keeps cell fits)."""
SIGMA_MAX_PER_STRIDE = 2.5
"""Default upper clamp of the kernel's scales, in strides (the authors' 20 px at stride 8)."""


def default_sigma_range(stride: int) -> tuple[float, float]:
    """Return the default clamp (0.625 * stride, 2.5 * stride) for the kernel's Gaussian scales.

    The lower bound is below the authors' one stride so that the clamp does not widen most
    fitted Gaussians of small, touching objects (docs/parts/method-kernel.md, "Geometry").
    """
    return SIGMA_MIN_PER_STRIDE * float(stride), SIGMA_MAX_PER_STRIDE * float(stride)


def truncation_bound(
    cutoff: float,
    sigma_range: tuple[float, float],
    *,
    beta: float = 0.015,
    background_distance: float = 3.0,
) -> float:
    """Return the worst-case posterior mass one cut-off annotation can carry in a cell.

    For a cell j and an annotation i with m_ij > cutoff, the exact posterior satisfies
    ``K_ij <= delta`` with
    ``delta = 1/2 exp(-cutoff^2/2 - 2 log s_min + 3 log s_max + c^2/4 - log(beta)/2)``
    (s_min, s_max the clamp of the scales, c the background distance). Derivation: the exact
    normaliser is at least the nearest annotation's term plus the background term, whose sum
    is at least ``2 exp(-3/4 log det S* - c^2/4 + log(beta)/2)`` whatever m_min is, while the
    cut-off term is at most ``exp(-cutoff^2/2 - log det S_i/2)``. If n annotations are cut off
    from cell j, every entry of the truncated row is within ``n * delta`` of the exact row and
    the row's L1 error is at most ``2 n delta``. Needs the background term (the default).
    """
    low, high = as_sigma_range(sigma_range)
    exponent = (
        -0.5 * cutoff**2
        - 2.0 * math.log(low)
        + 3.0 * math.log(high)
        + 0.25 * background_distance**2
        - 0.5 * math.log(beta)
    )
    return 0.5 * math.exp(exponent)


def _check_positive(value: object, name: str) -> float:
    """Return ``value`` as a positive finite float, or raise GSTError naming it."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise GSTError(f"{name} must be a positive number, got {value!r}") from error
    if not (math.isfinite(number) and number > 0):
        raise GSTError(f"{name} must be a positive number, got {value!r}")
    return number


def _fit_arrays(fit: object) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """Return (points, sigmas, angles, image_shape) of a GaussianFit-like object, checked."""
    try:
        points = np.asarray(fit.points, dtype=np.float64).reshape(-1, 2)  # type: ignore[attr-defined]
        sigmas = np.asarray(fit.sigmas, dtype=np.float64).reshape(-1, 2)  # type: ignore[attr-defined]
        angles = np.asarray(fit.angles, dtype=np.float64).reshape(-1)  # type: ignore[attr-defined]
        image_shape = as_shape(fit.image_shape, "fit.image_shape")  # type: ignore[attr-defined]
    except AttributeError as error:
        raise GSTError(f"fit must be a GaussianFit, got {type(fit).__name__}") from error
    if not len(points) == len(sigmas) == len(angles):
        raise GSTError(
            f"fit has {len(points)} points but {len(sigmas)} sigmas and {len(angles)} angles"
        )
    if not (np.all(np.isfinite(sigmas)) and np.all(sigmas > 0) and np.all(np.isfinite(angles))):
        raise GSTError("fit.sigmas must be positive and finite, fit.angles finite")
    return points, sigmas, angles, image_shape


def _rescale_points(
    points: np.ndarray, scale: float, fit_shape: tuple[int, int], shape: tuple[int, int]
) -> np.ndarray:
    """Return points mapped into the image rescaled by ``scale`` (pixel-edge aligned resize)."""
    for axis, name in ((0, "height"), (1, "width")):
        if abs(shape[axis] - fit_shape[axis] * scale) >= 1.0:
            raise GSTError(
                f"shape {shape} does not match the fitted image {fit_shape} rescaled by "
                f"scale={scale} (image {name} should be about {fit_shape[axis] * scale:.1f})"
            )
    # Pixel edges map to pixel edges: the image edge -0.5 stays at -0.5.
    moved = (points + 0.5) * scale - 0.5
    upper = np.array(shape, dtype=np.float64) - 0.5
    return np.clip(moved, -0.5, upper)


def build_kernel(
    fit: object,
    shape: tuple[int, int],
    stride: int,
    *,
    sigma_range: tuple[float, float] | None = None,
    scale: float = 1.0,
    background: bool = True,
    beta: float = 0.015,
    background_distance: float = 3.0,
    cutoff: float = DEFAULT_CUTOFF,
) -> TransportKernel:
    """Return the sparse Bayesian transport kernel K of a fitted image at a density stride.

    Parameters
    ----------
    fit : GaussianFit
        Per-point Gaussians of the image (``napari_gst.splat.fit_gaussians``).
    shape : (H, W)
        Shape of the image the kernel is for: the fitted image, or it rescaled by ``scale``.
    stride : int
        Density-map stride s; K has one row per cell of the (ceil(H/s), ceil(W/s)) grid.
    sigma_range : (min, max), optional
        Clamp of the Gaussian scales in pixels (after rescaling); default (0.625 s, 2.5 s).
    scale : float
        Rescale factor from the fitted image to ``shape``: points map as
        ``(p + 0.5) * scale - 0.5`` and scales multiply by ``scale``.
    background : bool
        Include the background column's likelihood (method.md section 2).
    beta, background_distance : float
        Background prior beta and Mahalanobis distance c of the background term.
    cutoff : float
        An annotation reaches only cells within this Mahalanobis distance
        (error bound: :func:`truncation_bound`).

    Returns
    -------
    TransportKernel
        K (P x (N+1), float32 CSR, background last, rows sum to 1) and its geometry.

    Examples
    --------
    >>> kernel = build_kernel(fit, fit.image_shape, stride=8)  # doctest: +SKIP
    >>> counts_per_point = kernel.matrix.T @ density.ravel()  # doctest: +SKIP
    """
    frame = kernel_frame(fit, shape, stride, sigma_range, scale, background, beta,
                     background_distance, cutoff)  # fmt: skip
    entries = ellipse_cells(frame.points, frame.gaussians, frame.grid, frame.stride, frame.cutoff)
    matrix = frame.posterior(entries, frame.grid[0] * frame.grid[1])
    return TransportKernel(
        matrix=matrix,
        grid_shape=frame.grid,
        stride=frame.stride,
        image_shape=frame.shape,
        points=frame.points,
        mass=np.ones(len(frame.points)),
        covariances=frame.gaussians.covariances,
        ids=np.arange(len(frame.points), dtype=np.int64),
        settings=frame.settings,
    )


@dataclass(frozen=True)
class KernelFrame:
    """The checked geometry and settings of a kernel before any cell is evaluated."""

    points: np.ndarray
    gaussians: Gaussians
    shape: tuple[int, int]
    grid: tuple[int, int]
    stride: int
    cutoff: float
    settings: dict

    def posterior(self, entries: EllipseCells, n_cells: int) -> sp.csr_array:
        """Return the posterior rows of ``entries``' cells (numbered 0 .. n_cells - 1)."""
        return posterior_csr(
            entries,
            self.gaussians.log_det,
            n_cells,
            background=self.settings["background"],
            beta=self.settings["beta"],
            background_distance=self.settings["background_distance"],
        )


def kernel_frame(
    fit: object,
    shape: tuple[int, int],
    stride: int,
    sigma_range: tuple[float, float] | None,
    scale: float,
    background: bool,
    beta: float,
    background_distance: float,
    cutoff: float,
) -> KernelFrame:
    """Return the kernel frame of ``build_kernel``'s arguments, each checked by name."""
    points, sigmas, angles, fit_shape = _fit_arrays(fit)
    shape = as_shape(shape, "shape")
    stride = as_stride(stride)
    scale = _check_positive(scale, "scale")
    cutoff = _check_positive(cutoff, "cutoff")
    if cutoff > MAX_CUTOFF:
        raise GSTError(f"cutoff must be at most {MAX_CUTOFF} (Mahalanobis units), got {cutoff}")
    beta = _check_positive(beta, "beta")
    background_distance = _check_positive(background_distance, "background_distance")
    low, high = as_sigma_range(default_sigma_range(stride) if sigma_range is None else sigma_range)
    settings = {
        "cutoff": cutoff,
        "sigma_range": [low, high],
        "background": bool(background),
        "beta": beta,
        "background_distance": background_distance,
        "scale": scale,
    }
    return KernelFrame(
        points=_rescale_points(points, scale, fit_shape, shape),
        gaussians=Gaussians.from_scales(sigmas * scale, angles, (low, high)),
        shape=shape,
        grid=grid_shape_for(shape, stride),
        stride=stride,
        cutoff=cutoff,
        settings=settings,
    )
