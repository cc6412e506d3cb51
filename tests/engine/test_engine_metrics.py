"""Counting and detection metrics."""

import numpy as np
import pytest

from napari_gst.engine.metrics import match_points, mean_absolute_error, root_mean_squared_error


def test_mae_and_rmse_of_counts():
    predicted, true = [10.0, 14.0, 20.0], [12, 14, 17]
    assert mean_absolute_error(predicted, true) == pytest.approx(5 / 3)
    assert root_mean_squared_error(predicted, true) == pytest.approx(np.sqrt(13 / 3))


def test_count_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        mean_absolute_error([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="empty"):
        root_mean_squared_error([], [])


def test_matching_is_one_to_one_within_the_radius():
    true = [[10, 10], [10, 14], [50, 50]]
    detected = [[10, 11], [11, 12], [80, 80]]
    result = match_points(detected, true, radius=3)
    assert result.true_positives == 2
    assert (result.false_positives, result.false_negatives) == (1, 1)
    assert result.precision == pytest.approx(2 / 3) and result.recall == pytest.approx(2 / 3)
    assert sorted(map(tuple, result.pairs.tolist())) == [(0, 0), (1, 1)]


def test_matching_maximises_matches_over_greedy_nearest():
    # Greedy nearest-first would pair detection 0 with true 1 (distance 1) and leave true 0
    # unmatched; the optimal assignment matches both.
    true = [[0, 0], [0, 2]]
    detected = [[0, 1.2], [0, 3]]
    assert match_points(detected, true, radius=1.5).true_positives == 2


def test_matching_empty_sets():
    assert match_points([], [], radius=2).f1 == 1.0
    missed = match_points([], [[1, 1]], radius=2)
    assert (missed.recall, missed.f1) == (0.0, 0.0)


def test_matching_rejects_bad_radius():
    with pytest.raises(ValueError, match="radius"):
        match_points([[0, 0]], [[0, 0]], radius=0)
