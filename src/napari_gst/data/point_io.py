"""Read point annotations from CSV tables, dot-annotation images and ShanghaiTech ``.mat`` files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._validation import as_points, as_shape
from ..errors import GSTError
from .annotations import PointSet
from .image_io import IMAGE_SUFFIXES, read_image
from .points_csv import read_points_csv

POINT_SUFFIXES = (".csv", ".mat", *IMAGE_SUFFIXES)
# Field names of point arrays in .mat files: ShanghaiTech nests ``location`` inside
# ``image_info``; UCF-QNRF and NWPU-Crowd store ``annPoints``. All hold (x, y).
_MAT_FIELDS = ("location", "annPoints")
_OUTSIDE_POLICIES = ("error", "clip", "drop")


def read_points(
    path: str | Path,
    image_shape: tuple[int, int] | None = None,
    *,
    outside: str = "error",
    leading_axes: str = "error",
) -> PointSet:
    """Return the annotation points stored in ``path`` as a :class:`PointSet`.

    The format follows the file suffix:

    - ``.csv``: columns ``y,x``, ``row,col`` or napari's ``axis-0,axis-1``, optional ``label``.
    - an image (``.png``, ``.tif``, ...): a dot-annotation image; every non-zero pixel (in any
      channel) is one point at that pixel's centre.
    - ``.mat``: ShanghaiTech ``image_info`` -> ``location`` (x, y), or ``annPoints`` (x, y)
      as in UCF-QNRF / NWPU; x is the column and y the row.

    Parameters
    ----------
    path : str or Path
        The annotation file.
    image_shape : (H, W), optional
        Shape of the annotated image; points are checked against it, and a dot image
        must have this shape.
    outside : {"error", "clip", "drop"}
        What to do with points outside ``image_shape`` (the pixel extent
        [-0.5, H - 0.5] x [-0.5, W - 0.5]): raise, move them onto the border, or drop them.
    leading_axes : {"error", "drop"}
        For napari CSV exports of 3D+ layers: refuse, or keep only the last two axes.

    Returns
    -------
    PointSet
        (N, 2) float64 (row, col) points and labels (CSV ``label`` column) or None.

    Raises
    ------
    GSTError
        Unknown suffix, unreadable file, wrong columns, shape mismatch or points outside
        the image; the message names the file.
    """
    path = Path(path)
    if outside not in _OUTSIDE_POLICIES:
        raise GSTError(f"outside must be one of {_OUTSIDE_POLICIES}, got {outside!r}")
    shape = as_shape(image_shape, "image_shape") if image_shape is not None else None
    if not path.is_file():
        raise GSTError(f"point file {path} does not exist")
    suffix = path.suffix.lower()
    labels = None
    if suffix == ".csv":
        points, labels = read_points_csv(path, leading_axes=leading_axes)
    elif suffix == ".mat":
        points = read_points_mat(path)
    elif suffix in IMAGE_SUFFIXES:
        points = read_points_dots(path, shape)
    else:
        raise GSTError(
            f"cannot read points from {path}: unknown suffix {path.suffix!r} "
            f"(expected one of {', '.join(POINT_SUFFIXES)})"
        )
    points, labels = _check_inside(points, labels, shape, path, outside)
    return PointSet(points=points, labels=labels)


def read_points_dots(path: str | Path, image_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Return one (row, col) point per non-zero pixel of a dot-annotation image."""
    path = Path(path)
    dots = read_image(path)
    if image_shape is not None and dots.shape[:2] != tuple(image_shape):
        raise GSTError(
            f"dot annotation {path} is {dots.shape[0]} x {dots.shape[1]} pixels but the image "
            f"is {image_shape[0]} x {image_shape[1]}"
        )
    marked = dots != 0 if dots.ndim == 2 else np.any(dots != 0, axis=-1)
    return np.argwhere(marked).astype(np.float64)


def read_points_mat(path: str | Path) -> np.ndarray:
    """Return (row, col) points from a ShanghaiTech / UCF-QNRF / NWPU ``.mat`` file."""
    import scipy.io

    path = Path(path)
    try:
        contents = scipy.io.loadmat(path)
    except Exception as error:  # scipy raises several types for corrupt files
        raise GSTError(f"cannot read .mat file {path}: {error}") from error
    for key in ("image_info", *_MAT_FIELDS):
        if key in contents:
            xy = _find_field(contents[key], key)
            if xy is not None:
                break
    else:
        keys = [key for key in contents if not key.startswith("__")]
        raise GSTError(
            f"{path} has no point array (looked for image_info/location and annPoints; "
            f"found {', '.join(keys) or 'nothing'})"
        )
    xy = np.asarray(xy, dtype=np.float64)
    if xy.size == 0:
        return np.zeros((0, 2), dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] < 2:
        raise GSTError(f"{path}: point array has shape {xy.shape}, expected (N, 2) as (x, y)")
    return np.ascontiguousarray(xy[:, [1, 0]])


def _find_field(value: object, key: str) -> np.ndarray | None:
    """Return the numeric point array inside MATLAB cell/struct nesting, or None."""
    if key in _MAT_FIELDS and isinstance(value, np.ndarray) and value.dtype != object:
        if value.dtype.names is None:
            return value
    if isinstance(value, np.ndarray):
        if value.dtype.names is not None:
            for name in _MAT_FIELDS:
                if name in value.dtype.names:
                    return _find_field(value.reshape(-1)[0][name], name)
            return None
        if value.dtype == object:
            for element in value.reshape(-1):
                found = _find_field(element, key)
                if found is not None:
                    return found
    return None


def _check_inside(
    points: np.ndarray,
    labels: np.ndarray | None,
    shape: tuple[int, int] | None,
    path: Path,
    outside: str,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return the points (and labels) after applying the ``outside`` policy."""
    try:
        points = as_points(points, None, name=f"points in {path}")
    except ValueError as error:
        raise GSTError(str(error)) from error
    if shape is None or len(points) == 0:
        return points, labels
    height, width = shape
    low = np.array([-0.5, -0.5])
    high = np.array([height - 0.5, width - 0.5])
    inside = np.all((points >= low) & (points <= high), axis=1)
    if outside == "clip":
        return np.clip(points, low, high), labels
    if outside == "drop":
        return points[inside], labels[inside] if labels is not None else None
    try:
        as_points(points, shape, name=f"points in {path}")
    except ValueError as error:
        raise GSTError(str(error)) from error
    return points, labels
