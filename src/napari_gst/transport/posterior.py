"""The truncated Bayesian posterior K (P x (N+1)) from the cells inside each point's ellipse.

Method (docs/method.md section 2): for cell j and annotation i,
``l_ij = -m_ij^2 / 2 - log det(Sigma_i) / 2``; the background term is
``l_bg,j = (m_min,j^2 - c^2) / 2 - log det(Sigma_i*) + log(beta)`` with i* the nearest
annotation in Mahalanobis distance; ``K_j = softmax(l_1j, ..., l_Nj, l_bg,j)``.
Annotations beyond the cut-off of a cell are left out of its softmax (the error this causes is
bounded by :func:`napari_gst.transport.truncation_bound`).

Numerics: every cell's terms are shifted by the same constant ``-log det_min / 2`` instead of
a per-row maximum. This is safe because the cut-off bounds them: ``m^2 <= cutoff^2`` and
``log det`` lies in the clamp range, so each exponent lies in
``[-cutoff^2/2 - 2 log(s_max/s_min), cutoff^2/2 + ...]``, far inside float64's range for any
cut-off the builder accepts (<= 20). That removes a per-row reduction pass.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .geometry import EllipseCells


def _nearest_log_det(
    entries: EllipseCells, log_det: np.ndarray, n_cells: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (reached cells, their min m^2, log det of their nearest point).

    Ties (duplicate points) resolve to the lowest point index, as argmin over i would.
    """
    m2_min = np.full(n_cells, np.inf)
    np.minimum.at(m2_min, entries.cell, entries.m2)
    at_min = np.flatnonzero(entries.m2 == m2_min[entries.cell])
    starts = np.cumsum(entries.counts) - entries.counts
    point_at_min = np.searchsorted(starts, at_min, side="right") - 1
    # Points with no cells have starts equal to the next point's: searchsorted(right) skips them.
    nearest = np.full(n_cells, len(log_det), dtype=np.int64)
    np.minimum.at(nearest, entries.cell[at_min], point_at_min)
    reached = np.flatnonzero(nearest < len(log_det))
    return reached, m2_min[reached], log_det[nearest[reached]]


def posterior_csr(
    entries: EllipseCells,
    log_det: np.ndarray,
    n_cells: int,
    *,
    background: bool,
    beta: float,
    background_distance: float,
) -> sp.csr_array:
    """Return K as a float32 CSR array (n_cells x (N+1)), background column last.

    Parameters
    ----------
    entries : the (point, cell, m^2) pairs within the cut-off, grouped by point.
    log_det : (N,) log det Sigma_i.
    n_cells : number of density cells P.
    background : include the background term; without it a cell that some annotation reaches
        is shared among annotations only (cells no annotation reaches stay pure background).
    beta, background_distance : background prior beta and distance c.
    """
    n_points = len(log_det)
    shift = float(log_det.min()) / 2.0 if n_points else 0.0
    weight = entries.m2 * -0.5
    weight -= np.repeat(0.5 * log_det - shift, entries.counts)
    np.exp(weight, out=weight)
    # astype: bincount of no entries returns an integer array.
    total = np.bincount(entries.cell, weights=weight, minlength=n_cells).astype(np.float64)
    weight_bg = np.zeros(n_cells)
    reached, m2_min, log_det_near = _nearest_log_det(entries, log_det, n_cells)
    if background:
        log_bg = 0.5 * (m2_min - background_distance**2) - log_det_near + np.log(beta)
        weight_bg[reached] = np.exp(log_bg + shift)
    # Cells no annotation reaches hold only the background: their row is (0, ..., 0, 1).
    unreached = np.ones(n_cells, dtype=bool)
    unreached[reached] = False
    weight_bg[unreached] = 1.0
    total += weight_bg
    weight /= total[entries.cell]
    values = weight.astype(np.float32)
    return _transpose_with_background(entries, values, (weight_bg / total).astype(np.float32))


def _transpose_with_background(
    entries: EllipseCells, values: np.ndarray, values_bg: np.ndarray
) -> sp.csr_array:
    """Return K (P x (N+1)) CSR from K.T's rows: one per point, then the background row.

    The entries are already K.T in CSR order (grouped by point); scipy's linear-time CSR -> CSC
    conversion turns that into K in CSR order with sorted column indices, background last.
    """
    n_points, n_cells, n_entries = len(entries.counts), len(values_bg), len(values)
    index_type = entries.cell.dtype
    indptr = np.empty(n_points + 2, dtype=index_type)
    indptr[0] = 0
    np.cumsum(entries.counts, out=indptr[1:-1])
    indptr[-1] = n_entries + n_cells
    indices = np.empty(n_entries + n_cells, dtype=index_type)
    indices[:n_entries] = entries.cell
    indices[n_entries:] = np.arange(n_cells)
    data = np.empty(n_entries + n_cells, dtype=np.float32)
    data[:n_entries] = values
    data[n_entries:] = values_bg
    transposed = sp.csr_array((data, indices, indptr), shape=(n_points + 1, n_cells))
    columns = transposed.tocsc()
    return sp.csr_array(
        (columns.data, columns.indices, columns.indptr), shape=(n_cells, n_points + 1)
    )
