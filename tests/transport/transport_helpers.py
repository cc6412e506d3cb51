"""Helpers for the transport tests: fits from arrays and the dense reference posterior."""

from __future__ import annotations

import numpy as np
from scipy.special import softmax

from napari_gst.splat import GaussianFit


def make_fit(points, sigmas, angles=None, image_shape=(64, 64)) -> GaussianFit:
    """Return a GaussianFit built directly from arrays (no fitting)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    sigmas = np.broadcast_to(np.asarray(sigmas, dtype=np.float64), (len(points), 2)).copy()
    angles = np.zeros(len(points)) if angles is None else np.asarray(angles, dtype=np.float64)
    colours = np.zeros((len(points), 3), dtype=np.float32)
    return GaussianFit(points, sigmas, angles, colours, 30.0, tuple(image_shape))


def dense_posterior(kernel, beta=0.015, c=3.0, cutoff=None) -> np.ndarray:
    """Return the (P, N+1) posterior written verbatim from method.md, dense N x P.

    With ``cutoff``, annotations farther than it (Mahalanobis) are removed from a cell's
    softmax, and a cell no annotation reaches is pure background: the truncated model.
    """
    gh, gw = kernel.grid_shape
    s = kernel.stride
    rows, cols = np.meshgrid(np.arange(gh) * s + (s - 1) / 2, np.arange(gw) * s + (s - 1) / 2)
    centres = np.stack([rows.T.ravel(), cols.T.ravel()], axis=1)
    if kernel.n_points == 0:
        return np.ones((len(centres), 1))
    offsets = centres[None, :, :] - kernel.points[:, None, :]
    inverse = np.linalg.inv(kernel.covariances)
    m2 = np.einsum("npi,nij,npj->np", offsets, inverse, offsets)
    log_det = np.log(np.linalg.det(kernel.covariances))
    log_lik = -0.5 * m2 - 0.5 * log_det[:, None]
    nearest = np.argmin(m2, axis=0)
    m2_min = m2[nearest, np.arange(m2.shape[1])]
    log_bg = 0.5 * (m2_min - c**2) - log_det[nearest] + np.log(beta)
    if cutoff is not None:
        log_lik = np.where(m2 <= cutoff**2, log_lik, -np.inf)
        log_bg = np.where(np.isfinite(log_lik).any(axis=0), log_bg, 0.0)
    return softmax(np.vstack([log_lik, log_bg[None, :]]), axis=0).T
