"""Landmark annotations: labelled points -> a per-image (L, 2) array with NaN for missing ones.

Sources: a CSV file with a ``label`` column, and a napari Points layer (``data`` + ``features``).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import GSTError
from .landmark_set import LandmarkSet


def landmarks_from_labels(
    points: object,
    labels: Sequence[object],
    landmark_set: LandmarkSet,
    *,
    source: str = "annotations",
) -> np.ndarray:
    """Return an (L, 2) float64 array of (row, col), one row per landmark, NaN where missing.

    Parameters
    ----------
    points : (N, 2) array
        Point coordinates as (row, col) in image pixels.
    labels : sequence of N labels
        Landmark name or 0-based index of each point.
    landmark_set : LandmarkSet
        The task's landmarks; fixes the row order of the result.
    source : str
        What the points came from (a file name, a layer name), used in error messages.

    Raises
    ------
    GSTError
        On a label not in the set, a landmark given twice, or points/labels of different length.

    Examples
    --------
    >>> hand = LandmarkSet(["wrist", "thumb tip", "index tip"])
    >>> landmarks_from_labels([[10, 20], [30, 40]], ["index tip", "wrist"], hand)
    array([[30., 40.],
           [nan, nan],
           [10., 20.]])
    """
    array = np.asarray(points, dtype=np.float64)
    if array.size == 0:
        array = array.reshape(0, 2)
    if array.ndim != 2 or array.shape[1] != 2:
        raise GSTError(f"{source}: points must have shape (N, 2) as (row, col), got {array.shape}")
    # numpy scalars (from files or layer tables) print as np.str_('x'): use Python values.
    labels = [label.item() if isinstance(label, np.generic) else label for label in labels]
    if len(labels) != len(array):
        raise GSTError(f"{source}: {len(array)} points but {len(labels)} labels")
    landmarks = np.full((len(landmark_set), 2), np.nan)
    seen: dict[int, object] = {}
    for position, (point, label) in enumerate(zip(array, labels, strict=True)):
        try:
            index = landmark_set.index(label)
        except GSTError as error:
            raise GSTError(f"{source}, point {position}: {error}") from error
        if index in seen:
            raise GSTError(
                f"{source}: landmark {landmark_set.names[index]!r} is given twice "
                f"(labels {seen[index]!r} and {label!r}); each image has at most one of each"
            )
        if not np.all(np.isfinite(point)):
            raise GSTError(f"{source}, point {position} ({label!r}): coordinates are not finite")
        seen[index] = label
        landmarks[index] = point
    return landmarks


def landmarks_from_layer(
    data: object,
    features: Mapping[str, object] | object,
    landmark_set: LandmarkSet,
    *,
    column: str = "label",
    source: str = "Points layer",
) -> np.ndarray:
    """Return the (L, 2) landmark array of a napari Points layer's ``data`` and ``features``.

    ``features`` is the layer's table (a pandas DataFrame or any mapping of column -> values);
    only ``features[column]`` is read. Extra dimensions in ``data`` (e.g. a time axis) must be
    sliced off by the caller: this takes (N, 2) points of one 2D image.
    """
    try:
        labels = features[column]  # type: ignore[index]
    except (KeyError, TypeError, IndexError) as error:
        raise GSTError(f"{source}: its features have no {column!r} column") from error
    return landmarks_from_labels(
        data, list(np.asarray(labels, dtype=object)), landmark_set, source=source
    )


def landmarks_to_layer(landmarks: object, landmark_set: LandmarkSet) -> tuple[np.ndarray, dict]:
    """Return ``(data, layer_kwargs)`` to show an (L, 2) landmark array as a napari Points layer.

    Missing (NaN) landmarks are left out; ``layer_kwargs`` holds ``features`` (a ``label``
    column of names) and per-point ``face_color``, so a widget can call
    ``viewer.add_points(data, **layer_kwargs)``.
    """
    array = _as_landmark_array(landmarks, len(landmark_set), "landmarks")
    present = np.flatnonzero(np.all(np.isfinite(array), axis=1))
    kwargs = {
        "features": {"label": [landmark_set.names[i] for i in present]},
        "face_color": landmark_set.rgba()[present],
    }
    return array[present], kwargs


def read_landmark_csv(
    path: str | Path,
    landmark_set: LandmarkSet,
    image_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Return the (L, 2) landmarks of one image from a CSV file with a ``label`` column.

    Coordinates follow :func:`napari_gst.data.read_points` (``axis-0,axis-1`` as napari
    exports, ``y,x`` or ``row,col``); every data row must have as many cells as the header.

    Raises
    ------
    GSTError
        Naming the file (and line or label): a row with the wrong number of columns, no
        ``label`` column, a label not in ``landmark_set``, a landmark given twice.
    """
    from ..data.point_io import read_points  # the one definition of the CSV point format

    path = Path(path)
    _check_column_counts(path)
    point_set = read_points(path, image_shape)
    if point_set.labels is None:
        raise GSTError(f"{path}: no 'label' column; landmark files name each point's landmark")
    return landmarks_from_labels(
        point_set.points, list(point_set.labels), landmark_set, source=str(path)
    )


def _check_column_counts(path: Path) -> None:
    """Raise a GSTError naming line and label where a CSV row and the header differ in length."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            table = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GSTError(f"cannot read landmark file {path}: {error}") from error
    if not table:
        raise GSTError(f"{path}: the file is empty (expected a header row)")
    header = [cell.strip().lower() for cell in table[0]]
    label_at = header.index("label") if "label" in header else None
    for line, row in enumerate(table[1:], start=2):
        if len(row) != len(header):
            label = row[label_at] if label_at is not None and label_at < len(row) else "?"
            raise GSTError(
                f"{path}, line {line} (label {label!r}): {len(row)} columns, "
                f"but the header has {len(header)}"
            )


def write_landmark_csv(path: str | Path, landmarks: object, landmark_set: LandmarkSet) -> Path:
    """Write an (L, 2) landmark array as napari-style CSV (``index,axis-0,axis-1,label``).

    Missing landmarks are left out; :func:`read_landmark_csv` reads the file back.
    """
    data, kwargs = landmarks_to_layer(landmarks, landmark_set)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "axis-0", "axis-1", "label"])
        for index, (point, label) in enumerate(zip(data, kwargs["features"]["label"], strict=True)):
            writer.writerow([index, repr(float(point[0])), repr(float(point[1])), label])
    return path


def _as_landmark_array(landmarks: object, count: int, name: str) -> np.ndarray:
    """Return ``landmarks`` as an (L, 2) float64 array, NaN allowed, or raise naming it."""
    array = np.asarray(landmarks, dtype=np.float64)
    if array.shape != (count, 2):
        raise GSTError(
            f"{name} must have shape ({count}, 2) (one row per landmark), got {array.shape}"
        )
    return array
