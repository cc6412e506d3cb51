"""PointTarget (crops, flips, rescales without a fit) and make_loss."""

from __future__ import annotations

import numpy as np
import pytest
from losses_helpers import make_kernel

from napari_gst.losses import (
    LOSSES,
    BayesianLoss,
    GSTLoss,
    L2DensityLoss,
    OTLoss,
    PointTarget,
    make_loss,
)


def test_point_target_crop_keeps_points_inside_in_the_crop_frame():
    target = PointTarget([[2.0, 3.0], [20.0, 20.0], [15.6, 15.4]], (32, 32), stride=4)

    cropped = target.crop(0, 0, 16, 16)

    assert cropped.grid_shape == (4, 4) and cropped.image_shape == (16, 16)
    np.testing.assert_allclose(cropped.points, [[2.0, 3.0]])
    np.testing.assert_allclose(cropped.target(), [1.0, 0.0])


def test_point_target_flip_matches_the_kernel_flip():
    points = np.array([[2.0, 3.0], [20.0, 29.0]])
    target = PointTarget(points, (32, 32), stride=4)
    kernel = make_kernel(points)

    for axis in (0, 1):
        np.testing.assert_allclose(target.flip(axis).points, kernel.flip(axis).points)


def test_point_target_scale_maps_pixel_edges():
    target = PointTarget([[-0.5, 0.0], [9.5, 4.5]], (10, 10), stride=2)

    scaled = target.scale(2.0)

    assert scaled.image_shape == (20, 20) and scaled.grid_shape == (10, 10)
    np.testing.assert_allclose(scaled.points, [[-0.5, 0.5], [19.5, 9.5]])


def test_point_target_validates_its_input():
    with pytest.raises(ValueError, match="lie outside the image"):
        PointTarget([[40.0, 1.0]], (32, 32), 4)
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        PointTarget([[4.0, 1.0]], (32, 32), 0)
    with pytest.raises(ValueError, match="mass must hold one"):
        PointTarget([[4.0, 1.0]], (32, 32), 4, mass=[1.0, 2.0])
    with pytest.raises(ValueError, match="not a multiple of the stride"):
        PointTarget([[4.0, 1.0]], (30, 32), 4).flip(0)


def test_make_loss_builds_each_named_loss_with_options():
    built = {name: make_loss(name) for name in LOSSES}

    assert LOSSES == ("gst", "l2", "bayesian", "ot")
    assert isinstance(built["gst"], GSTLoss) and isinstance(built["ot"], OTLoss)
    assert isinstance(built["l2"], L2DensityLoss) and isinstance(built["bayesian"], BayesianLoss)
    assert [built[name].needs_kernel for name in LOSSES] == [True, False, False, False]
    assert make_loss("BAYESIAN", sigma=4.0).sigma == 4.0


def test_make_loss_names_the_problem():
    with pytest.raises(ValueError, match="loss must be one of gst, l2, bayesian, ot"):
        make_loss("mse")
    with pytest.raises(ValueError, match="bad options for loss 'l2'"):
        make_loss("l2", radius=3)


def test_point_target_transpose_matches_the_kernel_transpose():
    points = np.array([[2.0, 3.0], [20.0, 29.0]])
    target = PointTarget(points, (32, 32), stride=4)
    kernel = make_kernel(points)

    np.testing.assert_allclose(target.transposed().points, kernel.transposed().points)
    tall = PointTarget([[30.0, 5.0]], (40, 8), stride=4).transposed()
    assert tall.image_shape == (8, 40) and tall.grid_shape == (2, 10)
    np.testing.assert_allclose(tall.points, [[5.0, 30.0]])
