"""napari dock widgets: the only part of napari-gst that imports Qt or napari.

The classes are imported on first use so that reading the npe2 manifest stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "KernelPreviewWidget": "napari_gst.widgets.kernel_preview",
    "TrainingWidget": "napari_gst.widgets.training",
    "PredictionWidget": "napari_gst.widgets.prediction",
}

__all__ = list(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .kernel_preview import KernelPreviewWidget  # noqa: F401
    from .prediction import PredictionWidget  # noqa: F401
    from .training import TrainingWidget  # noqa: F401


def __getattr__(name: str):
    """Import a widget class on first use."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'napari_gst.widgets' has no attribute {name!r}")
