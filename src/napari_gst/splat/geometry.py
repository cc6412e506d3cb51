"""Gaussian geometry shared by the renderers: conics, 3-sigma extents and window radii.

Convention (the same as :class:`~napari_gst.splat.GaussianFit`): coordinates are (row, col),
the covariance is ``R(t) diag(s1**2, s2**2) R(t).T`` with ``R(t) = [[cos t, -sin t],
[sin t, cos t]]``. A conic is the inverse covariance stored as ``(a, b, c)`` so that the
squared Mahalanobis distance of an offset (u, v) = (d_row, d_col) is ``a u^2 + 2 b u v + c v^2``.
"""

from __future__ import annotations

import math

import torch

#: Gaussians are cut off where the Mahalanobis distance exceeds this (method.md: 3 sigma).
CUTOFF_SIGMAS = 3.0
#: The same cut-off on the exponent -m^2/2 that the renderers evaluate.
CUTOFF_EXPONENT = -0.5 * CUTOFF_SIGMAS**2


def conics_from(sigmas: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Return the (N, 3) conics (a, b, c) = inverse covariance entries (rr, rc, cc).

    Differentiable in ``sigmas`` (N, 2) and ``angles`` (N,).
    """
    cos, sin = torch.cos(angles), torch.sin(angles)
    inv1 = 1.0 / sigmas[:, 0] ** 2
    inv2 = 1.0 / sigmas[:, 1] ** 2
    a = cos * cos * inv1 + sin * sin * inv2
    c = sin * sin * inv1 + cos * cos * inv2
    b = cos * sin * (inv1 - inv2)
    return torch.stack([a, b, c], dim=-1)


def half_extents(sigmas: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Return the (N, 2) half sizes (rows, cols) of the box holding each 3-sigma ellipse."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    var1, var2 = sigmas[:, 0] ** 2, sigmas[:, 1] ** 2
    var_rows = var1 * cos * cos + var2 * sin * sin
    var_cols = var1 * sin * sin + var2 * cos * cos
    return CUTOFF_SIGMAS * torch.sqrt(torch.stack([var_rows, var_cols], dim=-1))


def window_radii(sigmas: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Return (N,) int64 window radii: a (2r+1)^2 box around the rounded mean holds the ellipse.

    The extra half pixel covers the offset between the mean and the pixel it is rounded to.
    """
    extent = half_extents(sigmas.detach(), angles.detach()).amax(dim=-1)
    return torch.ceil(extent + 0.5).to(torch.int64).clamp_min(1)


def bucket_radius(radius: int) -> int:
    """Return the window radius bucket for ``radius``: about four sizes per octave.

    Bucketing lets every Gaussian of a bucket share one window shape (one batched tensor)
    while wasting less than 25 % of the radius.
    """
    if radius <= 4:
        return int(radius)
    step = 2 ** ((int(radius) - 1).bit_length() - 3)
    return int(math.ceil(radius / step) * step)


def bucket_radii(radii: torch.Tensor) -> torch.Tensor:
    """Return :func:`bucket_radius` of every entry of the int tensor ``radii``."""
    values = [bucket_radius(int(r)) for r in radii.tolist()]
    return torch.tensor(values, dtype=torch.int64, device=radii.device)


#: Fixed cost of one window bucket (a few dozen tensor ops), in evaluated pixels: buckets are
#: merged while that saves more than the extra padded pixels cost.
BUCKET_OVERHEAD_PIXELS = 16384


def merge_buckets(radii: torch.Tensor, overhead: int = BUCKET_OVERHEAD_PIXELS) -> torch.Tensor:
    """Return ``radii`` (N,) raised so that few distinct values remain, at least total cost.

    Cost of a group sharing radius R: ``overhead + count * (2R + 1)^2``. Groups are runs of
    the sorted distinct radii; the best split is found by dynamic programming (few values).
    """
    if len(radii) == 0:
        return radii
    values, counts = torch.unique(radii, return_counts=True)
    values, counts = values.tolist(), counts.tolist()
    best = [0.0] + [float("inf")] * len(values)  # best[j]: cost of the first j values
    split = [0] * (len(values) + 1)
    for end in range(1, len(values) + 1):
        area = (2 * values[end - 1] + 1) ** 2
        for start in range(end):
            cost = best[start] + overhead + area * sum(counts[start:end])
            if cost < best[end]:
                best[end], split[end] = cost, start
    mapping, end = {}, len(values)
    while end > 0:
        for value in values[split[end] : end]:
            mapping[value] = values[end - 1]
        end = split[end]
    return torch.tensor(
        [mapping[r] for r in radii.tolist()], dtype=radii.dtype, device=radii.device
    )
