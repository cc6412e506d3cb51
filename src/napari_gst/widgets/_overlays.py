"""Pure-numpy conversions from core results to napari layer data (no Qt, testable alone)."""

from __future__ import annotations

import colorsys

import numpy as np

# The golden-ratio hue step spreads any number of colours so that neighbours in index
# order (which are often neighbours in space) never get similar hues.
_GOLDEN = 0.618033988749895


def annotation_colours(count: int, seed_hue: float = 0.1) -> np.ndarray:
    """Return ``count`` distinct, saturated RGB colours in [0, 1] as a (count, 3) array.

    Parameters
    ----------
    count : int
        Number of annotations to colour.
    seed_hue : float
        Hue of the first colour, in [0, 1).

    Examples
    --------
    >>> annotation_colours(3).shape
    (3, 3)
    """
    hues = (seed_hue + _GOLDEN * np.arange(count)) % 1.0
    # Alternate value slightly so that hues that end up close still differ in lightness.
    values = np.where(np.arange(count) % 2 == 0, 1.0, 0.8)
    rgb = [colorsys.hsv_to_rgb(h, 0.85, v) for h, v in zip(hues, values, strict=True)]
    return np.asarray(rgb, dtype=np.float32).reshape(count, 3)


def ellipse_corners(
    points: np.ndarray, sigmas: np.ndarray, angles: np.ndarray, n_sigma: float = 2.0
) -> np.ndarray:
    """Return the (N, 4, 2) corners of each Gaussian's ``n_sigma`` ellipse's bounding box.

    napari draws an ellipse from the four corners of its (possibly rotated) bounding
    rectangle, so a rotated Gaussian needs no extra rotation parameter. Coordinates are
    (row, col) in image pixels, following ``GaussianFit``'s convention: ``sigmas[:, 0]``
    lies along (cos angle, sin angle).

    Parameters
    ----------
    points : (N, 2) array
        Gaussian centres (row, col).
    sigmas : (N, 2) array
        Standard deviations along the two principal axes, in pixels.
    angles : (N,) array
        Rotation of the first axis, in radians.
    n_sigma : float
        Half-axis length in standard deviations (2 encloses about 86% of the mass).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    sigmas = np.asarray(sigmas, dtype=np.float64).reshape(-1, 2)
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    cos, sin = np.cos(angles), np.sin(angles)
    major = np.stack([cos, sin], axis=1) * (n_sigma * sigmas[:, :1])
    minor = np.stack([-sin, cos], axis=1) * (n_sigma * sigmas[:, 1:])
    # Corners in order around the rectangle, as napari expects.
    return np.stack(
        [
            points - major - minor,
            points - major + minor,
            points + major + minor,
            points + major - minor,
        ],
        axis=1,
    )


def correspondence_rgba(
    index: np.ndarray, strength: np.ndarray, grid_shape: tuple[int, int], colours: np.ndarray
) -> np.ndarray:
    """Return the paper's Fig. 5 correspondence picture as an (h, w, 4) float32 RGBA map.

    Each cell takes the colour of the annotation that receives most of its mass; its
    opacity is that transport strength, so over a dark image brightness equals strength.
    Cells that go to the background (index -1) are fully transparent.

    Parameters
    ----------
    index : (P,) int array
        Per cell, the annotation receiving most of its mass, or -1 for background.
    strength : (P,) float array
        Per cell, the share of its mass that goes to that annotation, in [0, 1].
    grid_shape : (h, w)
        Shape of the density grid (P = h * w, row-major).
    colours : (N, 3) array
        One RGB colour per annotation (see :func:`annotation_colours`).
    """
    height, width = int(grid_shape[0]), int(grid_shape[1])
    index = np.asarray(index).reshape(-1)
    strength = np.asarray(strength, dtype=np.float32).reshape(-1)
    if index.size != height * width or strength.size != index.size:
        raise ValueError(
            f"index and strength must have {height * width} cells for grid {grid_shape}, "
            f"got {index.size} and {strength.size}"
        )
    rgba = np.zeros((index.size, 4), dtype=np.float32)
    assigned = index >= 0
    if np.any(assigned):
        rgba[assigned, :3] = np.asarray(colours, dtype=np.float32)[index[assigned]]
        rgba[assigned, 3] = np.clip(strength[assigned], 0.0, 1.0)
    return rgba.reshape(height, width, 4)


def stride_geometry(
    scale: tuple[float, ...], translate: tuple[float, ...], stride: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Return (scale, translate) that align a stride-``stride`` grid with an image layer.

    Grid cell (r, c) covers image pixels [r*s, (r+1)*s); napari places a data point at
    pixel centres, so the cell's centre sits at pixel r*s + (s-1)/2. Only the last two
    (spatial) axes change; leading axes (e.g. planes of a stack) keep the image's values.

    Examples
    --------
    >>> stride_geometry((1.0, 1.0), (0.0, 0.0), 8)
    ((8.0, 8.0), (3.5, 3.5))
    """
    scale = tuple(float(v) for v in scale)
    translate = tuple(float(v) for v in translate)
    grid_scale = scale[:-2] + tuple(v * stride for v in scale[-2:])
    grid_translate = translate[:-2] + tuple(
        t + v * (stride - 1) / 2.0 for t, v in zip(translate[-2:], scale[-2:], strict=True)
    )
    return grid_scale, grid_translate
