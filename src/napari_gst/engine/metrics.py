"""Counting and detection metrics: MAE, RMSE, and one-to-one point matching within a radius."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from .._validation import as_points


def _as_counts(values: object, name: str) -> np.ndarray:
    """Return ``values`` as a finite 1-D float64 array, or raise a ValueError naming it."""
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _paired_counts(predicted: object, true: object) -> tuple[np.ndarray, np.ndarray]:
    """Return both count sequences as float arrays of equal, non-zero length."""
    predicted = _as_counts(predicted, "predicted")
    true = _as_counts(true, "true")
    if predicted.shape != true.shape:
        raise ValueError(
            f"predicted and true must have the same length, got {predicted.size} and {true.size}"
        )
    if predicted.size == 0:
        raise ValueError("predicted and true are empty: need at least one image")
    return predicted, true


def mean_absolute_error(predicted: object, true: object) -> float:
    """Return the mean absolute count error over images.

    Examples
    --------
    >>> mean_absolute_error([10.0, 12.0], [11, 12])
    0.5
    """
    predicted, true = _paired_counts(predicted, true)
    return float(np.mean(np.abs(predicted - true)))


def root_mean_squared_error(predicted: object, true: object) -> float:
    """Return the root mean squared count error over images.

    Examples
    --------
    >>> root_mean_squared_error([10.0, 12.0], [12, 12])
    1.4142135623730951
    """
    predicted, true = _paired_counts(predicted, true)
    return float(np.sqrt(np.mean((predicted - true) ** 2)))


@dataclass(frozen=True)
class MatchResult:
    """One-to-one matching of detections to true points.

    Attributes
    ----------
    pairs : (M, 2) int array of (detection index, true-point index).
    true_positives, false_positives, false_negatives : counts.
    precision, recall, f1 : scores in [0, 1] (1 when both sets are empty).
    """

    pairs: np.ndarray
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float

    def scores(self) -> dict[str, float | int]:
        """Return the counts and scores as a JSON-able dict (without the pairs)."""
        result = asdict(self)
        result.pop("pairs")
        return result


def _scores(true_positives: int, n_detected: int, n_true: int) -> tuple[float, float, float]:
    """Return (precision, recall, f1); an empty side scores 1 only if the other is empty too."""
    precision = true_positives / n_detected if n_detected else float(n_true == 0)
    recall = true_positives / n_true if n_true else float(n_detected == 0)
    total = precision + recall
    return precision, recall, (2 * precision * recall / total if total > 0 else 0.0)


def match_points(detected: object, true: object, radius: float) -> MatchResult:
    """Return the one-to-one matching of detections to true points within ``radius`` pixels.

    Pairs closer than ``radius`` are eligible; among them the assignment maximises the number of
    matches and, for that number, minimises the summed distance (Hungarian algorithm on a
    cost where any eligible pair beats any ineligible one).

    Parameters
    ----------
    detected, true : (N, 2) and (M, 2) arrays of (row, col) in pixels.
    radius : float
        Largest distance, in pixels, at which a detection may match a true point.

    Examples
    --------
    >>> result = match_points([[0, 0], [10, 10]], [[1, 0], [30, 30]], radius=3)
    >>> result.true_positives, result.precision, result.recall
    (1, 0.5, 0.5)
    """
    detected = as_points(detected, name="detected")
    true = as_points(true, name="true")
    if not np.isfinite(radius) or radius <= 0:
        raise ValueError(f"radius must be a positive number of pixels, got {radius!r}")
    pairs = np.zeros((0, 2), dtype=np.int64)
    if len(detected) and len(true):
        pairs = _assign_within_radius(detected, true, float(radius))
    matched = len(pairs)
    precision, recall, f1 = _scores(matched, len(detected), len(true))
    return MatchResult(
        pairs=pairs,
        true_positives=matched,
        false_positives=len(detected) - matched,
        false_negatives=len(true) - matched,
        precision=precision,
        recall=recall,
        f1=f1,
    )


def _assign_within_radius(detected: np.ndarray, true: np.ndarray, radius: float) -> np.ndarray:
    """Return (detection, true) index pairs of a maximum, then minimum-distance, matching."""
    # Only pairs within the radius matter; a sparse neighbour query keeps this cheap for
    # thousands of points, and solving per connected block would be an optimisation we skip.
    tree = cKDTree(true)
    neighbours = tree.query_ball_point(detected, r=radius)
    rows = np.unique([i for i, near in enumerate(neighbours) if near]).astype(np.int64)
    cols = np.unique([j for near in neighbours for j in near]).astype(np.int64)
    if rows.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    distance = np.linalg.norm(detected[rows, None, :] - true[None, cols, :], axis=-1)
    # Eligible pairs cost their distance (< radius); ineligible ones cost more than any full
    # set of eligible ones, so the optimum first maximises the number of eligible matches.
    forbidden = radius * (min(rows.size, cols.size) + 1)
    cost = np.where(distance <= radius, distance, forbidden)
    row_index, col_index = linear_sum_assignment(cost)
    keep = cost[row_index, col_index] < forbidden
    return np.stack([rows[row_index[keep]], cols[col_index[keep]]], axis=1)
