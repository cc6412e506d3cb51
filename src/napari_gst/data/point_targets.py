"""Point targets (no kernel) with the same rescale/pad/flip/crop as the sample's image."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .augment import SamplePlan


def point_target(
    points: np.ndarray, shape: tuple[int, int], stride: int, plan: SamplePlan
) -> object:
    """Return a ``losses.PointTarget`` for the points of an image after the sample ``plan``."""
    from ..losses import PointTarget

    target = PointTarget(
        points=np.asarray(points, dtype=np.float64).reshape(-1, 2),
        mass=np.ones(len(points)),
        image_shape=tuple(shape),
        stride=stride,
    )
    if plan.scale != 1.0:
        target = target.scale(plan.scale)
    target = replace(target, image_shape=plan.padded_shape)
    for axis in plan.flips:
        target = target.flip(axis)
    if plan.crop is not None:
        target = target.crop(*plan.crop)
    return target
