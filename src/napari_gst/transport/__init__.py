"""Sparse Bayesian transport kernel K from a Gaussian fit, and a content-addressed fit cache."""

from .build import DEFAULT_CUTOFF, build_kernel, default_sigma_range, truncation_bound
from .cache import cached_fit
from .kernel import TransportKernel
from .window import build_cropped_kernel

__all__ = [
    "DEFAULT_CUTOFF",
    "TransportKernel",
    "build_cropped_kernel",
    "build_kernel",
    "cached_fit",
    "default_sigma_range",
    "truncation_bound",
]
