"""Input checks shared by the core: each raises a ValueError that names the argument and problem."""

from __future__ import annotations

import math

import numpy as np

from .errors import GSTError


def as_image(image: object, name: str = "image") -> np.ndarray:
    """Return ``image`` as a float32 array of shape (H, W, C), scaled to [0, 1].

    Accepts H x W or H x W x C arrays of any real dtype. Integer images are divided by
    their dtype's maximum; float images are min-max scaled when they leave [0, 1].
    """
    array = np.asarray(image)
    if array.dtype == bool:
        array = array.astype(np.float32)
    if not (np.issubdtype(array.dtype, np.number)) or np.iscomplexobj(array):
        raise ValueError(f"{name} must be a real-valued numeric array, got dtype {array.dtype}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(
            f"{name} must be 2D (H, W) or 3D (H, W, C), got shape {tuple(np.shape(image))}"
        )
    if array.shape[0] == 0 or array.shape[1] == 0 or array.shape[2] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        low = min(info.min, 0)
        return ((array.astype(np.float32) - low) / float(info.max - low)).astype(np.float32)
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        span = high - low
        array = (array - low) / span if span > 0 else np.zeros_like(array)
    return array


def as_points(
    points: object, shape: tuple[int, int] | None = None, name: str = "points"
) -> np.ndarray:
    """Return ``points`` as a float64 (N, 2) array of (row, col); check they lie inside ``shape``.

    A point may sit anywhere in the closed pixel extent [-0.5, H - 0.5] x [-0.5, W - 0.5]
    (napari's pixel-centre convention). Zero points is valid.
    """
    array = np.asarray(points, dtype=np.float64) if points is not None else np.zeros((0, 2))
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2) as (row, col), got {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(array), axis=1))[0])
        raise ValueError(f"{name} contains NaN or infinite coordinates (first at index {bad})")
    if shape is not None:
        height, width = shape
        outside = (
            (array[:, 0] < -0.5)
            | (array[:, 0] > height - 0.5)
            | (array[:, 1] < -0.5)
            | (array[:, 1] > width - 0.5)
        )
        if np.any(outside):
            index = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"{int(outside.sum())} of {len(array)} {name} lie outside the image of shape "
                f"{height} x {width} (first: index {index} at row {array[index, 0]:.1f}, "
                f"col {array[index, 1]:.1f})"
            )
    return array


def as_stride(stride: object, name: str = "stride") -> int:
    """Return ``stride`` as a positive int, or raise a ValueError naming it."""
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)):
        if isinstance(stride, float) and float(stride).is_integer():
            stride = int(stride)
        else:
            raise ValueError(f"{name} must be a positive integer, got {stride!r}")
    if int(stride) < 1:
        raise ValueError(f"{name} must be a positive integer, got {stride}")
    return int(stride)


def as_shape(shape: object, name: str = "shape") -> tuple[int, int]:
    """Return an image shape as (H, W) ints (extra trailing channel dims are ignored)."""
    try:
        dims = tuple(int(d) for d in shape)  # type: ignore[union-attr]
    except TypeError as error:
        raise ValueError(f"{name} must be a sequence (H, W), got {shape!r}") from error
    if len(dims) < 2:
        raise ValueError(f"{name} must be (H, W), got {shape!r}")
    height, width = dims[0], dims[1]
    if height < 1 or width < 1:
        raise ValueError(f"{name} must be positive, got {height} x {width}")
    return height, width


def as_sigma_range(sigma_range: object, name: str = "sigma_range") -> tuple[float, float]:
    """Return a (min, max) scale range in pixels as floats with 0 < min <= max, or raise.

    ``name`` is the setting named in the GSTError (the kernel's clamp, the landmark schedule's
    wide and tight ranges).
    """
    try:
        low, high = (float(value) for value in sigma_range)  # type: ignore[union-attr]
    except (TypeError, ValueError) as error:
        raise GSTError(f"{name} must be (min, max) in pixels, got {sigma_range!r}") from error
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise GSTError(f"{name} must satisfy 0 < min <= max, got {sigma_range!r}")
    return low, high
