"""Training, prediction, checkpoints and metrics over the core modules.

``train(config, items, ...)`` is a generator of :class:`TrainEvent` with a stop flag;
``predict(model_or_checkpoint, image)`` returns a :class:`Prediction` (a
:class:`LandmarkResult` for landmark models); checkpoints are
folders of ``model.safetensors`` + ``model.json``. Names are imported on first use so that
``import napari_gst.engine`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "TrainConfig": "config",
    "TrainEvent": "events",
    "train": "training",
    "predict": "prediction",
    "Prediction": "prediction",
    "LandmarkResult": "landmark_prediction",
    "evaluate": "evaluation",
    "Checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "count_guided_peaks": "peaks",
    "match_points": "metrics",
    "mean_absolute_error": "metrics",
    "root_mean_squared_error": "metrics",
    "resolve_device": "..devices",
}

__all__ = [
    "Checkpoint",
    "LandmarkResult",
    "Prediction",
    "TrainConfig",
    "TrainEvent",
    "count_guided_peaks",
    "evaluate",
    "load_checkpoint",
    "match_points",
    "mean_absolute_error",
    "predict",
    "resolve_device",
    "root_mean_squared_error",
    "save_checkpoint",
    "train",
]

if TYPE_CHECKING:  # pragma: no cover
    from ..devices import resolve_device
    from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from .config import TrainConfig
    from .evaluation import evaluate
    from .events import TrainEvent
    from .landmark_prediction import LandmarkResult
    from .metrics import match_points, mean_absolute_error, root_mean_squared_error
    from .peaks import count_guided_peaks
    from .prediction import Prediction, predict
    from .training import train


def __getattr__(name: str):
    """Import public names on first use."""
    if name in _EXPORTS:
        module = _EXPORTS[name]
        # "..devices" lives one level up (shared by splat and engine).
        target = f"napari_gst.{module[2:]}" if module.startswith("..") else f"{__name__}.{module}"
        return getattr(importlib.import_module(target), name)
    raise AttributeError(f"module 'napari_gst.engine' has no attribute {name!r}")
