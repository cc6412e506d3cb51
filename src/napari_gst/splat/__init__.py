"""Gaussian fit of an image around its annotation points (splatting), with deformity elimination.

Public API: :func:`fit_gaussians` -> :class:`GaussianFit`, :func:`render` (accumulated-sum
render over the "torch" and "gsplat" backends) and :func:`apply_deformity_elimination`.
"""

from .deformity import apply_deformity_elimination
from .fit import DEFAULT_SIGMA, fit_gaussians
from .fit_result import GaussianFit
from .render_gsplat import gsplat_available
from .rendering import render

__all__ = [
    "DEFAULT_SIGMA",
    "GaussianFit",
    "apply_deformity_elimination",
    "fit_gaussians",
    "gsplat_available",
    "render",
]
