"""LandmarkDataset: crops, rescales and (opt-in) mirrors images with kernels or heatmap targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_gst.errors import GSTError
from napari_gst.landmarks import HAND_LANDMARKS
from napari_gst.landmarks.dataset import LandmarkDataset, collate_landmarks
from napari_gst.landmarks.heatmap import HeatmapLoss, LandmarkTarget


def dataset(hands, hand_fits, **options):
    settings = {"stride": 4, "fits": hand_fits, **options}
    return LandmarkDataset(list(hands.images), list(hands.landmarks), HAND_LANDMARKS, **settings)


def test_gst_samples_hold_one_kernel_per_landmark_at_the_crop(hands, hand_fits):
    data = dataset(hands, hand_fits, crop_size=32, scale_range=(0.8, 1.2), seed=1)
    sample = data[0]
    assert sample["image"].shape == (1, 32, 32)
    kernels = sample["target"]
    assert len(kernels) == 7 and all(kernel.grid_shape == (8, 8) for kernel in kernels)
    assert all(kernel.n_points <= 1 for kernel in kernels)
    for kernel, point in zip(kernels, sample["landmarks"].numpy(), strict=True):
        if kernel.n_points and np.isfinite(point).all():
            np.testing.assert_allclose(kernel.points[0], point, atol=0.5)
    assert sample["count"] == int(np.isfinite(sample["landmarks"].numpy()).all(axis=1).sum())


def test_whole_image_without_augmentation_keeps_landmarks(hands, hand_fits):
    sample = dataset(hands, hand_fits)[2]
    np.testing.assert_allclose(sample["landmarks"].numpy(), hands.landmarks[2])
    assert [kernel.n_points for kernel in sample["target"]] == [1] * 7


def test_flip_needs_a_flip_map_and_then_permutes_channels():
    from napari_gst.landmarks import LandmarkSet

    eyes = LandmarkSet(["left eye", "right eye", "nose"])
    image = np.zeros((16, 16))
    points = np.array([[4.0, 3.0], [4.0, 12.0], [9.0, 8.0]])
    with pytest.raises(GSTError, match="flip_map"):
        LandmarkDataset([image], [points], eyes, stride=4, target="heatmap", flip=True)
    data = LandmarkDataset(
        [image], [points], eyes, stride=4, target="heatmap", flip=True,
        flip_map={"left eye": "right eye"}, seed=0,
    )  # fmt: skip
    seen = {tuple(map(tuple, data[0]["landmarks"].numpy())) for _ in range(12)}
    mirrored = ((4.0, 3.0), (4.0, 12.0), (9.0, 7.0))  # eyes swap back to their own side
    assert seen == {tuple(map(tuple, points)), mirrored}


def test_heatmap_samples_and_loss_prefer_the_true_heatmap(hands, hand_fits):
    data = dataset(hands, hand_fits, target="heatmap", crop_size=48, seed=0)
    batch = collate_landmarks([data[0], data[1]])
    assert batch["image"].shape == (2, 1, 48, 48) and batch["landmarks"].shape == (2, 7, 2)
    assert all(isinstance(target, LandmarkTarget) for target in batch["target"])
    from napari_gst.landmarks.heatmap import gaussian_heatmaps

    truth = torch.stack(
        [
            torch.from_numpy(gaussian_heatmaps(t.points, t.image_shape, 4, 6.0))
            for t in batch["target"]
        ]
    )
    loss = HeatmapLoss()
    assert float(loss(truth, batch["target"])) < 1e-10
    assert float(loss(torch.zeros_like(truth), batch["target"])) > 1.0


def test_bad_inputs_are_named(hands):
    with pytest.raises(GSTError, match="target must be"):
        LandmarkDataset(
            [hands.images[0]], [hands.landmarks[0]], HAND_LANDMARKS, stride=4, target="x"
        )
    with pytest.raises(GSTError, match=r"landmarks\[0\] must have shape \(7, 2\)"):
        LandmarkDataset([hands.images[0]], [hands.landmarks[0][:3]], HAND_LANDMARKS, stride=4)
    with pytest.raises(GSTError, match="1 images but 2"):
        LandmarkDataset([hands.images[0]], list(hands.landmarks[:2]), HAND_LANDMARKS, stride=4)
