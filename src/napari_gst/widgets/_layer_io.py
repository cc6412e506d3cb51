"""Read napari layers into the arrays the core expects, with checks that name the layer."""

from __future__ import annotations

import numpy as np
from napari.layers import Image, Points

from ..errors import GSTError


def spatial_ndim(layer: Image) -> int:
    """Return the number of spatial axes of an Image layer (napari's ``ndim`` skips RGB)."""
    return int(layer.ndim)


def image_array(layer: Image) -> np.ndarray:
    """Return the full-resolution pixels of ``layer`` as a numpy array (RGB last)."""
    data = layer.data[0] if layer.multiscale else layer.data
    return np.asarray(data)


def image_2d(layer: Image) -> np.ndarray:
    """Return a 2D image layer's pixels as (H, W) or (H, W, C); refuse stacks with a message."""
    if spatial_ndim(layer) != 2:
        raise GSTError(
            f"image layer {layer.name!r} has {spatial_ndim(layer)} spatial dimensions; "
            "this needs a single 2D image (grey or RGB)"
        )
    return image_array(layer)


def points_in_image(points_layer: Points, image_layer: Image) -> np.ndarray:
    """Return the points of ``points_layer`` in the pixel frame of ``image_layer``.

    The two layers may have different scale or translate: each point goes through world
    coordinates. The result has one column per spatial axis of the image.

    Raises
    ------
    GSTError
        When the points' dimensionality differs from the image's.
    """
    ndim = spatial_ndim(image_layer)
    if points_layer.ndim != ndim:
        raise GSTError(
            f"points layer {points_layer.name!r} has {points_layer.ndim}D points but image "
            f"layer {image_layer.name!r} is {ndim}D; draw the points on the image's planes"
        )
    points = np.asarray(points_layer.data, dtype=np.float64).reshape(-1, ndim)
    if _same_frame(points_layer, image_layer):
        return points.copy()
    # Per-point public transforms: annotation counts are small enough that clarity wins.
    converted = []
    for point in points:
        world = np.asarray(points_layer.data_to_world(point), dtype=np.float64)
        converted.append(np.asarray(image_layer.world_to_data(world), dtype=np.float64))
    return np.asarray(converted, dtype=np.float64).reshape(-1, ndim)


def _same_frame(points_layer: Points, image_layer: Image) -> bool:
    """Return True when both layers map data to world identically (the usual case)."""
    identity = np.eye(points_layer.ndim + 1)
    return bool(
        np.allclose(points_layer.affine.affine_matrix, identity)
        and np.allclose(image_layer.affine.affine_matrix, identity)
        and np.allclose(points_layer.scale, image_layer.scale)
        and np.allclose(points_layer.translate, image_layer.translate)
        and np.allclose(points_layer.rotate, identity[:-1, :-1])
        and np.allclose(image_layer.rotate, identity[:-1, :-1])
    )


def spatial_geometry(image_layer: Image) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Return the (scale, translate) of the image layer, to give to its overlay layers."""
    scale = tuple(float(v) for v in image_layer.scale)
    translate = tuple(float(v) for v in image_layer.translate)
    return scale, translate
