"""Extend a transport kernel to an image padded at the bottom/right (padding is background)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from ..transport import TransportKernel


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
    stride = kernel.stride
    grid = (-(-height // stride), -(-width // stride))
    if grid == tuple(kernel.grid_shape):
        return replace(kernel, image_shape=(height, width))
    old_rows, old_cols = kernel.grid_shape
    matrix = kernel.matrix.tocoo()
    cell_row, cell_col = np.divmod(matrix.row, old_cols)
    new_row = cell_row * grid[1] + cell_col
    # Background rows for every new cell (those outside the old grid).
    rows, cols = np.mgrid[: grid[0], : grid[1]]
    outside = ((rows >= old_rows) | (cols >= old_cols)).ravel()
    background_rows = np.flatnonzero(outside)
    n_columns = matrix.shape[1]
    padded = sp.csr_array(
        (
            np.concatenate([matrix.data, np.ones(len(background_rows), dtype=matrix.data.dtype)]),
            (
                np.concatenate([new_row, background_rows]),
                np.concatenate([matrix.col, np.full(len(background_rows), n_columns - 1)]),
            ),
        ),
        shape=(grid[0] * grid[1], n_columns),
    )
    padded.sort_indices()
    return replace(
        kernel, matrix=padded, grid_shape=grid, image_shape=(height, width), _torch_cache={}
    )
