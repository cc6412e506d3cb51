"""Synthetic hands: deterministic per seed, landmarks inside the image and on the drawn hand."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.errors import GSTError
from napari_gst.landmarks import HAND_LANDMARKS, make_hand_landmarks


def test_same_seed_gives_the_same_images_and_landmarks():
    first = make_hand_landmarks(3, shape=(64, 80), seed=5)
    second = make_hand_landmarks(3, shape=(64, 80), seed=5)
    other = make_hand_landmarks(3, shape=(64, 80), seed=6)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.landmarks, second.landmarks)
    assert not np.allclose(first.landmarks, other.landmarks)


def test_landmarks_lie_inside_the_image_with_the_margin():
    data = make_hand_landmarks(20, shape=(96, 64), seed=1, margin=3.0)
    assert data.landmark_set == HAND_LANDMARKS and data.landmarks.shape == (20, 7, 2)
    assert data.landmarks.min() >= 3.0
    assert np.all(data.landmarks[..., 0] <= 96 - 1 - 3.0)
    assert np.all(data.landmarks[..., 1] <= 64 - 1 - 3.0)
    assert data.images.dtype == np.float32 and 0 <= data.images.min() and data.images.max() <= 1


def test_fingertips_sit_on_the_bright_hand():
    data = make_hand_landmarks(8, shape=(128, 128), seed=2, noise=0.0)
    for image, landmarks in zip(data.images, data.landmarks, strict=True):
        background = np.median(image)
        tips = np.round(landmarks[2:]).astype(int)  # thumb .. little tips, just inside the cap
        inner = np.round(landmarks[0] + 0.0).astype(int)
        assert image[inner[0], inner[1]] > background
        assert np.mean(image[tips[:, 0], tips[:, 1]]) > background


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"count": 0}, "count"), ({"shape": (16, 64)}, "at least 32"), ({"noise": 2.0}, "noise")],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"count": 1, **kwargs}
    with pytest.raises(GSTError, match=message):
        make_hand_landmarks(arguments.pop("count"), **arguments)
