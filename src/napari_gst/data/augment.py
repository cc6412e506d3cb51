"""Sample geometry for training: a random rescale/flip/crop/transpose plan and its image ops."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GSTError
from .resize import resize_region


@dataclass(frozen=True)
class SamplePlan:
    """What one sample does to its image: rescale, pad, flip, crop, transpose (in that order).

    ``padded_shape`` is the rescaled image padded at the bottom/right to a multiple of the
    stride and at least to the crop; ``flips`` the image axes mirrored (0: rows, 1:
    columns); ``crop`` is (top, left, height, width) in the padded image, or None;
    ``transpose`` swaps the rows and columns of the result (with the flips, all 8
    symmetries of a square).
    """

    scale: float
    padded_shape: tuple[int, int]
    flips: tuple[int, ...]
    crop: tuple[int, int, int, int] | None
    transpose: bool = False


def as_crop_size(crop_size: object, stride: int) -> tuple[int, int] | None:
    """Return ``crop_size`` (int or (h, w)) as a pair of stride multiples, or None."""
    if crop_size is None:
        return None
    sizes = (crop_size, crop_size) if isinstance(crop_size, (int, np.integer)) else crop_size
    try:
        height, width = (int(size) for size in sizes)  # type: ignore[union-attr]
    except (TypeError, ValueError) as error:
        raise GSTError(f"crop_size must be an int or (height, width), got {crop_size!r}") from error
    if height < 1 or width < 1 or height % stride or width % stride:
        raise GSTError(
            f"crop_size must be positive multiples of the stride ({stride}), got {crop_size!r}"
        )
    return height, width


def as_scale_range(scale_range: object) -> tuple[float, float]:
    """Return ``scale_range`` as (low, high) with 0 < low <= high."""
    try:
        low, high = (float(value) for value in scale_range)  # type: ignore[union-attr]
    except (TypeError, ValueError) as error:
        raise GSTError(f"scale_range must be (low, high), got {scale_range!r}") from error
    if not (0 < low <= high and math.isfinite(high)):
        raise GSTError(f"scale_range must satisfy 0 < low <= high, got {scale_range!r}")
    return low, high


def scaled_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """Return the shape of an image resized by ``scale`` (floor, as torch's interpolate)."""
    return max(1, math.floor(shape[0] * scale)), max(1, math.floor(shape[1] * scale))


def padded_to_stride(shape: tuple[int, int], stride: int, minimum=(0, 0)) -> tuple[int, int]:
    """Return ``shape`` rounded up to stride multiples and to at least ``minimum``."""
    return tuple(
        max(math.ceil(size / stride) * stride, low)
        for size, low in zip(shape, minimum, strict=True)
    )


def random_plan(
    rng: np.random.Generator,
    shape: tuple[int, int],
    stride: int,
    crop_size: tuple[int, int] | None,
    scale_range: tuple[float, float],
    flip_axes: tuple[int, ...],
    transpose: bool = False,
) -> SamplePlan:
    """Return a random plan: scale in ``scale_range``, stride-aligned crop, each axis of
    ``flip_axes`` mirrored with probability 1/2, and with ``transpose`` rows and columns
    swapped with probability 1/2 (drawn last, so plans without it are unchanged)."""
    low, high = scale_range
    scale = float(rng.uniform(low, high)) if high > low else low
    rescaled = scaled_shape(shape, scale)
    padded = padded_to_stride(rescaled, stride, crop_size or (0, 0))
    crop = None
    if crop_size is not None:
        top = stride * int(rng.integers(0, (padded[0] - crop_size[0]) // stride + 1))
        left = stride * int(rng.integers(0, (padded[1] - crop_size[1]) // stride + 1))
        crop = (top, left, *crop_size)
    flips = tuple(axis for axis in flip_axes if rng.random() < 0.5)
    swap = bool(transpose) and bool(rng.random() < 0.5)
    return SamplePlan(scale, padded, flips, crop, swap)


def eval_plan(shape: tuple[int, int], stride: int) -> SamplePlan:
    """Return the evaluation plan: the whole image, padded to a multiple of the stride."""
    return SamplePlan(1.0, padded_to_stride(shape, stride), (), None)


def unflipped_box(plan: SamplePlan) -> tuple[int, int, int, int]:
    """Return the plan's crop box in the padded image before its flips (the same pixels)."""
    if plan.crop is None:
        raise GSTError("the sample plan has no crop")
    top, left, height, width = plan.crop
    if 0 in plan.flips:
        top = plan.padded_shape[0] - top - height
    if 1 in plan.flips:
        left = plan.padded_shape[1] - left - width
    return top, left, height, width


def apply_to_image(image: torch.Tensor, plan: SamplePlan) -> torch.Tensor:
    """Return the (C, h, w) image after the plan's rescale, zero padding, flip, crop, transpose.

    The rescale keeps pixel edges on pixel edges (``align_corners=False`` with the exact
    factor), the convention ``build_kernel(..., scale=s)`` uses for the points; shrinking is
    antialiased. With a crop, only the crop's pixels are computed (``resize_region``): the
    box is taken from the unflipped image, zero filled where it reaches into the
    bottom/right padding, and flipped, which is the same as rescaling, padding, flipping
    and cropping the whole image.
    """
    if plan.crop is None:
        if plan.scale != 1.0:
            image = F.interpolate(
                image[None],
                scale_factor=plan.scale,
                mode="bilinear",
                recompute_scale_factor=False,
                antialias=plan.scale < 1.0,  # avoid aliasing the texture when shrinking
                align_corners=False,
            )[0]
        extra_rows = plan.padded_shape[0] - image.shape[1]
        extra_cols = plan.padded_shape[1] - image.shape[2]
    else:
        top, left, height, width = unflipped_box(plan)
        rescaled = scaled_shape(tuple(image.shape[1:]), plan.scale)
        rows = (min(top, rescaled[0]), min(top + height, rescaled[0]))
        cols = (min(left, rescaled[1]), min(left + width, rescaled[1]))
        if plan.scale != 1.0:
            image = resize_region(image, plan.scale, rows, cols)
        else:
            image = image[:, rows[0] : rows[1], cols[0] : cols[1]]
        extra_rows, extra_cols = height - image.shape[1], width - image.shape[2]
    if extra_rows or extra_cols:
        image = F.pad(image, (0, extra_cols, 0, extra_rows))
    if plan.flips:
        image = torch.flip(image, dims=tuple(axis + 1 for axis in plan.flips))
    if plan.transpose:
        image = image.transpose(1, 2)
    return image.contiguous()
