"""Extend a transport kernel to an image padded at the bottom/right (padding is background)."""

from __future__ import annotations

from dataclasses import replace

from ..transport import TransportKernel
from ..transport.crop import pad_grid_rows
from ..transport.geometry import grid_shape_for


def pad_kernel(kernel: TransportKernel, shape: tuple[int, int]) -> TransportKernel:
    """Return the kernel of the image zero-padded at the bottom/right to ``shape``.

    Cells of the original grid keep their rows exactly (padding at the far edges does not
    move any cell). Cells that exist only in the padding are sent wholly to the background
    column: there is nothing to count in zero padding, so density there is penalised.

    Parameters
    ----------
    kernel : TransportKernel
        Built for the unpadded (possibly rescaled) image.
    shape : (H, W)
        The padded image's shape, at least ``kernel.image_shape``.
    """
    height, width = shape
    if height < kernel.image_shape[0] or width < kernel.image_shape[1]:
        raise ValueError(f"shape {shape} is smaller than the kernel's image {kernel.image_shape}")
    grid = grid_shape_for((height, width), kernel.stride)
    if grid == tuple(kernel.grid_shape):
        return replace(kernel, image_shape=(height, width))
    padded = pad_grid_rows(kernel.matrix, kernel.grid_shape, grid)
    return replace(
        kernel, matrix=padded, grid_shape=grid, image_shape=(height, width), _torch_cache={}
    )
