"""LandmarkGSTLoss: GST's loss for one-point-per-channel kernels, as dense per-channel weights.

For a kernel with one point, K has two columns, the point's weights w (one per cell) and the
background 1 - w (rows sum to 1), so ``K^T zeta = [<w, zeta>, sum(zeta) - <w, zeta>]`` and

    L_c = | <w_c, zeta_c> - mass_c | + | sum(zeta_c) - <w_c, zeta_c> |

(a kernel with no point: L_c = |sum(zeta_c)|). This equals ``napari_gst.losses.GSTLoss`` on
the same per-channel kernels (tested), but evaluates all B x L channels in one batched tensor
expression instead of 2 B L sparse mat-vecs: torch's CPU sparse CSR ``mv`` costs about 15 ms
a call even for a 2 x 144 matrix, which made 7 landmarks x 4 images cost a second per step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import GSTError


def point_weights(
    kernels: Sequence[object], grid_shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Return (L, h, w) float32 point-column weights and (L,) target masses of L kernels.

    A kernel with no point gives zero weights and mass 0 (all its mass is background).
    """
    weights = np.zeros((len(kernels), *grid_shape), dtype=np.float32)
    masses = np.zeros(len(kernels), dtype=np.float32)
    for channel, kernel in enumerate(kernels):
        if tuple(kernel.grid_shape) != tuple(grid_shape):
            raise GSTError(
                f"kernel of channel {channel} has grid {tuple(kernel.grid_shape)}, but the "
                f"density is {tuple(grid_shape)}"
            )
        if kernel.n_points > 1:
            raise GSTError(
                f"kernel of channel {channel} has {kernel.n_points} points; a landmark channel "
                "has at most one (use napari_gst.losses.GSTLoss for counting kernels)"
            )
        if kernel.n_points == 1:
            weights[channel] = kernel.matrix[:, [0]].toarray().reshape(grid_shape)
            masses[channel] = kernel.mass[0]
    return weights, masses


class LandmarkGSTLoss(nn.Module):
    """GST loss of an L-channel density against per-landmark one-point kernels.

    Called like every loss of ``napari_gst.losses``: ``loss(density, targets)`` with
    ``density`` (B, L, h, w) and ``targets`` B sequences of L TransportKernels (what
    :class:`napari_gst.landmarks.dataset.LandmarkDataset` yields for ``target="gst"``).
    Returns the sum over images and channels divided by B, as ``GSTLoss`` does.
    """

    needs_kernel = True

    def forward(self, density: torch.Tensor, targets: Sequence[Sequence[object]]) -> torch.Tensor:
        """Return the batch-mean GST loss (see the module docstring for the formula)."""
        if density.ndim != 4 or len(targets) != density.shape[0]:
            raise GSTError(
                f"density must be (B, L, h, w) with one kernel sequence per image; got shape "
                f"{tuple(density.shape)} and {len(targets)} targets"
            )
        grid = tuple(density.shape[-2:])
        weights, masses = [], []
        for index, kernels in enumerate(targets):
            if isinstance(kernels, (str, bytes)) or len(kernels) != density.shape[1]:
                raise GSTError(
                    f"target {index} must hold one kernel per channel ({density.shape[1]})"
                )
            image_weights, image_masses = point_weights(kernels, grid)
            weights.append(image_weights)
            masses.append(image_masses)
        weights_t = torch.from_numpy(np.stack(weights)).to(density)
        masses_t = torch.from_numpy(np.stack(masses)).to(density)
        to_point = (weights_t * density).sum(dim=(-2, -1))
        to_background = density.sum(dim=(-2, -1)) - to_point
        return ((to_point - masses_t).abs() + to_background.abs()).sum() / density.shape[0]
