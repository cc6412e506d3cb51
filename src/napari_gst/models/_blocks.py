"""Building blocks shared by the density networks: padding, conv blocks, non-negative heads."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GSTError

ACTIVATIONS = ("softplus", "relu")
NORMS = ("group", "batch", "none")


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """Return ``image`` (B, C, H, W) zero-padded at the bottom/right to a multiple of ``multiple``.

    Padding only at the far edges keeps the density geometry: cell (r, c) still covers
    pixels [r*s, (r+1)*s) x [c*s, (c+1)*s) of the unpadded image.
    """
    height, width = image.shape[-2:]
    extra_rows, extra_cols = (-height) % multiple, (-width) % multiple
    if extra_rows == 0 and extra_cols == 0:
        return image
    return F.pad(image, (0, extra_cols, 0, extra_rows))


def density_grid(shape: tuple[int, int], stride: int) -> tuple[int, int]:
    """Return (ceil(H / stride), ceil(W / stride)), the density map's shape for an H x W image."""
    return math.ceil(shape[0] / stride), math.ceil(shape[1] / stride)


def check_input(image: torch.Tensor, in_channels: int) -> None:
    """Raise a GSTError unless ``image`` is a (B, in_channels, H, W) floating tensor."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise GSTError(f"image must be a (B, C, H, W) tensor, got {shape}")
    if image.shape[1] != in_channels:
        raise GSTError(f"image has {image.shape[1]} channels but the network expects {in_channels}")
    if not image.is_floating_point():
        raise GSTError(f"image must be a floating-point tensor, got {image.dtype}")


def make_activation(name: str) -> nn.Module:
    """Return the non-negative output activation called ``name`` ("softplus" or "relu")."""
    if name == "softplus":
        return nn.Softplus()
    if name == "relu":
        return nn.ReLU()
    raise GSTError(f"activation must be one of {ACTIVATIONS}, got {name!r}")


OUTPUT_GAIN = "output_gain"
"""Name of the scalar buffer every density network multiplies its output by (see below)."""
EDGE_GAIN = "edge_gain"
"""Name of the scalar buffer prediction multiplies a whole image's outermost cells by."""
GAIN_BUFFERS = (OUTPUT_GAIN, EDGE_GAIN)


def register_output_gain(module: nn.Module) -> None:
    """Give ``module`` scalar ``output_gain`` and ``edge_gain`` buffers (1), saved with it.

    Counting models are calibrated after training (``napari_gst.engine.calibration``): a
    gain that makes the training images' predicted totals equal their annotated totals. The
    output gain lives in the network's forward, so every prediction path (CLI, widgets,
    tiling, a bare module) applies it; the edge gain applies to the ring of density cells
    along a whole image's edge, so ``engine.prediction`` applies it after tiling and views.
    Training keeps both at 1.
    """
    module.register_buffer(OUTPUT_GAIN, torch.ones(()))
    module.register_buffer(EDGE_GAIN, torch.ones(()))


def with_missing_gains(model: nn.Module, tensors: dict) -> dict:
    """Return ``tensors`` with the gain buffers ``model`` has and they lack set to 1.

    Weights saved before a gain existed (no calibration, no edge gain) load uncalibrated.
    """
    state = model.state_dict()
    missing = {name: torch.ones(()) for name in GAIN_BUFFERS if name in state}
    return {**missing, **tensors}


def make_norm(name: str, channels: int) -> nn.Module:
    """Return a normalisation layer: GroupNorm (8 groups or fewer), BatchNorm or identity."""
    if name == "group":
        return nn.GroupNorm(math.gcd(8, channels), channels)
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "none":
        return nn.Identity()
    raise GSTError(f"norm must be one of {NORMS}, got {name!r}")


class ConvBlock(nn.Sequential):
    """Two 3x3 convolutions, each followed by a normalisation and a ReLU."""

    def __init__(self, in_channels: int, out_channels: int, norm: str = "group") -> None:
        bias = norm == "none"
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias),
            make_norm(norm, out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=bias),
            make_norm(norm, out_channels),
            nn.ReLU(inplace=True),
        )
