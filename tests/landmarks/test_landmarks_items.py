"""Landmark items for the engine: names inferred from labels, label errors, ISBI folders."""

import imageio.v3 as iio
import numpy as np
import pytest

from napari_gst.data import AnnotatedImage
from napari_gst.errors import GSTError
from napari_gst.landmarks import LandmarkSet
from napari_gst.landmarks.items import (
    infer_landmark_set,
    is_isbi_folder,
    landmark_arrays,
    read_isbi_items,
)


def item(labels, name="img"):
    points = np.arange(2 * len(labels), dtype=float).reshape(-1, 2)
    return AnnotatedImage(np.zeros((16, 16)), points, np.asarray(labels, dtype=object), name)


def test_names_follow_the_first_appearance_of_each_label():
    items = [item(["tip", "base"], "a"), item(["wrist", "tip"], "b")]
    assert infer_landmark_set(items).names == ("tip", "base", "wrist")


def test_an_empty_label_is_named_with_its_image_and_point():
    with pytest.raises(GSTError, match="hand_3, point 1: the label is empty"):
        infer_landmark_set([item(["tip", " "], "hand_3")])


def test_unlabelled_points_are_refused_with_the_image_name():
    plain = AnnotatedImage(np.zeros((8, 8)), np.ones((1, 2)), None, "plain")
    with pytest.raises(GSTError, match="plain: points have no labels"):
        landmark_arrays([plain], LandmarkSet(("tip",)))


def test_missing_landmarks_are_nan_rows():
    arrays = landmark_arrays([item(["base"])], LandmarkSet(("tip", "base")))
    assert np.isnan(arrays[0][0]).all() and arrays[0][1].tolist() == [0.0, 1.0]


def test_an_isbi_folder_reads_as_labelled_items(tmp_path):
    (tmp_path / "RawImage" / "TrainingData").mkdir(parents=True)
    (tmp_path / "AnnotationsByMD" / "400_senior").mkdir(parents=True)
    iio.imwrite(tmp_path / "RawImage" / "TrainingData" / "001.png", np.zeros((40, 30), np.uint8))
    lines = [f"{col},{row}" for row, col in zip(range(19), range(1, 20), strict=True)]
    (tmp_path / "AnnotationsByMD" / "400_senior" / "001.txt").write_text("\n".join(lines))

    items, landmark_set, pixel_size = read_isbi_items(tmp_path)

    assert is_isbi_folder(tmp_path) and pixel_size == pytest.approx(0.1)
    [one] = items
    assert one.name == "001" and one.image.shape == (40, 30)
    assert one.points[0].tolist() == [0.0, 1.0]  # files store x,y = col,row
    assert list(one.labels) == list(landmark_set.names)
