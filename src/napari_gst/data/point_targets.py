"""Point targets (no kernel) with the same rescale/pad/flip/crop/transpose as the sample's image."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .augment import SamplePlan, scaled_shape


def point_target(
    points: np.ndarray, shape: tuple[int, int], stride: int, plan: SamplePlan
) -> object:
    """Return a ``losses.PointTarget`` for the points of an image after the sample ``plan``.

    A crop keeps the points inside it whole (there is no Gaussian to split a point's mass).
    """
    from ..losses import PointTarget

    target = PointTarget(np.asarray(points, dtype=np.float64).reshape(-1, 2), shape, stride)
    if plan.scale != 1.0:
        target = target.scale(plan.scale, scaled_shape(shape, plan.scale))
    # Padding at the bottom/right moves no point: only the frame grows.
    target = replace(target, image_shape=plan.padded_shape)
    for axis in plan.flips:
        target = target.flip(axis)
    if plan.crop is not None:
        target = target.crop(*plan.crop)
    if plan.transpose:
        target = target.transposed()
    return target
