"""napari-gst: point-supervised density regression with Gaussian Spatial Transport (GST).

The core (everything but ``napari_gst.widgets``) is headless: it never imports Qt or napari.
Top-level names are imported lazily so ``import napari_gst`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

_EXPORTS = {
    "GaussianFit": "napari_gst.splat",
    "fit_gaussians": "napari_gst.splat",
    "TransportKernel": "napari_gst.transport",
    "build_kernel": "napari_gst.transport",
    "GSTLoss": "napari_gst.losses",
}

__all__ = [
    "GSTLoss",
    "GaussianFit",
    "TransportKernel",
    "__version__",
    "build_kernel",
    "fit_gaussians",
]

if TYPE_CHECKING:  # pragma: no cover
    from .losses import GSTLoss
    from .splat import GaussianFit, fit_gaussians
    from .transport import TransportKernel, build_kernel


def __getattr__(name: str):
    """Import public names on first use."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'napari_gst' has no attribute {name!r}")
