"""Landmark localisation with GST: named landmark sets, annotations, targets, decoding, metrics.

Each image holds at most one point per landmark; a model has one output channel per landmark,
and each channel is trained against its own one-point-plus-background transport kernel.
"""

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
from .synthetic import HAND_LANDMARKS, SyntheticLandmarks, make_hand_landmarks

__all__ = [
    "HAND_LANDMARKS",
    "ISBI_2015_LANDMARKS",
    "ISBI_PIXEL_SIZE_MM",
    "LandmarkRecord",
    "LandmarkScores",
    "LandmarkSet",
    "SyntheticLandmarks",
    "as_landmark_set",
    "decode_landmarks",
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
