"""npe2 reader hook: point annotations from CSV tables and dot-annotation images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .data.point_io import read_points
from .errors import GSTError

LayerData = tuple[object, dict, str]

# Dot images are claimed by name (``001dots.png``, ``img_dots.tif``) so ordinary images
# keep opening with napari's own reader.
_DOT_SUFFIXES = (".png", ".tif", ".tiff", ".bmp")


def _is_dot_image(path: Path) -> bool:
    """Return True for file names that follow the dot-annotation convention."""
    return path.suffix.lower() in _DOT_SUFFIXES and path.stem.lower().endswith("dots")


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """Return a reader for ``path`` when it is a point CSV or a dot image, else None.

    The file is parsed here, so napari falls back to another reader (returns None) when a
    CSV turns out not to hold point columns.
    """
    if isinstance(path, list):
        if len(path) != 1:
            return None
        path = path[0]
    file = Path(path)
    if file.suffix.lower() != ".csv" and not _is_dot_image(file):
        return None
    try:
        point_set = read_points(file)
    except GSTError:
        return None
    return lambda _path: [_points_layer_data(file, point_set)]


def _points_layer_data(file: Path, point_set) -> LayerData:
    """Return napari layer data for the points read from ``file``."""
    metadata = {"source_file": str(file), "count": len(point_set)}
    kwargs: dict = {"name": file.stem, "metadata": metadata, "size": 6, "face_color": "yellow"}
    if point_set.labels is not None:
        kwargs["features"] = {"label": point_set.labels}
    return point_set.points, kwargs, "points"
