"""Training geometry for landmark samples: random rescale, stride-aligned crop, optional mirror.

A mirror changes which side a landmark is on ("left eye" becomes a right eye), so a flip is
only allowed with a flip map that says which landmark each channel becomes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from skimage.transform import resize

from ..errors import GSTError
from .landmark_set import LandmarkSet


@dataclass(frozen=True)
class View:
    """One random view of an image: rescale, then crop, then (maybe) mirror left-right.

    Attributes
    ----------
    scale : rescale factor of the image before cropping.
    scaled_shape : (H, W) of the rescaled image (round(H * scale), round(W * scale)).
    box : (top, left, height, width) of the crop in the rescaled image, stride-aligned.
    flip : mirror the crop along columns.
    """

    scale: float
    scaled_shape: tuple[int, int]
    box: tuple[int, int, int, int]
    flip: bool


def flip_permutation(landmark_set: LandmarkSet, flip_map: Mapping[str, str]) -> np.ndarray:
    """Return the (L,) channel permutation of a left-right mirror from pairs of names.

    ``flip_map`` pairs landmarks that swap under a mirror ({"left eye": "right eye"}); the
    reverse direction is implied and unlisted landmarks keep their identity. After a mirror,
    channel i holds what was landmark ``permutation[i]``.
    """
    permutation = np.arange(len(landmark_set))
    for source, target in dict(flip_map).items():
        first, second = landmark_set.index(source), landmark_set.index(target)
        for a, b in ((first, second), (second, first)):
            if permutation[a] not in (a, b):
                raise GSTError(f"flip_map maps {landmark_set.names[a]!r} to two landmarks")
            permutation[a] = b
    return permutation


def draw_view(
    rng: np.random.Generator,
    shape: tuple[int, int],
    stride: int,
    crop_size: int | None,
    scale_range: tuple[float, float],
    flip: bool,
) -> View:
    """Return a random :class:`View` whose crop sides are multiples of ``stride``.

    Crop sides are ``crop_size`` (or the whole image) rounded down to the stride, and crop
    corners lie on the stride grid, so kernels crop and mirror by exact row selection.
    """
    scale = float(rng.uniform(*scale_range)) if scale_range[0] != scale_range[1] else scale_range[0]
    scaled = (max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale)))
    box = []
    for extent in scaled:
        wanted = extent if crop_size is None else min(crop_size, extent)
        side = (wanted // stride) * stride
        if side < stride:
            raise GSTError(
                f"image of shape {shape} rescaled by {scale:.2f} is smaller than one "
                f"density cell (stride {stride})"
            )
        box.append((side, int(rng.integers(0, (extent - side) // stride + 1)) * stride))
    (height, top), (width, left) = box
    return View(scale, scaled, (top, left, height, width), bool(flip and rng.random() < 0.5))


def apply_to_image(image: np.ndarray, view: View) -> np.ndarray:
    """Return the (h, w, C) float32 crop of an (H, W, C) image under ``view``."""
    if view.scale != 1.0:
        image = resize(
            image,
            (*view.scaled_shape, image.shape[2]),
            order=1,
            anti_aliasing=view.scale < 1.0,
            preserve_range=True,
        )
    top, left, height, width = view.box
    crop = image[top : top + height, left : left + width]
    if view.flip:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop, dtype=np.float32)


def apply_to_landmarks(
    landmarks: np.ndarray, view: View, image_shape: tuple[int, int], permutation: np.ndarray | None
) -> np.ndarray:
    """Return the (L, 2) landmarks in the crop's frame (NaN stays NaN; rows permuted on flip).

    Positions follow the resize convention of ``napari_gst.transport.build_kernel``: pixel
    edges map to pixel edges, ``p -> (p + 0.5) * s - 0.5`` with the per-axis factor s.
    """
    factors = np.asarray(view.scaled_shape, dtype=np.float64) / np.asarray(image_shape)
    moved = (landmarks + 0.5) * factors - 0.5
    top, left, _, width = view.box
    moved = moved - np.array([top, left], dtype=np.float64)
    if view.flip:
        moved[:, 1] = width - 1 - moved[:, 1]
        if permutation is not None:
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
