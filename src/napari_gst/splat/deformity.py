"""Deformity elimination (DE): keep fitted Gaussians from turning into long thin streaks.

Two parts (method.md section 1): a hinge penalty on the anisotropy during the fit, and a
post-fit step that makes every Gaussian still more elongated than the threshold isotropic at
its minor scale.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ..errors import GSTError
from .fit_result import GaussianFit


def check_threshold(threshold: object, name: str = "anisotropy_threshold") -> float:
    """Return ``threshold`` as a float >= 1 (an anisotropy ratio), or raise GSTError."""
    try:
        value = float(threshold)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise GSTError(f"{name} must be a number >= 1, got {threshold!r}") from error
    if not np.isfinite(value) or value < 1.0:
        raise GSTError(f"{name} must be a finite number >= 1, got {threshold!r}")
    return value


def deformity_penalty(sigmas: torch.Tensor, threshold: float) -> torch.Tensor:
    """Return mean_i [max(s1/s2, s2/s1) - threshold]_+ over the (N, 2) scales (0 if N == 0)."""
    if len(sigmas) == 0:
        return sigmas.new_zeros(())
    ratio = sigmas.amax(dim=-1) / sigmas.amin(dim=-1)
    return torch.relu(ratio - threshold).mean()


def eliminate_deformity(sigmas: np.ndarray, threshold: float) -> np.ndarray:
    """Return (N, 2) scales where rows more elongated than ``threshold`` are set to their minor."""
    sigmas = np.array(sigmas, dtype=np.float64, copy=True)
    if len(sigmas) == 0:
        return sigmas
    minor = sigmas.min(axis=1)
    elongated = sigmas.max(axis=1) > threshold * minor
    sigmas[elongated] = minor[elongated, None]
    return sigmas


def apply_deformity_elimination(fit: GaussianFit, threshold: float = 1.5) -> GaussianFit:
    """Return a copy of ``fit`` where every Gaussian with anisotropy > ``threshold`` is round.

    Such a Gaussian keeps its minor scale in both directions (its angle no longer matters).
    ``psnr`` still describes the Gaussians before this step; :func:`fit_gaussians` with
    ``deformity_elimination=True`` applies the same step and scores the result.

    Examples
    --------
    >>> import numpy as np
    >>> fit = GaussianFit(np.zeros((1, 2)), np.array([[6.0, 2.0]]), np.zeros(1),
    ...                   np.ones((1, 1), np.float32), 30.0, (8, 8))
    >>> apply_deformity_elimination(fit, 1.5).sigmas
    array([[2., 2.]])
    """
    threshold = check_threshold(threshold, "threshold")
    settings = dict(fit.settings)
    settings["deformity_elimination_applied"] = threshold
    return dataclasses.replace(
        fit, sigmas=eliminate_deformity(fit.sigmas, threshold), settings=settings
    )
