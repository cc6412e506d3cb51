"""Plain containers for annotations: a point set, and an image with its points."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PointSet:
    """Annotation points of one image, as napari's Points layer stores them.

    Attributes
    ----------
    points : (N, 2) float64 array of (row, col) in image pixels, pixel centres at integers.
    labels : (N,) array of per-point labels (int64 when all labels are integers, else str),
        or None when the file has no labels.
    """

    points: np.ndarray
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        """Return the number of points."""
        return int(len(self.points))


@dataclass(frozen=True)
class AnnotatedImage:
    """An image with its annotation points, ready for a dataset.

    Attributes
    ----------
    image : (H, W) or (H, W, C) array, as read (not normalised).
    points : (N, 2) float64 array of (row, col) in image pixels.
    labels : (N,) array of labels, or None.
    name : identifier shown to the user (the image file's stem for datasets on disk).
    """

    image: np.ndarray
    points: np.ndarray
    labels: np.ndarray | None
    name: str

    @property
    def shape(self) -> tuple[int, int]:
        """Return the image's (H, W)."""
        return int(self.image.shape[0]), int(self.image.shape[1])

    @property
    def count(self) -> int:
        """Return the number of annotated points."""
        return int(len(self.points))
