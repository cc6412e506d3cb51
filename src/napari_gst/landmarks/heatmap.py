"""The L2 heatmap baseline: one Gaussian heatmap per landmark channel, regressed with squared error.

This is the standard target of landmark detection (e.g. Payer et al. 2019): channel i holds a
Gaussian of peak 1 at landmark i, or zeros where the landmark is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._validation import as_shape, as_stride
from ..errors import GSTError


@dataclass(frozen=True)
class LandmarkTarget:
    """Landmark positions of one (cropped) image, in the form the losses read.

    Attributes
    ----------
    points : (L, 2) float64 (row, col) in this frame's pixels, NaN where missing.
    image_shape : (H, W) of the frame.
    stride : density stride in pixels.
    """

    points: np.ndarray
    image_shape: tuple[int, int]
    stride: int

    @property
    def present(self) -> np.ndarray:
        """Return the (L,) bool mask of annotated landmarks."""
        return np.all(np.isfinite(self.points), axis=1)

    @property
    def mass(self) -> np.ndarray:
        """Return the (L,) target mass: 1 for a present landmark, 0 for a missing one."""
        return self.present.astype(np.float64)


def gaussian_heatmaps(
    points: object, image_shape: tuple[int, int], stride: int, sigma: float
) -> np.ndarray:
    """Return (L, h, w) float32 heatmaps at ``stride``: a peak-1 Gaussian per present landmark.

    ``sigma`` is in image pixels; cell (r, c) is sampled at its centre pixel
    (r*s + (s-1)/2, c*s + (s-1)/2). Missing (NaN) landmarks give an all-zero channel.
    """
    height, width = as_shape(image_shape, "image_shape")
    stride = as_stride(stride)
    if not np.isfinite(sigma) or sigma <= 0:
        raise GSTError(f"sigma must be a positive number of pixels, got {sigma!r}")
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    rows = np.arange(-(-height // stride)) * stride + (stride - 1) / 2.0
    cols = np.arange(-(-width // stride)) * stride + (stride - 1) / 2.0
    heatmaps = np.zeros((len(points), len(rows), len(cols)), dtype=np.float32)
    for index, (row, col) in enumerate(points):
        if np.isfinite(row) and np.isfinite(col):
            along_rows = np.exp(-((rows - row) ** 2) / (2 * sigma**2))
            along_cols = np.exp(-((cols - col) ** 2) / (2 * sigma**2))
            heatmaps[index] = np.outer(along_rows, along_cols)
    return heatmaps


class HeatmapLoss(nn.Module):
    """Squared error between the predicted channels and Gaussian heatmaps of the landmarks.

    Called as ``loss(density, targets)`` like every loss of ``napari_gst.losses``: ``density``
    is (B, L, h, w) and ``targets`` holds B objects with ``points`` (L, 2; NaN = missing),
    ``image_shape`` and ``stride`` (e.g. :class:`LandmarkTarget`). Returns the sum of squared
    errors over cells and channels, summed over images and divided by B (the batch mean of
    each image's squared L2 norm, so its scale does not shrink with the map size).

    Parameters
    ----------
    sigma : float, optional
        Heatmap Gaussian scale in image pixels; default 1.5 x the target's stride.
    """

    def __init__(self, sigma: float | None = None) -> None:
        super().__init__()
        if sigma is not None and not (np.isfinite(sigma) and sigma > 0):
            raise GSTError(f"sigma must be a positive number of pixels, got {sigma!r}")
        self.sigma = sigma

    def forward(self, density: torch.Tensor, targets: Sequence[object]) -> torch.Tensor:
        """Return the batch-mean squared error against each image's heatmaps."""
        if density.ndim != 4 or len(targets) != density.shape[0]:
            raise GSTError(
                f"density must be (B, L, h, w) with one target per image; got shape "
                f"{tuple(density.shape)} and {len(targets)} targets"
            )
        total = density.new_zeros(())
        for image_density, target in zip(density, targets, strict=True):
            sigma = self.sigma if self.sigma is not None else 1.5 * target.stride
            heatmaps = torch.from_numpy(
                gaussian_heatmaps(target.points, target.image_shape, target.stride, sigma)
            ).to(density)
            if heatmaps.shape != image_density.shape:
                raise GSTError(
                    f"density of shape {tuple(image_density.shape)} does not match the target's "
                    f"{len(target.points)} landmarks on a {heatmaps.shape[1:]} grid"
                )
            total = total + ((image_density - heatmaps) ** 2).sum()
        return total / density.shape[0]
