"""Density-grid geometry and the cells inside each annotation's Mahalanobis ellipse.

Conventions (docs/design.md): points are (row, col) in image pixels, pixel centres at
integers; cell (r, c) of a stride-``s`` grid covers pixels [r*s, (r+1)*s) x [c*s, (c+1)*s)
and has its centre at image pixel (r*s + (s-1)/2, c*s + (s-1)/2); cells are numbered
row-major, ``j = r * grid_width + c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def grid_shape_for(image_shape: tuple[int, int], stride: int) -> tuple[int, int]:
    """Return the density-map shape (ceil(H / s), ceil(W / s)) of an image at ``stride``."""
    return (-(-image_shape[0] // stride), -(-image_shape[1] // stride))


def cell_centres(n_cells: int, stride: int) -> np.ndarray:
    """Return the image-pixel coordinates of ``n_cells`` cell centres along one axis."""
    return np.arange(n_cells, dtype=np.float64) * stride + (stride - 1) / 2.0


@dataclass(frozen=True)
class Gaussians:
    """Clamped covariances of the annotations, in the forms the kernel needs.

    Attributes
    ----------
    covariances : (N, 2, 2) float64, Sigma_i in (row, col).
    inverse : (N, 3) float64, the entries (rr, rc, cc) of Sigma_i^-1.
    log_det : (N,) float64, log det Sigma_i.
    """

    covariances: np.ndarray
    inverse: np.ndarray
    log_det: np.ndarray

    @classmethod
    def from_scales(
        cls, sigmas: np.ndarray, angles: np.ndarray, sigma_range: tuple[float, float]
    ) -> Gaussians:
        """Return the Gaussians R(t) diag(clamp(sigma)^2) R(t)^T with clamped scales."""
        scales = np.clip(np.asarray(sigmas, dtype=np.float64), *sigma_range)
        cos, sin = np.cos(angles), np.sin(angles)
        var1, var2 = scales[:, 0] ** 2, scales[:, 1] ** 2
        cov_rr = cos**2 * var1 + sin**2 * var2
        cov_rc = cos * sin * (var1 - var2)
        cov_cc = sin**2 * var1 + cos**2 * var2
        return cls._from_entries(cov_rr, cov_rc, cov_cc)

    @classmethod
    def from_covariances(cls, covariances: np.ndarray) -> Gaussians:
        """Return the Gaussians for given (N, 2, 2) covariance matrices."""
        cov = np.asarray(covariances, dtype=np.float64).reshape(-1, 2, 2)
        return cls._from_entries(cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1])

    @classmethod
    def _from_entries(cls, rr: np.ndarray, rc: np.ndarray, cc: np.ndarray) -> Gaussians:
        det = rr * cc - rc**2
        inverse = np.stack([cc / det, -rc / det, rr / det], axis=1)
        covariances = np.stack([np.stack([rr, rc], -1), np.stack([rc, cc], -1)], -2)
        return cls(covariances=covariances, inverse=inverse, log_det=np.log(det))

    def mirrored(self) -> Gaussians:
        """Return the Gaussians reflected along one image axis (either: the rc term flips)."""
        cov = self.covariances.copy()
        cov[:, 0, 1] *= -1.0
        cov[:, 1, 0] *= -1.0
        return Gaussians.from_covariances(cov)

    def subset(self, keep: np.ndarray) -> Gaussians:
        """Return the Gaussians selected by the index or mask ``keep``."""
        return Gaussians(self.covariances[keep], self.inverse[keep], self.log_det[keep])


def _cell_range(centre: np.ndarray, half: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the first cell index and the number of cells whose centres lie in centre +- half."""
    offset = (stride - 1) / 2.0
    first = np.ceil((centre - half - offset) / stride).astype(np.int64)
    last = np.floor((centre + half - offset) / stride).astype(np.int64)
    return first, np.maximum(last - first + 1, 0)


