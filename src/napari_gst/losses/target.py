"""PointTarget: annotation points with their geometry, for losses that need no Gaussian fit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import as_points, as_shape, as_stride
from ..errors import GSTError
from ..transport.crop import check_box
from ..transport.geometry import grid_shape_for


@dataclass(frozen=True, eq=False)
class PointTarget:
    """The points of one image (or crop) and the density stride they are compared at.

    It carries what the baseline losses read from a target (``points``, ``mass``,
    ``image_shape``, ``stride``), like :class:`napari_gst.transport.TransportKernel` does, and
    follows the same crops, flips and rescales, so a dataset can serve either.

    Attributes
    ----------
    points : (N, 2) float64 (row, col) in image pixels, inside the image.
    image_shape : (H, W) of the image or crop.
    stride : density stride in pixels.
    mass : (N,) float64 target mass per point (default 1 each).

    Examples
    --------
    >>> target = PointTarget([[10.0, 12.0], [40.5, 3.0]], (64, 64), stride=8)
    >>> target.grid_shape
    (8, 8)
    >>> target.crop(0, 0, 32, 32).n_points
    1
    """

    points: np.ndarray
    image_shape: tuple[int, int]
    stride: int
    mass: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        shape = as_shape(self.image_shape, "image_shape")
        points = as_points(self.points, shape)
        mass = np.ones(len(points)) if self.mass is None else np.asarray(self.mass, np.float64)
        if mass.shape != (len(points),) or not np.all(np.isfinite(mass)) or np.any(mass < 0):
            raise GSTError(
                f"mass must hold one finite non-negative value per point ({len(points)}), "
                f"got shape {mass.shape}"
            )
        object.__setattr__(self, "image_shape", shape)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "stride", as_stride(self.stride))
        object.__setattr__(self, "mass", mass)

    @property
    def n_points(self) -> int:
        """Number of points N."""
        return int(len(self.points))

    @property
    def grid_shape(self) -> tuple[int, int]:
        """Shape (ceil(H / stride), ceil(W / stride)) of the density map."""
        return grid_shape_for(self.image_shape, self.stride)

    def target(self) -> np.ndarray:
        """Return the (N + 1,) float32 target mass: each point's mass, then 0 for background."""
        return np.append(self.mass, 0.0).astype(np.float32)

    def crop(self, top: int, left: int, height: int, width: int) -> PointTarget:
        """Return the points inside the pixel box, in its frame (box aligned as for kernels).

        Without a Gaussian there is no fraction to keep: a point is kept whole when it lies in
        the box's pixel extent and dropped otherwise.
        """
        top, left, height, width = check_box(
            (top, left, height, width), self.image_shape, self.stride
        )
        moved = self.points - np.array([top, left], dtype=np.float64)
        inside = np.all((moved >= -0.5) & (moved < np.array([height, width]) - 0.5), axis=1)
        return PointTarget(moved[inside], (height, width), self.stride, self.mass[inside])

    def flip(self, axis: int) -> PointTarget:
        """Return the target of the image mirrored along ``axis`` (0: rows, 1: columns)."""
        if axis not in (0, 1):
            raise GSTError(f"flip axis must be 0 (rows) or 1 (columns), got {axis!r}")
        extent = self.image_shape[axis]
        if extent % self.stride:
            raise GSTError(
                f"cannot flip along axis {axis}: the image extent ({extent}) is not a multiple "
                f"of the stride ({self.stride}); crop or pad it to a multiple first"
            )
        points = self.points.copy()
        points[:, axis] = extent - 1 - points[:, axis]
        return PointTarget(points, self.image_shape, self.stride, self.mass)

    def transposed(self) -> PointTarget:
        """Return the target of the image with rows and columns swapped (a diagonal mirror)."""
        return PointTarget(
            self.points[:, ::-1].copy(), self.image_shape[::-1], self.stride, self.mass
        )

    def scale(self, factor: float, shape: tuple[int, int] | None = None) -> PointTarget:
        """Return the target of the image resized by ``factor`` to ``shape``.

        Points map as ``(p + 0.5) * factor - 0.5`` (pixel edges onto pixel edges, as
        build_kernel's ``scale``); ``shape`` defaults to ``round(H * factor), round(W * factor)``.
        """
        factor = float(factor)
        if not np.isfinite(factor) or factor <= 0:
            raise GSTError(f"scale factor must be a positive number, got {factor!r}")
        if shape is None:
            shape = tuple(max(1, round(extent * factor)) for extent in self.image_shape)
        shape = as_shape(shape, "shape")
        moved = (self.points + 0.5) * factor - 0.5
        moved = np.clip(moved, -0.5, np.array(shape, dtype=np.float64) - 0.5)
        return PointTarget(moved, shape, self.stride, self.mass)
