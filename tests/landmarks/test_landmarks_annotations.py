"""Landmark annotations: labelled points (CSV, napari layer) -> a row per landmark, NaN if none."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.errors import GSTError
from napari_gst.landmarks import (
    LandmarkSet,
    landmarks_from_labels,
    landmarks_from_layer,
    landmarks_to_layer,
    read_landmark_csv,
    write_landmark_csv,
)

HAND = LandmarkSet(["wrist", "thumb tip", "index tip", "middle tip"])


def test_points_are_placed_in_landmark_order_with_nan_for_missing():
    landmarks = landmarks_from_labels([[5.0, 6.0], [1.5, 2.5]], ["middle tip", 0], HAND)
    np.testing.assert_array_equal(landmarks[0], [1.5, 2.5])
    np.testing.assert_array_equal(landmarks[3], [5.0, 6.0])
    assert np.isnan(landmarks[1:3]).all()


def test_same_landmark_twice_is_refused_naming_source_and_label():
    with pytest.raises(GSTError, match=r"img7\.csv: landmark 'wrist' is given twice"):
        landmarks_from_labels([[1, 1], [2, 2]], ["wrist", 0], HAND, source="img7.csv")


def test_unknown_label_error_names_source_and_point():
    with pytest.raises(GSTError, match=r"layer A, point 1: label 'ring tip' is not a landmark"):
        landmarks_from_labels([[1, 1], [2, 2]], ["wrist", "ring tip"], HAND, source="layer A")


def test_csv_round_trip_drops_missing_landmarks(tmp_path):
    landmarks = np.array([[10.25, 20.5], [np.nan, np.nan], [3.0, 4.0], [7.0, 8.0]])
    path = write_landmark_csv(tmp_path / "a.csv", landmarks, HAND)
    assert len(path.read_text().splitlines()) == 1 + 3  # header + present landmarks
    np.testing.assert_array_equal(read_landmark_csv(path, HAND), landmarks)


def test_csv_with_a_label_not_in_the_set_names_file_and_label(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("y,x,label\n1,2,wrist\n3,4,elbow\n")
    with pytest.raises(GSTError, match=r"b\.csv.*'elbow' is not a landmark"):
        read_landmark_csv(path, HAND)


def test_csv_with_wrong_column_count_names_file_line_and_label(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("axis-0,axis-1,label\n1,2,wrist\n3,4,thumb tip,extra\n")
    with pytest.raises(GSTError, match=r"c\.csv, line 3 \(label 'thumb tip'\): 4 columns"):
        read_landmark_csv(path, HAND)


def test_csv_without_label_column_is_refused(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("y,x\n1,2\n")
    with pytest.raises(GSTError, match="no 'label' column"):
        read_landmark_csv(path, HAND)


def test_csv_with_integer_labels_uses_indices(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("row,col,label\n1,2,3\n5,6,0\n")
    landmarks = read_landmark_csv(path, HAND)
    np.testing.assert_array_equal(landmarks[[0, 3]], [[5, 6], [1, 2]])


def test_points_layer_round_trip_through_features():
    landmarks = np.array([[1.0, 2.0], [np.nan, np.nan], [5.0, 6.0], [np.nan, np.nan]])
    data, kwargs = landmarks_to_layer(landmarks, HAND)
    assert kwargs["features"]["label"] == ["wrist", "index tip"]
    assert kwargs["face_color"].shape == (2, 4)
    back = landmarks_from_layer(data, kwargs["features"], HAND)
    np.testing.assert_array_equal(back, landmarks)


def test_points_layer_without_label_feature_is_refused():
    with pytest.raises(GSTError, match="no 'label' column"):
        landmarks_from_layer(np.zeros((1, 2)), {"name": ["x"]}, HAND, source="Points layer")
