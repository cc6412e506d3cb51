"""Shared landmark fixtures: a small synthetic hand set and hand-made Gaussian fits."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.landmarks import make_hand_landmarks
from napari_gst.splat import GaussianFit


def make_fit(points: np.ndarray, shape: tuple[int, int], sigma: float = 6.0) -> GaussianFit:
    """Return an isotropic fit of ``points`` (no optimisation: tests of what comes after it)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return GaussianFit(
        points=points,
        sigmas=np.full((len(points), 2), sigma),
        angles=np.zeros(len(points)),
        colours=np.ones((len(points), 1), dtype=np.float32),
        psnr=30.0,
        image_shape=shape,
    )


@pytest.fixture(scope="session")
def hands():
    """Eight 64 x 64 synthetic hands with 7 landmarks each."""
    return make_hand_landmarks(8, shape=(64, 64), seed=11)


@pytest.fixture(scope="session")
def hand_fits(hands):
    """Hand-made joint fits of the ``hands`` landmarks (all present)."""
    return [make_fit(landmarks, (64, 64)) for landmarks in hands.landmarks]
