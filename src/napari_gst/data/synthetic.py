"""Synthetic fluorescence-like cell images with exact ground-truth centres (the built-in sample)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .._validation import as_shape
from ..errors import GSTError
from .annotations import AnnotatedImage

# Cells per 256 x 256 pixels when n_cells is not given: VGG cells images hold 74-317.
_CELLS_PER_TILE = (60, 180)
_TILE_AREA = 256 * 256
# Fraction of the mean radius sum below which two centres are too close: cells may touch
# and overlap, but two annotations on one blob would make the ground truth ambiguous.
_MIN_SEPARATION = 0.55


def make_cells(
    shape: tuple[int, int] = (256, 256),
    n_cells: int | None = None,
    seed: int = 0,
    *,
    radius: tuple[float, float] = (3.0, 6.5),
    elongation: tuple[float, float] = (1.0, 1.8),
    brightness: tuple[float, float] = (0.35, 0.9),
    clustering: float = 0.35,
    background: float = 0.08,
    blur: float = 1.0,
    noise: float = 0.03,
) -> tuple[np.ndarray, np.ndarray]:
    """Return a synthetic fluorescence image of cells and the exact (row, col) cell centres.

    Cells are soft-edged ellipses (radius, elongation, orientation and brightness drawn per
    cell, brighter towards the centre); a ``clustering`` fraction is placed next to an
    existing cell so that some touch or overlap. The image gets an uneven background, an
    optical blur and shot plus read noise. The same arguments always give the same result.

    Parameters
    ----------
    shape : (H, W) of the image.
    n_cells : number of cells; None draws 60..180 per 256 x 256 pixels.
    seed : seed of the random generator.
    radius : (min, max) mean cell radius in pixels.
    elongation : (min, max) ratio of the long to the short axis.
    brightness : (min, max) peak intensity of a cell above the background.
    clustering : fraction of cells placed touching another cell (0..1).
    background : mean background level.
    blur : sigma (pixels) of the Gaussian blur of the optics.
    noise : standard deviation of the read noise; shot noise scales with sqrt(intensity).

    Returns
    -------
    image : (H, W) float32 array in [0, 1].
    points : (N, 2) float64 array of cell centres (row, col), all inside the image.

    Examples
    --------
    >>> image, points = make_cells((128, 128), n_cells=20, seed=1)
    >>> image.shape, points.shape
    ((128, 128), (20, 2))
    """
    height, width = as_shape(shape, "shape")
    _check_ranges(radius=radius, elongation=elongation, brightness=brightness)
    if not 0.0 <= clustering <= 1.0:
        raise GSTError(f"clustering must be in [0, 1], got {clustering}")
    rng = np.random.default_rng(seed)
    if n_cells is None:
        per_tile = rng.integers(_CELLS_PER_TILE[0], _CELLS_PER_TILE[1] + 1)
        n_cells = max(1, round(per_tile * height * width / _TILE_AREA))
    if isinstance(n_cells, bool) or not isinstance(n_cells, (int, np.integer)) or n_cells < 0:
        raise GSTError(f"n_cells must be a non-negative integer or None, got {n_cells!r}")
    radii = rng.uniform(*radius, size=int(n_cells))
    points, radii = _place_cells(rng, (height, width), radii, clustering)
    cells = _render_cells(rng, (height, width), points, radii, elongation, brightness)
    image = _add_background(rng, (height, width), background) + cells
    if blur > 0:
        image = ndimage.gaussian_filter(image, blur, mode="nearest")
    image = image + rng.normal(size=image.shape) * np.sqrt(noise**2 + 0.01 * image.clip(0))
    return np.clip(image, 0.0, 1.0).astype(np.float32), points


def make_cells_dataset(n_images: int, seed: int = 0, **options) -> list[AnnotatedImage]:
    """Return ``n_images`` synthetic images (see :func:`make_cells`) named ``synthetic_000``...

    Each image has its own seed derived from ``seed``, so the list is deterministic and
    the images differ from each other; ``options`` go to :func:`make_cells`.
    """
    if isinstance(n_images, bool) or not isinstance(n_images, (int, np.integer)) or n_images < 0:
        raise GSTError(f"n_images must be a non-negative integer, got {n_images!r}")
    children = np.random.SeedSequence(seed).spawn(int(n_images))
    items = []
    for index, child in enumerate(children):
        image, points = make_cells(seed=int(child.generate_state(1)[0]), **options)
        items.append(AnnotatedImage(image, points, None, f"synthetic_{index:03d}"))
    return items


def _check_ranges(**ranges: tuple[float, float]) -> None:
    """Raise a GSTError naming the first (min, max) range that is not 0 < min <= max."""
    for name, (low, high) in ranges.items():
        if not 0 < low <= high:
            raise GSTError(
                f"{name} must be a range (min, max) with 0 < min <= max, got {(low, high)}"
            )


def _place_cells(
    rng: np.random.Generator, shape: tuple[int, int], radii: np.ndarray, clustering: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return (centres, radii) of the cells that could be placed without coinciding."""
    height, width = shape
    upper = np.array([height - 1.0, width - 1.0])
    centres: list[np.ndarray] = []
    kept: list[float] = []
    for cell_radius in radii:
        for _attempt in range(30):
            if centres and rng.random() < clustering:
                # Touching or slightly overlapping a random neighbour.
                anchor = rng.integers(len(centres))
                angle = rng.uniform(0, 2 * np.pi)
                distance = (cell_radius + kept[anchor]) * rng.uniform(0.7, 1.05)
                centre = centres[anchor] + distance * np.array([np.sin(angle), np.cos(angle)])
            else:
                centre = rng.uniform(0, 1, size=2) * upper
            if np.any(centre < 0) or np.any(centre > upper):
                continue
            if centres:
                gaps = np.linalg.norm(np.asarray(centres) - centre, axis=1)
                if np.any(gaps < _MIN_SEPARATION * (np.asarray(kept) + cell_radius)):
                    continue
            centres.append(centre)
            kept.append(float(cell_radius))
            break
    return np.asarray(centres, dtype=np.float64).reshape(-1, 2), np.asarray(kept)


