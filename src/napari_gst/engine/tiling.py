"""Density inference on whole images, directly or in overlapping tiles blended without seams."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from ..errors import GSTError


def model_stride(model: nn.Module) -> int:
    """Return the density stride a network declares (``model.stride``)."""
    stride = getattr(model, "stride", None)
    if not isinstance(stride, int) or stride < 1:
        raise GSTError("the model must declare its density stride as an int attribute `stride`")
    return stride


def input_multiple(model: nn.Module) -> int:
    """Return the size inputs are padded to a multiple of (``model.input_multiple`` or stride)."""
    multiple = getattr(model, "input_multiple", None)
    stride = model_stride(model)
    if not isinstance(multiple, int) or multiple < 1:
        multiple = stride
    return math.lcm(multiple, stride)


def _round_up(value: int, multiple: int) -> int:
    """Return the smallest multiple of ``multiple`` that is >= ``value``."""
    return -(-value // multiple) * multiple


@torch.no_grad()
def infer_density(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """Return the (C_out, h, w) density of one (C, H, W) image, h = ceil(H / stride).

    The image is zero-padded at the bottom and right to the network's input multiple, and the
    cells that only cover padding are cut off again.
    """
    stride, multiple = model_stride(model), input_multiple(model)
    height, width = image.shape[-2:]
    padded = functional.pad(
        image[None],
        (0, _round_up(width, multiple) - width, 0, _round_up(height, multiple) - height),
    )
    density = model(padded)[0]
    return density[:, : -(-height // stride), : -(-width // stride)]


def _ramp(length: int, fade: int, fade_start: bool, fade_end: bool) -> torch.Tensor:
    """Return 1-D blend weights: 1 inside, 0 at faded ends, rising linearly over ``fade`` cells.

    The outer quarter of the fade gets weight 0: cells near a tile edge see padding instead of
    image within their receptive field, so they are left to the neighbouring tile.
    """
    weights = torch.ones(length, dtype=torch.float64)
    if fade > 0:
        margin = fade // 4
        rise = (torch.arange(fade, dtype=torch.float64) + 0.5 - margin) / (fade - 2 * margin)
        rise = rise.clamp(0.0, 1.0)
        if fade_start:
            weights[:fade] = torch.minimum(weights[:fade], rise)
        if fade_end:
            weights[-fade:] = torch.minimum(weights[-fade:], rise.flip(0))
    return weights


def _tile_starts(extent: int, tile: int, step: int) -> list[int]:
    """Return tile origins covering [0, extent): every ``step``, the last one flush with the end."""
    if extent <= tile:
        return [0]
    starts = list(range(0, extent - tile, step))
    return [*starts, extent - tile]


@torch.no_grad()
def infer_density_tiled(
    model: nn.Module, image: torch.Tensor, tile_size: int, overlap: int
) -> torch.Tensor:
    """Return the (C_out, h, w) density of a (C, H, W) image computed tile by tile.

    Tiles of ``tile_size`` pixels overlap by ``overlap`` pixels (both rounded to the network's
    input multiple); in the overlap, each tile's density fades linearly into its neighbour's, so
    the blend is a convex combination per cell and counts are kept. With an overlap wider than
    the network's receptive field the result equals untiled inference up to float rounding.
    """
    stride, multiple = model_stride(model), input_multiple(model)
    tile = max(multiple, tile_size // multiple * multiple)
    overlap = min(_round_up(max(overlap, 0), multiple), tile - multiple)
    height, width = image.shape[-2:]
    if height <= tile and width <= tile:
        return infer_density(model, image)
    # Pad once to the input multiple so every tile origin is a multiple of it (and of the
    # stride): tiles then map onto whole density cells.
    padded_height, padded_width = _round_up(height, multiple), _round_up(width, multiple)
    image = functional.pad(image, (0, padded_width - width, 0, padded_height - height))
    grid = (padded_height // stride, padded_width // stride)
    total = torch.zeros(grid, dtype=torch.float64, device=image.device)[None]
    weight_sum = torch.zeros(grid, dtype=torch.float64, device=image.device)
    fade = overlap // stride
    for top in _tile_starts(padded_height, tile, tile - overlap):
        for left in _tile_starts(padded_width, tile, tile - overlap):
            piece = model(image[None, :, top : top + tile, left : left + tile])[0].double()
            rows, cols = piece.shape[-2:]
            weights = torch.outer(
                _ramp(rows, fade, top > 0, top + tile < padded_height),
                _ramp(cols, fade, left > 0, left + tile < padded_width),
            ).to(image.device)
            if total.shape[0] != piece.shape[0]:
                total = total.expand(piece.shape[0], *grid).clone()
            cells = (
                slice(top // stride, top // stride + rows),
                slice(left // stride, left // stride + cols),
            )
            total[(slice(None), *cells)] += piece * weights
            weight_sum[cells] += weights
    total = total[:, : -(-height // stride), : -(-width // stride)]
    weight_sum = weight_sum[: -(-height // stride), : -(-width // stride)]
    return (total / weight_sum).to(image.dtype)


def as_image_tensor(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """Return an (H, W, C) float array as a (C, H, W) float32 tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().to(device)
