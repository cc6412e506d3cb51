"""BayesianLoss: Ma et al., "Bayesian Loss for Crowd Count Estimation with Point Supervision"."""

from __future__ import annotations

import torch

from ..errors import GSTError
from ._common import (
    PerImageLoss,
    centres_tensor,
    points_tensor,
    squared_distances,
)


class BayesianLoss(PerImageLoss):
    """Bayesian loss (Ma, Wei, Hong, Gong, ICCV 2019), as in the authors' released code.

    Each cell's density is shared among the annotations by the posterior of isotropic
    Gaussians (``sigma`` = 8 px) with a background "dummy point" at distance
    ``(d - sqrt(min_i dist^2))^2`` where ``d = background_ratio * min(H, W)`` of the (cropped)
    image; the expected count of every annotation is compared with its mass by L1, the
    background's with 0. The dense N x P posterior is rebuilt at every call (that is what
    the method costs). An image without annotations contributes ``|sum(zeta_d)|``.
    Returns the sum over the batch divided by B.
    """

    needs_kernel = False

    def __init__(
        self, sigma: float = 8.0, *, background_ratio: float = 0.15, background: bool = True
    ) -> None:
        super().__init__()
        if not sigma > 0 or not background_ratio > 0:
            raise GSTError(
                f"sigma and background_ratio must be positive, got {sigma!r}, {background_ratio!r}"
            )
        self.sigma = float(sigma)
        self.background_ratio = float(background_ratio)
        self.background = bool(background)

    def posterior(self, target: object, like: torch.Tensor) -> torch.Tensor:
        """Return the dense (N [+1], P) posterior of the cells over a target's points."""
        grid = (like.shape[-2], like.shape[-1])
        rows, cols = centres_tensor(grid, int(target.stride), like)  # type: ignore[attr-defined]
        points, _ = points_tensor(target, like)
        distances = squared_distances(points, rows, cols)
        if self.background:
            nearest = torch.clamp(distances.min(dim=0, keepdim=True).values, min=0.0)
            reach = min(target.image_shape) * self.background_ratio  # type: ignore[attr-defined]
            distances = torch.cat([distances, (reach - torch.sqrt(nearest)) ** 2], dim=0)
        return torch.softmax(-distances / (2.0 * self.sigma**2), dim=0)

    def image_loss(self, density_map: torch.Tensor, target: object) -> torch.Tensor:
        """Return the loss of one (h, w) density map against one target."""
        if len(target.points) == 0:  # type: ignore[attr-defined]
            return density_map.sum().abs()
        _, mass = points_tensor(target, density_map)
        if self.background:
            mass = torch.cat([mass, mass.new_zeros(1)])
        expected = (self.posterior(target, density_map) * density_map.reshape(1, -1)).sum(dim=1)
        return (mass - expected).abs().sum()
