"""Decode landmarks from an L-channel density: sub-pixel peak of each channel, confidence."""

from __future__ import annotations

import numpy as np

from .._validation import as_stride
from ..errors import GSTError

REFINEMENTS = ("centroid", "quadratic", "none")
CONFIDENCES = ("mass", "peak")


def decode_landmarks(
    density: object,
    stride: int,
    *,
    refine: str = "centroid",
    radius: int = 2,
    confidence: str = "mass",
) -> tuple[np.ndarray, np.ndarray]:
    """Return each channel's refined peak as (row, col) image pixels, and a confidence.

    Parameters
    ----------
    density : (L, h, w) or (B, L, h, w) array or tensor
        Non-negative density at ``stride``; channel i is landmark i.
    stride : int
        Pixels per density cell; cell (r, c) is centred at pixel (r*s + (s-1)/2, c*s + (s-1)/2).
    refine : {"centroid", "quadratic", "none"}
        Sub-cell refinement around the arg-max cell: "centroid" is the mass centroid of the
        (2*radius+1)^2 window (robust for GST's compact densities); "quadratic" fits a parabola
        to the log density along each axis through the 3 cells around the peak (exact for a
        Gaussian blob, e.g. the heatmap baseline); "none" keeps the cell centre.
    radius : int
        Window half-size in cells, for the centroid and the confidence mass.
    confidence : {"mass", "peak"}
        "mass": the channel's mass within the window (GST trains a present landmark's channel
        to mass 1, so this reads as a probability); "peak": the peak value (heatmaps peak at 1).

    Returns
    -------
    points : (..., L, 2) float64, (row, col) in image pixels; NaN where a channel has no
        positive value (nothing to decode).
    confidences : (..., L) float64 (0 where the channel is empty).

    Examples
    --------
    >>> density = np.zeros((1, 5, 5)); density[0, 2, 2] = 1.0; density[0, 2, 3] = 1.0
    >>> points, confidences = decode_landmarks(density, stride=4)
    >>> points, confidences  # between the two cells; all the mass lies near the peak
    (array([[ 9.5, 11.5]]), array([2.]))
    """
    stride = as_stride(stride)
    if refine not in REFINEMENTS:
        raise GSTError(f"refine must be one of {REFINEMENTS}, got {refine!r}")
    if confidence not in CONFIDENCES:
        raise GSTError(f"confidence must be one of {CONFIDENCES}, got {confidence!r}")
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 1:
        raise GSTError(f"radius must be a positive integer (cells), got {radius!r}")
    stack = _as_density_stack(density)
    lead, (height, width) = stack.shape[:-2], stack.shape[-2:]
    maps = stack.reshape(-1, height, width)
    points = np.full((len(maps), 2), np.nan)
    confidences = np.zeros(len(maps))
    for index, channel in enumerate(maps):
        peak = np.unravel_index(int(np.argmax(channel)), channel.shape)
        if channel[peak] <= 0:
            continue
        window = _window(channel, peak, int(radius))
        if refine == "centroid":
            offset = _centroid_offset(window, int(radius))
        elif refine == "quadratic":
            offset = _quadratic_offset(channel, peak)
        else:
            offset = np.zeros(2)
        points[index] = (np.asarray(peak) + offset) * stride + (stride - 1) / 2.0
        confidences[index] = window.sum() if confidence == "mass" else channel[peak]
    return points.reshape(*lead, 2), confidences.reshape(lead)


def _as_density_stack(density: object) -> np.ndarray:
    """Return a (…, L, h, w) float64 numpy copy of an array or tensor, validated."""
    if hasattr(density, "detach"):
        density = density.detach().cpu().numpy()  # type: ignore[union-attr]
    array = np.asarray(density, dtype=np.float64)
    if array.ndim not in (3, 4) or 0 in array.shape:
        raise GSTError(f"density must be (L, h, w) or (B, L, h, w), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise GSTError("density contains NaN or infinite values")
    return array


def _window(channel: np.ndarray, peak: tuple[int, int], radius: int) -> np.ndarray:
    """Return the zero-padded (2r+1)^2 window of non-negative values centred on ``peak``."""
    padded = np.pad(np.clip(channel, 0.0, None), radius)
    row, col = peak
    return padded[row : row + 2 * radius + 1, col : col + 2 * radius + 1]


def _centroid_offset(window: np.ndarray, radius: int) -> np.ndarray:
    """Return the (row, col) mass centroid of ``window`` relative to its centre cell."""
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    total = window.sum()
    return np.array([offsets @ window.sum(axis=1), offsets @ window.sum(axis=0)]) / total


def _quadratic_offset(channel: np.ndarray, peak: tuple[int, int]) -> np.ndarray:
    """Return the vertex of a parabola through the log density at peak-1, peak, peak+1 per axis."""
    # Floor at a tiny fraction of the peak so that zero neighbours give a finite, steep log.
    floor = channel[peak] * 1e-6
    offset = np.zeros(2)
    for axis in (0, 1):
        position = peak[axis]
        if position == 0 or position == channel.shape[axis] - 1:
            continue  # one-sided at the border: keep the cell centre on this axis
        before, after = list(peak), list(peak)
        before[axis] -= 1
        after[axis] += 1
        low, mid, high = np.log(
            np.maximum([channel[tuple(before)], channel[peak], channel[tuple(after)]], floor)
        )
        curvature = low - 2.0 * mid + high
        if curvature < 0:
            offset[axis] = np.clip(0.5 * (low - high) / curvature, -0.5, 0.5)
    return offset