def cell_boxes(
    points: np.ndarray, gaussians: Gaussians, stride: int, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (first row, n rows, first col, n cols) of each point's cut-off box, in cells.

    The box holds every cell centre with Mahalanobis distance <= ``cutoff``; it is not clipped
    to the grid (first indices may be negative).
    """
    cov = gaussians.covariances
    first_r, count_r = _cell_range(points[:, 0], cutoff * np.sqrt(cov[:, 0, 0]), stride)
    first_c, count_c = _cell_range(points[:, 1], cutoff * np.sqrt(cov[:, 1, 1]), stride)
    return first_r, count_r, first_c, count_c


@dataclass(frozen=True)
class EllipseCells:
    """The (point, cell) pairs within the cut-off, grouped by point in index order.

    Attributes
    ----------
    counts : (N,) int64 number of cells each point reaches.
    cell : (T,) int32 (int64 for huge grids) cell index j of each pair.
    m2 : (T,) float64 squared Mahalanobis distance of the cell centre to the point.
    """

    counts: np.ndarray
    cell: np.ndarray
    m2: np.ndarray

    @property
    def point(self) -> np.ndarray:
        """Return the (T,) point index of each pair."""
        return np.repeat(np.arange(len(self.counts)), self.counts)


def _row_runs(
    points: np.ndarray,
    gaussians: Gaussians,
    grid_shape: tuple[int, int],
    stride: int,
    cutoff: float,
    window: tuple[int, int, int, int],
) -> tuple[np.ndarray, ...]:
    """Return per (point, grid row) run: point, row offset d_r, first column, run length.

    Runs are clipped to the cell ``window`` (r0, r1, c0, c1), end-exclusive.
    """
    row_lo, row_hi, col_lo, col_hi = window
    first_r, count_r, _, _ = cell_boxes(points, gaussians, stride, cutoff)
    last_r = np.minimum(first_r + count_r, row_hi)
    first_r = np.maximum(first_r, row_lo)
    count_r = np.maximum(last_r - first_r, 0)
    run_point = np.repeat(np.arange(len(points)), count_r)
    run_start = np.repeat(np.cumsum(count_r) - count_r, count_r)
    run_row = np.arange(len(run_point)) - run_start + first_r[run_point]
    offset = (stride - 1) / 2.0
    d_r = run_row * stride + offset - points[run_point, 0]
    inv = gaussians.inverse[run_point]
    # The cells of a row inside the ellipse form one interval: the roots of
    # inv_cc dc^2 + 2 inv_rc d_r dc + inv_rr d_r^2 - cutoff^2 = 0 (inv_rr inv_cc - inv_rc^2 > 0).
    det_inv = inv[:, 0] * inv[:, 2] - inv[:, 1] ** 2
    disc = np.maximum(inv[:, 2] * cutoff**2 - det_inv * d_r**2, 0.0)
    centre = points[run_point, 1] - inv[:, 1] * d_r / inv[:, 2]
    half = np.sqrt(disc) / inv[:, 2]
    first_c, count_c = _cell_range(centre, half, stride)
    last_c = np.minimum(first_c + count_c, col_hi)
    first_c = np.maximum(first_c, col_lo)
    return run_point, run_row, d_r, first_c, np.maximum(last_c - first_c, 0)


def ellipse_cells(
    points: np.ndarray,
    gaussians: Gaussians,
    grid_shape: tuple[int, int],
    stride: int,
    cutoff: float,
    window: tuple[int, int, int, int] | None = None,
) -> EllipseCells:
    """Return every (point, cell) pair whose cell centre lies within ``cutoff`` of the point.

    Distances are Mahalanobis distances under each point's Gaussian. Each point's ellipse is
    walked row by row as column intervals, so the cost is the number of pairs, never N x P.
    ``window`` (r0, r1, c0, c1), end-exclusive cell ranges inside the grid, keeps only the
    cells in that rectangle (cell indices stay those of the whole grid); the pairs kept are
    computed exactly as in the whole grid, and cost only what the window holds.
    """
    if window is None:
        window = (0, grid_shape[0], 0, grid_shape[1])
    run_point, run_row, d_r, first_c, length = _row_runs(
        points, gaussians, grid_shape, stride, cutoff, window
    )
    total = int(length.sum())
    run_start = np.cumsum(length) - length
    # int32 cell indices (grids up to 46k x 46k cells) halve the bytes of every pass over them.
    index_type = np.int32 if total + grid_shape[0] * grid_shape[1] < 2**31 else np.int64
    position = np.arange(total, dtype=index_type)
    # Per entry: cell = run base + position, d_c = stride * position + run offset; every per-run
    # quantity is expanded with one np.repeat.
    cell = np.repeat((run_row * grid_shape[1] + first_c - run_start).astype(index_type), length)
    cell += position
    offset = (stride - 1) / 2.0
    base_c = (first_c - run_start) * stride + offset - points[run_point, 1]
    d_c = position * float(stride)
    d_c += np.repeat(base_c, length)
    inv = gaussians.inverse[run_point]
    # Horner form in d_c, in place: large temporaries cost more than the arithmetic here.
    m2 = np.repeat(inv[:, 2], length)
    m2 *= d_c
    m2 += np.repeat(2.0 * inv[:, 1] * d_r, length)
    m2 *= d_c
    m2 += np.repeat(inv[:, 0] * d_r**2, length)
    np.maximum(m2, 0.0, out=m2)
    counts = np.bincount(run_point, weights=length, minlength=len(points)).astype(np.int64)
    return EllipseCells(counts=counts, cell=cell, m2=m2)
