"""The fitting problem at one resolution: the image crop around the region, its mask, a renderer.

The fit may first run on a copy reduced by an integer ``factor`` (f x f block means): the
parameters stay in full-resolution pixels and are converted when rendering, so a coarse stage
hands its result straight to a full-resolution stage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .rendering import Renderer


@dataclass
class FitProblem:
    """What the optimiser sees at one resolution.

    Attributes
    ----------
    image : (h, w, C) crop of the (possibly reduced) image.
    mask : (h, w, 1) weight of each pixel in the loss: 1 inside the region, 0 outside
        (fractions at reduced resolution, where a block straddles the region's edge).
    renderer : draws the Gaussians on the crop, means already in the crop's frame.
    factor : reduction factor (1 = full resolution).
    """

    image: torch.Tensor
    mask: torch.Tensor
    renderer: Renderer
    factor: int

    def render(self, sigmas: torch.Tensor, angles: torch.Tensor, colours: torch.Tensor):
        """Return the (h, w, C) render of Gaussians given in full-resolution pixels.

        At reduced resolution the Gaussians are widened by the variance of the f x f block
        mean, (f^2 - 1) / (12 f^2) coarse px^2 per axis, and dimmed to keep their mass, so
        that the coarse optimum matches the full-resolution one (it did not without this:
        scales came out too large by about that variance).
        """
        if self.factor == 1:
            return self.renderer(sigmas, angles, colours)
        scaled = sigmas / self.factor
        blur = (self.factor**2 - 1) / (12.0 * self.factor**2)
        widened = torch.sqrt(scaled * scaled + blur)
        dimming = (scaled.prod(dim=-1) / widened.prod(dim=-1))[:, None]
        return self.renderer(widened, angles, colours * dimming)

    def l1(self, rendered: torch.Tensor) -> torch.Tensor:
        """Return the mean absolute error over the region (all channels)."""
        count = self.mask.sum() * self.image.shape[2]
        return ((rendered - self.image).abs() * self.mask).sum() / count

    def psnr(self, rendered: torch.Tensor) -> float:
        """Return the PSNR (dB, peak 1) of the render clipped to [0, 1] over the region."""
        count = self.mask.sum() * self.image.shape[2]
        error = float((((rendered.clamp(0.0, 1.0) - self.image) ** 2) * self.mask).sum() / count)
        return float("inf") if error == 0.0 else -10.0 * math.log10(error)


def _block_mean(array: np.ndarray, factor: int) -> np.ndarray:
    """Return the (h/f, w/f, ...) means of f x f blocks (h and w multiples of f)."""
    if factor == 1:
        return array
    height, width = array.shape[0] // factor, array.shape[1] // factor
    blocks = array.reshape(height, factor, width, factor, *array.shape[2:])
    return blocks.mean(axis=(1, 3))


def build_problem(
    pixels: np.ndarray,
    points: np.ndarray,
    region: np.ndarray,
    *,
    backend: str,
    device: torch.device,
    factor: int = 1,
) -> FitProblem:
    """Return the :class:`FitProblem` for ``region`` (H, W bool) at reduction ``factor``.

    The crop is the region's bounding box (one spare pixel, for border points that round
    outward), grown to multiples of ``factor``; pixels past the image edge are zero with
    zero weight.
    """
    rows, cols = np.nonzero(region)
    top = max(int(rows.min()) - 1, 0) // factor * factor
    left = max(int(cols.min()) - 1, 0) // factor * factor
    bottom = top + math.ceil((min(int(rows.max()) + 2, pixels.shape[0]) - top) / factor) * factor
    right = left + math.ceil((min(int(cols.max()) + 2, pixels.shape[1]) - left) / factor) * factor
    crop = np.zeros((bottom - top, right - left, pixels.shape[2]), dtype=np.float32)
    weight = np.zeros((bottom - top, right - left, 1), dtype=np.float32)
    inside = pixels[top:bottom, left:right]
    crop[: inside.shape[0], : inside.shape[1]] = inside
    weight[: inside.shape[0], : inside.shape[1], 0] = region[top:bottom, left:right]
    # A block's centre sits at (f - 1) / 2 in full-resolution pixels of that block.
    local = (points - np.array([top, left], dtype=np.float64) - (factor - 1) / 2) / factor
    crop, weight = _block_mean(crop, factor), _block_mean(weight, factor)
    return FitProblem(
        image=torch.as_tensor(np.ascontiguousarray(crop), device=device),
        mask=torch.as_tensor(np.ascontiguousarray(weight), device=device),
        renderer=Renderer(torch.as_tensor(local, device=device), crop.shape[:2], backend),
        factor=factor,
    )
