"""Landmark metrics: radial errors in pixels or mm, MRE and success detection rates."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.errors import GSTError
from napari_gst.landmarks import (
    mean_radial_error,
    radial_errors,
    score_landmarks,
    success_detection_rates,
)


def test_radial_error_scales_with_pixel_size():
    predicted = np.array([[[3.0, 4.0], [10.0, 10.0]]])
    true = np.array([[[0.0, 0.0], [10.0, 12.0]]])
    np.testing.assert_allclose(radial_errors(predicted, true), [[5.0, 2.0]])
    np.testing.assert_allclose(radial_errors(predicted, true, pixel_size=0.1), [[0.5, 0.2]])


def test_missing_truth_is_ignored_and_missing_prediction_is_a_failure():
    predicted = np.array([[0.0, 1.0], [np.nan, np.nan], [5.0, 5.0]])
    true = np.array([[0.0, 0.0], [2.0, 2.0], [np.nan, np.nan]])
    errors = radial_errors(predicted, true)
    assert errors[0] == 1.0 and np.isinf(errors[1]) and np.isnan(errors[2])
    assert mean_radial_error(errors) == 1.0
    assert success_detection_rates(errors, [2.0]) == {2.0: 0.5}


def test_scores_in_mm_with_isbi_radii():
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 100, size=(4, 3, 2))
    offsets = np.array([10.0, 22.0, 28.0, 35.0])  # pixels -> 1, 2.2, 2.8, 3.5 mm
    predicted = true + np.stack([offsets, np.zeros(4)], -1)[:, None, :]
    scores = score_landmarks(predicted, true, pixel_size=0.1)
    assert scores.unit == "mm" and scores.n_evaluated == 12 and scores.n_missed == 0
    assert scores.mre == pytest.approx(offsets.mean() / 10)
    assert scores.sdr == {2.0: 0.25, 2.5: 0.5, 3.0: 0.75, 4.0: 1.0}
    np.testing.assert_allclose(scores.per_landmark_mre, offsets.mean() / 10)
    assert scores.to_dict()["sdr"]["2.5"] == 0.5


def test_bad_inputs_are_named():
    with pytest.raises(GSTError, match="same shape"):
        radial_errors(np.zeros((2, 2)), np.zeros((3, 2)))
    with pytest.raises(GSTError, match="pixel_size"):
        radial_errors(np.zeros((2, 2)), np.zeros((2, 2)), pixel_size=0)
    with pytest.raises(GSTError, match="no present landmark"):
        mean_radial_error([np.nan])
