"""Shared landmark fixtures: a small synthetic hand set and hand-made Gaussian fits."""

from __future__ import annotations

import pytest
from landmark_helpers import make_fit

from napari_gst.landmarks import make_hand_landmarks


@pytest.fixture(scope="session")
def hands():
    """Eight 64 x 64 synthetic hands with 7 landmarks each."""
    return make_hand_landmarks(8, shape=(64, 64), seed=11)


@pytest.fixture(scope="session")
def hand_fits(hands):
    """Hand-made joint fits of the ``hands`` landmarks (all present)."""
    return [make_fit(landmarks, (64, 64)) for landmarks in hands.landmarks]
