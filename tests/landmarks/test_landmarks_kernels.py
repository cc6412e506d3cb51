"""Per-landmark kernels: one joint fit, then L one-point kernels; a missing one: all background."""

from __future__ import annotations

import numpy as np
import pytest
from landmark_helpers import make_fit

from napari_gst.errors import GSTError
from napari_gst.landmarks.kernels import fit_landmarks, landmark_kernels, present_mask, select_fit


@pytest.fixture
def landmarks():
    return np.array([[10.0, 12.0], [np.nan, np.nan], [40.0, 30.0], [20.5, 50.25]])


def test_one_kernel_per_landmark_with_at_most_one_point(landmarks):
    fit = make_fit(landmarks[present_mask(landmarks)], (64, 64))
    kernels = landmark_kernels(fit, landmarks, (64, 64), stride=4)
    assert len(kernels) == 4
    assert [kernel.n_points for kernel in kernels] == [1, 0, 1, 1]
    for channel, kernel in enumerate(kernels):
        assert kernel.matrix.shape == (16 * 16, kernel.n_points + 1)
        np.testing.assert_allclose(kernel.matrix.sum(axis=1), 1.0, atol=1e-5)
        if kernel.n_points:
            np.testing.assert_allclose(kernel.points[0], landmarks[channel])
            assert kernel.ids.tolist() == [channel]


def test_kernel_of_a_landmark_ignores_the_other_landmarks(landmarks):
    fit = make_fit(landmarks[present_mask(landmarks)], (64, 64))
    kernels = landmark_kernels(fit, landmarks, (64, 64), stride=4)
    alone = landmark_kernels(select_fit(fit, 0), landmarks[:1], (64, 64), stride=4)[0]
    # Channel 0 competes only with the background, whatever the other landmarks are.
    np.testing.assert_allclose(kernels[0].dense(), alone.dense())
    cell = (10 // 4) * 16 + 12 // 4
    assert kernels[0].dense()[cell, 0] > 0.9


def test_missing_landmark_sends_all_mass_to_background(landmarks):
    fit = make_fit(landmarks[present_mask(landmarks)], (64, 64))
    missing = landmark_kernels(fit, landmarks, (64, 64), stride=4)[1]
    density = np.random.default_rng(0).random(16 * 16)
    transported = missing.matrix.T @ density
    # GST's loss |K'density - target|_1 is then the channel's total mass.
    np.testing.assert_allclose(transported, [density.sum()], rtol=1e-5)
    assert missing.target().tolist() == [0.0]
    cropped, flipped = missing.crop(8, 4, 32, 16), missing.flip(1)
    assert cropped.grid_shape == (8, 4) and cropped.n_points == 0
    np.testing.assert_allclose(flipped.matrix.sum(axis=1), 1.0)


def test_kernels_follow_rescale_and_crop(landmarks):
    fit = make_fit(landmarks[present_mask(landmarks)], (64, 64))
    kernels = landmark_kernels(fit, landmarks, (96, 96), stride=4, scale=1.5)
    np.testing.assert_allclose(kernels[2].points[0], (landmarks[2] + 0.5) * 1.5 - 0.5)
    assert kernels[0].crop(0, 0, 48, 48).mass[0] > 0.99  # the crop holds the whole Gaussian
    assert 0.5 < kernels[0].crop(0, 0, 24, 24).mass[0] < 0.95  # the crop cuts it


def test_mismatched_fit_and_landmarks_are_refused(landmarks):
    with pytest.raises(GSTError, match="fit has 1 Gaussians but landmarks has 3"):
        landmark_kernels(make_fit(landmarks[:1], (64, 64)), landmarks, (64, 64), stride=4)
    with pytest.raises(GSTError, match="half NaN"):
        present_mask([[1.0, np.nan]])


def test_joint_fit_covers_only_present_landmarks(hands):
    landmarks = hands.landmarks[0].copy()
    landmarks[3] = np.nan
    fit = fit_landmarks(hands.images[0], landmarks, iterations=5)
    assert fit.n_points == 6
    np.testing.assert_allclose(fit.points, landmarks[present_mask(landmarks)])
