"""Landmark localisation with GST: named landmark sets, annotations, targets, decoding, metrics.

Each image holds at most one point per landmark; a model has one output channel per landmark,
and each channel is trained against its own one-point-plus-background transport kernel.
The torch-backed names (dataset, kernels, losses) are imported on first use, so reading
annotations and scoring predictions does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .annotations import (
    landmarks_from_labels,
    landmarks_from_layer,
    landmarks_to_layer,
    read_landmark_csv,
    write_landmark_csv,
)
from .decode import decode_landmarks
from .isbi import (
    ISBI_2015_LANDMARKS,
    ISBI_PIXEL_SIZE_MM,
    LandmarkRecord,
    read_isbi2015,
    read_landmark_folder,
    read_xy_landmarks,
)
from .landmark_set import LandmarkSet, as_landmark_set
from .metrics import (
    LandmarkScores,
    mean_radial_error,
    radial_errors,
    score_landmarks,
    success_detection_rates,
)
from .schedule import SigmaSchedule, default_sigma_schedule
from .synthetic import HAND_LANDMARKS, SyntheticLandmarks, make_hand_landmarks

_LAZY = {
    "LandmarkDataset": "napari_gst.landmarks.dataset",
    "collate_landmarks": "napari_gst.landmarks.dataset",
    "fit_landmarks": "napari_gst.landmarks.kernels",
    "landmark_kernels": "napari_gst.landmarks.kernels",
    "LandmarkGSTLoss": "napari_gst.landmarks.loss",
    "LandmarkPrediction": "napari_gst.landmarks.predict",
    "evaluate_landmarks": "napari_gst.landmarks.predict",
    "predict_landmarks": "napari_gst.landmarks.predict",
    "HeatmapLoss": "napari_gst.landmarks.heatmap",
    "LandmarkTarget": "napari_gst.landmarks.heatmap",
    "gaussian_heatmaps": "napari_gst.landmarks.heatmap",
}

__all__ = [
    "HeatmapLoss",
    "LandmarkDataset",
    "LandmarkGSTLoss",
    "LandmarkPrediction",
    "LandmarkTarget",
    "evaluate_landmarks",
    "predict_landmarks",
    "collate_landmarks",
    "fit_landmarks",
    "gaussian_heatmaps",
    "landmark_kernels",
    "HAND_LANDMARKS",
    "ISBI_2015_LANDMARKS",
    "ISBI_PIXEL_SIZE_MM",
    "LandmarkRecord",
    "LandmarkScores",
    "LandmarkSet",
    "SigmaSchedule",
    "SyntheticLandmarks",
    "as_landmark_set",
    "decode_landmarks",
    "default_sigma_schedule",
    "landmarks_from_labels",
    "landmarks_from_layer",
    "landmarks_to_layer",
    "make_hand_landmarks",
    "mean_radial_error",
    "radial_errors",
    "read_isbi2015",
    "read_landmark_csv",
    "read_landmark_folder",
    "read_xy_landmarks",
    "score_landmarks",
    "success_detection_rates",
    "write_landmark_csv",
]

if TYPE_CHECKING:  # pragma: no cover
    from .dataset import LandmarkDataset, collate_landmarks
    from .heatmap import HeatmapLoss, LandmarkTarget, gaussian_heatmaps
    from .kernels import fit_landmarks, landmark_kernels
    from .loss import LandmarkGSTLoss
    from .predict import LandmarkPrediction, evaluate_landmarks, predict_landmarks


def __getattr__(name: str):
    """Import the torch-backed names on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'napari_gst.landmarks' has no attribute {name!r}")