def _render_cells(
    rng: np.random.Generator,
    shape: tuple[int, int],
    points: np.ndarray,
    radii: np.ndarray,
    elongation: tuple[float, float],
    brightness: tuple[float, float],
) -> np.ndarray:
    """Return the sum of soft elliptical cell profiles, each drawn inside its own window."""
    image = np.zeros(shape, dtype=np.float64)
    ratios = rng.uniform(*elongation, size=len(points))
    angles = rng.uniform(0, np.pi, size=len(points))
    peaks = rng.uniform(*brightness, size=len(points))
    for (row, col), cell_radius, ratio, angle, peak in zip(
        points, radii, ratios, angles, peaks, strict=True
    ):
        major, minor = cell_radius * np.sqrt(ratio), cell_radius / np.sqrt(ratio)
        half = int(np.ceil(major * 1.6)) + 2
        top, left = max(0, int(row) - half), max(0, int(col) - half)
        bottom, right = min(shape[0], int(row) + half + 1), min(shape[1], int(col) + half + 1)
        rows, cols = np.mgrid[top:bottom, left:right]
        along = (rows - row) * np.cos(angle) + (cols - col) * np.sin(angle)
        across = -(rows - row) * np.sin(angle) + (cols - col) * np.cos(angle)
        distance = np.sqrt((along / major) ** 2 + (across / minor) ** 2)
        # Soft edge at distance 1, nucleus-like brighter core.
        profile = (0.75 + 0.25 * np.exp(-2 * distance**2)) / (1 + np.exp((distance - 1) * 8))
        image[top:bottom, left:right] += peak * profile
    return image


def _add_background(rng: np.random.Generator, shape: tuple[int, int], level: float) -> np.ndarray:
    """Return an uneven background: ``level`` modulated by a smooth random field."""
    coarse = rng.uniform(0.5, 1.5, size=(4, 4))
    field = ndimage.zoom(coarse, (shape[0] / 4, shape[1] / 4), order=1, mode="nearest")
    field = field[: shape[0], : shape[1]]
    if field.shape != shape:
        field = np.pad(
            field, [(0, shape[0] - field.shape[0]), (0, shape[1] - field.shape[1])], mode="edge"
        )
    return level * field
