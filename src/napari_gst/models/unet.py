"""A small U-Net that regresses a density map at stride 1, 2, 4 or 8 and trains on a CPU."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GSTError
from ._blocks import (
    ConvBlock,
    check_input,
    density_grid,
    make_activation,
    pad_to_multiple,
    register_output_gain,
)

STRIDES = (1, 2, 4, 8)
INPUT_STRIDES = (1, 2, 4)
# Initial density per cell: softplus(bias) = 0.01 keeps the first predicted counts in the
# range of real ones (tens to hundreds per image) instead of 0.69 per cell, which would
# start training with counts in the thousands.
_INITIAL_DENSITY = 0.01


class UNet(nn.Module):
    """U-Net-style density regressor: encoder to 1/2**depth, decoder back up to 1/stride.

    Parameters
    ----------
    in_channels : image channels.
    out_channels : density channels (1 for counting, L for L landmark types).
    stride : output stride (1, 2, 4 or 8); the decoder stops at that resolution.
    width : channels of the first level; level k has ``width * 2**k`` (capped at 8 x width).
    depth : number of 2x downsamplings (>= log2(stride)); the receptive field grows with it.
    norm : "group" (default; independent of batch size, so batch 1 trains as well as 8),
        "batch" or "none".
    activation : "softplus" (default; never stuck at zero) or "relu".
    input_stride : 1, 2 or 4 (<= stride): the image enters as non-overlapping k x k pixel
        blocks (``pixel_unshuffle``: k^2 times the channels at 1/k of the resolution), so every
        level runs at 1/k of the resolution for about 1/k^2 of the compute. Nothing is thrown
        away (unlike pooling); ``depth`` counts the downsamplings after it.

    Any input size is accepted: the image is zero-padded at the bottom/right to a multiple
    of ``input_stride * 2**depth`` and the output cropped to (ceil(H / stride), ceil(W /
    stride)).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 1,
        *,
        stride: int = 4,
        width: int = 16,
        depth: int = 4,
        norm: str = "group",
        activation: str = "softplus",
        input_stride: int = 1,
    ) -> None:
        super().__init__()
        _check_options(stride, width, depth, input_stride)
        self.in_channels, self.out_channels, self.stride, self.depth = (
            in_channels,
            out_channels,
            stride,
            depth,
        )
        self.input_stride = input_stride
        channels = [min(width * 2**level, 8 * width) for level in range(depth + 1)]
        self.encoder = nn.ModuleList(
            [ConvBlock(in_channels * input_stride**2, channels[0], norm)]
            + [ConvBlock(channels[k - 1], channels[k], norm) for k in range(1, depth + 1)]
        )
        out_level = int(math.log2(stride // input_stride))
        # Decoder level k merges the upsampled level k+1 with the encoder's skip at level k.
        self.reduce = nn.ModuleList(
            [nn.Conv2d(channels[k + 1], channels[k], 1) for k in range(out_level, depth)]
        )
        self.decoder = nn.ModuleList(
            [ConvBlock(2 * channels[k], channels[k], norm) for k in range(out_level, depth)]
        )
        self.head = nn.Conv2d(channels[out_level], out_channels, 1)
        # The same first density under either activation (a negative bias would kill a ReLU).
        initial_bias = (
            math.log(math.expm1(_INITIAL_DENSITY)) if activation == "softplus" else _INITIAL_DENSITY
        )
        nn.init.constant_(self.head.bias, initial_bias)
        self.activation = make_activation(activation)
        register_output_gain(self)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Return the non-negative density (B, out_channels, ceil(H/stride), ceil(W/stride))."""
        check_input(image, self.in_channels)
        grid = density_grid(tuple(image.shape[-2:]), self.stride)
        features = pad_to_multiple(image, self.input_stride * 2**self.depth)
        if self.input_stride > 1:
            features = F.pixel_unshuffle(features, self.input_stride)
        skips = []
        for level, block in enumerate(self.encoder):
            if level > 0:
                features = F.max_pool2d(features, 2)
            features = block(features)
            skips.append(features)
        out_level = self.depth - len(self.decoder)
        for index in reversed(range(len(self.decoder))):
            level = out_level + index
            features = F.interpolate(features, scale_factor=2.0, mode="bilinear")
            features = torch.cat([self.reduce[index](features), skips[level]], dim=1)
            features = self.decoder[index](features)
        density = self.activation(self.head(features)) * self.output_gain
        return density[..., : grid[0], : grid[1]]


def _check_options(stride: int, width: int, depth: int, input_stride: int) -> None:
    """Raise a GSTError naming the first invalid U-Net option."""
    if stride not in STRIDES:
        raise GSTError(f"stride for 'unet' must be one of {STRIDES}, got {stride!r}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise GSTError(f"width must be a positive integer, got {width!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise GSTError(f"depth must be a positive integer, got {depth!r}")
    if input_stride not in INPUT_STRIDES or isinstance(input_stride, bool):
        raise GSTError(f"input_stride must be one of {INPUT_STRIDES}, got {input_stride!r}")
    if input_stride > stride:
        raise GSTError(
            f"input_stride ({input_stride}) must not exceed the output stride ({stride})"
        )
    if input_stride * 2**depth < stride:
        raise GSTError(
            f"depth must be at least log2(stride / input_stride) = "
            f"{int(math.log2(stride // input_stride))}, got {depth}"
        )
