"""GaussianFit: the per-point Gaussians fitted to an image, with a stable on-disk form."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._archive import read_archive, write_archive

FORMAT_VERSION = 1
FORMAT_NAME = "napari-gst GaussianFit"


@dataclass(frozen=True)
class GaussianFit:
    """One 2D Gaussian per annotation point, fitted to an image.

    Geometry: ``points`` are (row, col) in image pixels; the covariance of Gaussian i is
    ``R(angle_i) diag(sigma_i1**2, sigma_i2**2) R(angle_i).T`` in (row, col) coordinates, with
    ``R(t) = [[cos t, -sin t], [sin t, cos t]]`` (so ``sigmas[:, 0]`` lies along direction
    (cos t, sin t) in (row, col)).

    Attributes
    ----------
    points : (N, 2) float64 array, the annotation points (means, fixed during the fit).
    sigmas : (N, 2) float64 array, standard deviations in pixels (>= 1).
    angles : (N,) float64 array, rotations in radians.
    colours : (N, C) float32 array, fitted colours in the normalised image range.
    psnr : PSNR (dB) of the render against the image over the fitted region (nan if N == 0).
    image_shape : (H, W) of the image that was fitted.
    settings : JSON-able dict of the fit settings (for provenance and cache keys).
    """

    points: np.ndarray
    sigmas: np.ndarray
    angles: np.ndarray
    colours: np.ndarray
    psnr: float
    image_shape: tuple[int, int]
    settings: dict = field(default_factory=dict)

    @property
    def n_points(self) -> int:
        """Number of Gaussians (= annotation points)."""
        return int(len(self.points))

    def covariances(self) -> np.ndarray:
        """Return the (N, 2, 2) covariance matrices in (row, col) coordinates."""
        cos, sin = np.cos(self.angles), np.sin(self.angles)
        rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
        scales = np.einsum("nij,nj->nij", rotation, self.sigmas.astype(np.float64) ** 2)
        return scales @ np.swapaxes(rotation, -1, -2)

    def anisotropy(self) -> np.ndarray:
        """Return max(s1/s2, s2/s1) per Gaussian (1 = round)."""
        if self.n_points == 0:
            return np.zeros(0)
        return np.max(self.sigmas, axis=1) / np.min(self.sigmas, axis=1)

    def save(self, path: str | Path) -> Path:
        """Write the fit as ``<path>.npz`` (arrays) + JSON metadata inside; returns the path."""
        meta = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "psnr": float(self.psnr),
            "image_shape": list(self.image_shape),
            "settings": self.settings,
        }
        arrays = {
            "points": self.points,
            "sigmas": self.sigmas,
            "angles": self.angles,
            "colours": self.colours,
        }
        return write_archive(path, arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> GaussianFit:
        """Read a fit written by :meth:`save` (no pickle is ever loaded)."""
        arrays, meta = read_archive(path, FORMAT_NAME, "GaussianFit")
        return cls(
            points=arrays["points"].astype(np.float64),
            sigmas=arrays["sigmas"].astype(np.float64),
            angles=arrays["angles"].astype(np.float64),
            colours=arrays["colours"].astype(np.float32),
            psnr=float(meta["psnr"]),
            image_shape=tuple(meta["image_shape"]),
            settings=meta.get("settings", {}),
        )
