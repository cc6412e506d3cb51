"""resize_region: a window of an image resized by a factor, without resizing the whole image.

Training crops of a rescaled image only need the crop's pixels. This computes them as two
small matrix products (rows, then columns) whose weights are exactly those of torch's
``F.interpolate(mode="bilinear", align_corners=False, recompute_scale_factor=False)`` with
``antialias`` when shrinking, so a crop of the resized image equals the resized crop.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def resize_weights(in_size: int, scale: float, start: int, stop: int) -> tuple[np.ndarray, int]:
    """Return (weights (stop - start, n), first input index) for output pixels start..stop-1.

    Output pixel i samples the input around ``(i + 0.5) / scale - 0.5`` (pixel edges map to
    pixel edges). Enlarging (``scale >= 1``) interpolates its two neighbours, clamped at the
    image edge; shrinking averages the input under a triangle ``1 / scale`` pixels wide,
    normalised over the pixels inside the image (torch's and PIL's antialiased bilinear).
    """
    outputs = np.arange(start, stop, dtype=np.float64)
    if scale >= 1.0:
        source = np.maximum((outputs + 0.5) / scale - 0.5, 0.0)
        low = np.floor(source).astype(np.int64)
        fraction = source - low
        high = np.minimum(low + 1, in_size - 1)
        low = np.minimum(low, in_size - 1)
        first = int(low.min()) if len(low) else 0
        last = int(high.max()) if len(high) else 0
        weights = np.zeros((len(outputs), last - first + 1))
        rows = np.arange(len(outputs))
        np.add.at(weights, (rows, low - first), 1.0 - fraction)
        np.add.at(weights, (rows, high - first), fraction)
        return weights, first
    ratio = 1.0 / scale
    support = ratio  # interp_size 2 * 0.5 * ratio
    centre = ratio * (outputs + 0.5)
    low = np.maximum((centre - support + 0.5).astype(np.int64), 0)
    high = np.minimum((centre + support + 0.5).astype(np.int64), in_size)
    first, last = int(low.min()), int(high.max())
    inputs = np.arange(first, last, dtype=np.float64)
    distance = np.abs((inputs[None, :] - centre[:, None] + 0.5) * scale)
    weights = np.clip(1.0 - distance, 0.0, None)
    inside = (inputs[None, :] >= low[:, None]) & (inputs[None, :] < high[:, None])
    weights *= inside
    weights /= weights.sum(axis=1, keepdims=True)
    return weights, first


def resize_region(
    image: torch.Tensor, scale: float, rows: tuple[int, int], cols: tuple[int, int]
) -> torch.Tensor:
    """Return rows[0]:rows[1], cols[0]:cols[1] of the (C, H, W) ``image`` resized by ``scale``.

    The window must lie inside the resized image, whose shape is ``floor(H * scale)`` by
    ``floor(W * scale)``.
    """
    _, height, width = image.shape
    if not (0 <= rows[0] <= rows[1] <= math.floor(height * scale)) or not (
        0 <= cols[0] <= cols[1] <= math.floor(width * scale)
    ):
        raise ValueError(f"window {rows} x {cols} leaves the image resized by {scale}")
    if rows[0] == rows[1] or cols[0] == cols[1]:
        return image.new_zeros((image.shape[0], rows[1] - rows[0], cols[1] - cols[0]))
    row_weights, row_first = resize_weights(height, scale, *rows)
    col_weights, col_first = resize_weights(width, scale, *cols)
    row_stop, col_stop = row_first + row_weights.shape[1], col_first + col_weights.shape[1]
    region = image[:, row_first:row_stop, col_first:col_stop]
    row_w = torch.from_numpy(row_weights.astype(np.float32))
    col_w = torch.from_numpy(col_weights.astype(np.float32))
    return row_w @ region.float() @ col_w.T
