"""npe2 writer hook: a Points layer as a napari-compatible CSV (``index,axis-0,axis-1``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data.points_csv import write_points_csv
from .errors import GSTError


def write_points(path: str, data: object, attributes: dict) -> list[str]:
    """Write a 2D Points layer's ``data`` (and its ``label`` feature) to ``path``; return [path].

    Raises
    ------
    GSTError
        For points with more than two axes (e.g. detections on a stack): the GST CSV holds
        (row, col) only; napari's own CSV writer keeps all axes.
    """
    points = np.asarray(data, dtype=np.float64)
    if points.ndim != 2 or (len(points) and points.shape[1] != 2):
        raise GSTError(
            f"the GST points writer saves 2D (row, col) points; layer "
            f"{attributes.get('name', '')!r} has points of shape {points.shape}"
        )
    features = attributes.get("features")
    labels = None
    if features is not None and "label" in features:
        labels = np.asarray(features["label"])
    target = Path(path)
    if target.suffix.lower() != ".csv":
        target = target.with_suffix(".csv")
    return [str(write_points_csv(target, points.reshape(-1, 2), labels))]
