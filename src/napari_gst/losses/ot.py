"""OTLoss: DM-Count (Wang, Liu, Samaras, Nguyen, "Distribution Matching for Crowd Counting")."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import GSTError
from ._common import (
    PerImageLoss,
    centres_tensor,
    points_tensor,
    squared_distances,
)

_EPS = 1e-16  # DM-Count's M_EPS in its Sinkhorn-Knopp iterations


def sinkhorn_dual(
    source: torch.Tensor, target: torch.Tensor, cost: torch.Tensor, reg: float, iterations: int
) -> torch.Tensor:
    """Return the dual potential beta (P,) of entropic OT from ``source`` (N,) to ``target`` (P,).

    Sinkhorn-Knopp as DM-Count's ``bregman_pytorch.sinkhorn_knopp``: multiplicative updates on
    ``exp(-cost / reg)``, an error check every 10 iterations (stop below 1e-9), and a fall
    back to the previous iterate on NaN/inf; ``beta = reg * log(v + eps)``.
    """
    gibbs = torch.exp(-cost / reg)
    u = torch.full_like(source, 1.0 / len(source))
    v = torch.full_like(target, 1.0 / len(target))
    for iteration in range(1, iterations + 1):
        previous = (u, v)
        v = target / (u @ gibbs + _EPS)
        u = source / (gibbs @ v + _EPS)
        if not (torch.isfinite(u).all() and torch.isfinite(v).all()):
            u, v = previous
            break
        if iteration % 10 == 0 and float(((target - (u @ gibbs) * v) ** 2).sum()) <= 1e-9:
            break
    return reg * torch.log(v + _EPS)


def dot_map(target: object, like: torch.Tensor) -> torch.Tensor:
    """Return the (h, w) map of point masses summed per cell (DM-Count's ``gt_discrete``)."""
    grid = (like.shape[-2], like.shape[-1])
    stride = int(target.stride)  # type: ignore[attr-defined]
    points = np.asarray(target.points, dtype=np.float64).reshape(-1, 2)  # type: ignore[attr-defined]
    cells = np.floor((points + 0.5) / stride).astype(np.int64)
    cells = np.clip(cells, 0, np.array(grid) - 1)
    counts = np.zeros(grid[0] * grid[1])
    np.add.at(counts, cells[:, 0] * grid[1] + cells[:, 1], np.asarray(target.mass, np.float64))  # type: ignore[attr-defined]
    return torch.as_tensor(counts.reshape(grid), dtype=like.dtype, device=like.device)


class OTLoss(PerImageLoss):
    """DM-Count loss (Wang et al., NeurIPS 2020), as in the authors' released code.

    Per image: ``ot_weight * OT + count_weight * |sum(zeta) - n| + tv_weight * n * TV`` with
    n the target mass. OT: entropic optimal transport (Sinkhorn, ``reg`` 10, ``iterations``
    100, squared pixel distances) between the points (uniform) and the normalised density;
    as in DM-Count its value is ``<zeta, g>`` with the detached gradient
    ``g = beta / count - <zeta, beta> / count^2`` (beta the Sinkhorn dual), so backward gives
    the OT gradient, not the OT distance. TV: L1 between the normalised density and the
    normalised dot map. Weights are DM-Count's defaults (``--wot 0.1``, count 1, ``--wtv
    0.01``). Dense N x P cost and Gibbs matrices at every call. Returns the batch mean.
    """

    needs_kernel = False

    def __init__(
        self,
        *,
        reg: float = 10.0,
        iterations: int = 100,
        ot_weight: float = 0.1,
        count_weight: float = 1.0,
        tv_weight: float = 0.01,
    ) -> None:
        super().__init__()
        if not reg > 0 or int(iterations) < 1:
            raise GSTError(f"reg must be > 0 and iterations >= 1, got {reg!r}, {iterations!r}")
        if min(ot_weight, count_weight, tv_weight) < 0:
            raise GSTError("ot_weight, count_weight and tv_weight must be non-negative")
        self.reg, self.iterations = float(reg), int(iterations)
        self.ot_weight, self.count_weight, self.tv_weight = ot_weight, count_weight, tv_weight

    def ot_term(self, density_map: torch.Tensor, target: object) -> torch.Tensor:
        """Return DM-Count's OT surrogate <zeta, g> (g detached) for one map; 0 without points."""
        if len(target.points) == 0:  # type: ignore[attr-defined]
            return density_map.new_zeros(())
        flat = density_map.reshape(-1)
        detached = flat.detach()
        count = detached.sum()
        normed = detached / (count + 1e-6)
        points, mass = points_tensor(target, density_map)
        rows, cols = centres_tensor(density_map.shape, int(target.stride), density_map)  # type: ignore[attr-defined]
        cost = squared_distances(points, rows, cols)
        beta = sinkhorn_dual(mass / mass.sum(), normed, cost, self.reg, self.iterations)
        gradient = (count / (count * count + 1e-8)) * beta - (detached * beta).sum() / (
            count * count + 1e-8
        )
        return (flat * gradient.detach()).sum()

    def image_loss(self, density_map: torch.Tensor, target: object) -> torch.Tensor:
        """Return the weighted OT + count + TV loss of one (h, w) map against one target."""
        n = float(np.sum(target.mass))  # type: ignore[attr-defined]
        count = density_map.sum()
        normed = density_map / (count + 1e-6)
        dots = dot_map(target, density_map) / (n + 1e-6)
        loss = self.count_weight * (count - n).abs()
        loss = loss + self.tv_weight * (normed - dots).abs().sum() * n
        if self.ot_weight:
            loss = loss + self.ot_weight * self.ot_term(density_map, target)
        return loss
