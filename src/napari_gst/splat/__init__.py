"""Gaussian fit of an image around its annotation points (splatting), with deformity elimination."""

from .fit_result import GaussianFit

__all__ = ["GaussianFit"]
