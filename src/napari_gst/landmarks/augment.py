"""Landmark geometry under a training plan, and the channel permutation of a mirror.

The plan itself (rescale, pad, flip, crop) is ``napari_gst.data.augment.SamplePlan``, so
landmark samples see exactly the geometry of counting samples. A mirror changes which side a
landmark is on ("left eye" becomes a right eye), so flips are only allowed with a flip map
that says which landmark each channel becomes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..data.augment import SamplePlan
from ..errors import GSTError
from .landmark_set import LandmarkSet


def flip_permutation(landmark_set: LandmarkSet, flip_map: Mapping[str, str]) -> np.ndarray:
    """Return the (L,) channel permutation of a mirror from pairs of names that swap.

    ``flip_map`` pairs landmarks that swap under a mirror ({"left eye": "right eye"}); the
    reverse direction is implied and unlisted landmarks keep their identity. After a mirror,
    channel i holds what was landmark ``permutation[i]``.

    Examples
    --------
    >>> eyes = LandmarkSet(["left eye", "right eye", "nose"])
    >>> flip_permutation(eyes, {"left eye": "right eye"})
    array([1, 0, 2])
    """
    permutation = np.arange(len(landmark_set))
    for source, target in dict(flip_map).items():
        first, second = landmark_set.index(source), landmark_set.index(target)
        for a, b in ((first, second), (second, first)):
            if permutation[a] not in (a, b):
                raise GSTError(f"flip_map maps {landmark_set.names[a]!r} to two landmarks")
            permutation[a] = b
    return permutation


def landmarks_under_plan(
    landmarks: np.ndarray, plan: SamplePlan, permutation: np.ndarray | None = None
) -> np.ndarray:
    """Return (L, 2) landmarks in the frame of a plan's output (NaN stays NaN).

    Follows ``data.augment.apply_to_image``: rescale (pixel edges stay on pixel edges,
    ``p -> (p + 0.5) * s - 0.5``, as ``build_kernel(scale=s)`` maps points), zero-pad at the
    bottom/right (no move), mirror in the padded frame, crop. After a mirror along columns,
    rows are permuted by ``permutation`` so that channel identities stay right.
    """
    moved = (np.asarray(landmarks, dtype=np.float64) + 0.5) * plan.scale - 0.5
    for axis in plan.flips:
        moved[:, axis] = plan.padded_shape[axis] - 1 - moved[:, axis]
    if plan.crop is not None:
        moved = moved - np.array(plan.crop[:2], dtype=np.float64)
    if 1 in plan.flips and permutation is not None:
        moved = moved[permutation]
    return moved


def inside(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return the (L,) mask of landmarks within the pixel extent of ``shape`` (NaN: False)."""
    with np.errstate(invalid="ignore"):
        return (
            (landmarks[:, 0] >= -0.5)
            & (landmarks[:, 0] <= shape[0] - 0.5)
            & (landmarks[:, 1] >= -0.5)
            & (landmarks[:, 1] <= shape[1] - 0.5)
        )
