"""LandmarkGSTLoss equals GSTLoss on per-landmark kernels and is minimal at the true landmarks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from landmark_helpers import make_fit

from napari_gst.errors import GSTError
from napari_gst.landmarks.dataset import LandmarkDataset, collate_landmarks
from napari_gst.landmarks.kernels import landmark_kernels
from napari_gst.landmarks.loss import LandmarkGSTLoss
from napari_gst.losses import GSTLoss


@pytest.fixture(scope="module")
def batch(hands, hand_fits):
    landmarks = [array.copy() for array in hands.landmarks[:3]]
    landmarks[1][4] = np.nan  # one missing landmark: its channel is all background
    fits = list(hand_fits[:3])
    fits[1] = make_fit(landmarks[1][np.isfinite(landmarks[1]).all(axis=1)], (64, 64))
    dataset = LandmarkDataset(
        list(hands.images[:3]), landmarks, hands.landmark_set, stride=4,
        crop_size=40, scale_range=(0.8, 1.2), fits=fits, seed=3,
    )  # fmt: skip
    return collate_landmarks([dataset[i] for i in range(3)])


def test_equals_the_sparse_gst_loss_including_crops_and_missing_landmarks(batch):
    density = torch.rand(3, 7, 10, 10, dtype=torch.float64, requires_grad=True)
    fast = LandmarkGSTLoss()(density, batch["target"])
    (fast_grad,) = torch.autograd.grad(fast, density)
    reference = GSTLoss()(density, batch["target"])
    (reference_grad,) = torch.autograd.grad(reference, density)
    assert float(fast) == pytest.approx(float(reference), rel=1e-5)
    torch.testing.assert_close(fast_grad, reference_grad, rtol=1e-4, atol=1e-5)


def test_all_mass_on_each_landmark_costs_nothing_and_elsewhere_costs_two():
    landmarks = np.array([[9.5, 9.5], [30.0, 21.0]])
    kernels = landmark_kernels(make_fit(landmarks, (40, 40), 4.0), landmarks, (40, 40), stride=4)
    on_target = torch.zeros(1, 2, 10, 10)
    on_target[0, 0, 2, 2] = 1.0  # the cell centred on pixel (9.5, 9.5)
    on_target[0, 1, 7, 5] = 1.0  # the cell holding (30, 21)
    loss = LandmarkGSTLoss()
    assert float(loss(on_target, [kernels])) < 0.1
    swapped = on_target.flip(1)  # each channel's mass on the other landmark
    assert float(loss(swapped, [kernels])) == pytest.approx(4.0, abs=0.1)


def test_counting_kernels_are_refused():
    points = np.array([[5.0, 5.0], [20.0, 20.0]])
    from napari_gst.transport import build_kernel

    kernel = build_kernel(make_fit(points, (32, 32)), (32, 32), 4)
    with pytest.raises(GSTError, match="at most one"):
        LandmarkGSTLoss()(torch.rand(1, 1, 8, 8), [[kernel]])
    with pytest.raises(GSTError, match="one kernel per channel"):
        LandmarkGSTLoss()(torch.rand(1, 2, 8, 8), [[kernel]])
