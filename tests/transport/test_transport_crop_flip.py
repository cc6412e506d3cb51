"""Crops and flips of a kernel are exact row selections of the full kernel."""

from __future__ import annotations

import numpy as np
import pytest
from transport_helpers import make_fit

from napari_gst.errors import GSTError
from napari_gst.transport import build_kernel


@pytest.fixture
def kernel(crowd_fit):
    return build_kernel(crowd_fit, crowd_fit.image_shape, stride=4)


def _rows(kernel, top, left, height, width):
    gh, gw = kernel.grid_shape
    s = kernel.stride
    r = np.arange(top // s, min(-(-(top + height) // s), gh))
    c = np.arange(left // s, min(-(-(left + width) // s), gw))
    return (r[:, None] * gw + c[None, :]).ravel()


def test_crop_is_the_row_selection_of_the_full_kernel(kernel):
    cropped = kernel.crop(16, 24, 32, 40)

    full = kernel.dense()[_rows(kernel, 16, 24, 32, 40)]
    kept = cropped.ids
    assert cropped.grid_shape == (8, 10) and cropped.image_shape == (32, 40)
    np.testing.assert_array_equal(cropped.dense()[:, :-1], full[:, kept])
    merged = full[:, -1] + full[:, :-1].sum(axis=1) - full[:, kept].sum(axis=1)
    np.testing.assert_allclose(cropped.dense()[:, -1], merged, atol=1e-6)
    np.testing.assert_allclose(cropped.matrix.sum(axis=1), 1.0, atol=1e-6)


def test_crop_moves_points_into_the_crop_frame(kernel):
    cropped = kernel.crop(16, 24, 32, 40)

    np.testing.assert_allclose(cropped.points, kernel.points[cropped.ids] - [16, 24])


def test_crop_that_cuts_a_point_keeps_its_fraction_inside():
    fit = make_fit([[32.0, 31.5], [10.0, 10.0]], 6.0, image_shape=(64, 64))
    kernel = build_kernel(fit, (64, 64), stride=4)

    left_half = kernel.crop(0, 0, 64, 32)

    # The first point sits on the cut: its Gaussian is split in two equal halves.
    assert left_half.ids.tolist() == [0, 1]
    np.testing.assert_allclose(left_half.mass, [0.5, 1.0], atol=0.01)
    np.testing.assert_allclose(left_half.target(), [*left_half.mass, 0.0], atol=1e-6)


def test_centre_rule_keeps_a_cut_point_whole_when_its_dot_is_inside():
    # Dots 1.5 px either side of the cut at column 31.5, and one far inside.
    fit = make_fit([[32.0, 30.0], [20.0, 33.0], [10.0, 10.0]], 6.0, image_shape=(64, 64))
    kernel = build_kernel(fit, (64, 64), stride=4)

    left_half = kernel.crop(0, 0, 64, 32, crop_mass="centre")

    # Dot 0 counts whole; dot 1 (outside, though its Gaussian reaches in) joins the background.
    assert left_half.ids.tolist() == [0, 2]
    np.testing.assert_array_equal(left_half.mass, [1.0, 1.0])
    np.testing.assert_allclose(left_half.matrix.sum(axis=1), 1.0, atol=1e-6)
    full = kernel.dense()[_rows(kernel, 0, 0, 64, 32)]
    np.testing.assert_allclose(left_half.dense()[:, -1], full[:, 1] + full[:, 3], atol=1e-6)
    # The fraction rule splits the same two cut dots by their Gaussians instead.
    fractions = kernel.crop(0, 0, 64, 32).mass
    assert 0.5 < fractions[0] < 1.0 and 0.05 < fractions[1] < 0.5


def test_centre_rule_follows_pixel_edges():
    # A box's pixels cover [top - 0.5, top + height - 0.5): a dot on the far edge is outside.
    fit = make_fit([[10.0, 15.49], [10.0, 15.5], [10.0, -0.5]], 3.0, image_shape=(32, 32))
    kernel = build_kernel(fit, (32, 32), stride=4)

    assert kernel.crop(0, 0, 32, 16, crop_mass="centre").ids.tolist() == [0, 2]
    assert kernel.crop(0, 16, 32, 16, crop_mass="centre").ids.tolist() == [1]


def test_unknown_crop_rule_is_refused(kernel):
    with pytest.raises(GSTError, match="crop_mass must be one of"):
        kernel.crop(0, 0, 32, 32, crop_mass="middle")


def test_points_almost_entirely_outside_are_merged_into_background():
    fit = make_fit([[32.0, 44.0], [32.0, 60.0]], 6.0, image_shape=(64, 64))
    kernel = build_kernel(fit, (64, 64), stride=4)

    cropped = kernel.crop(0, 0, 64, 32)  # point 0 is 2 sigma outside, point 1 far outside

    assert cropped.n_points == 0
    assert cropped.matrix.shape == (16 * 8, 1)
    np.testing.assert_allclose(cropped.dense(), 1.0, atol=1e-6)
    kept = kernel.crop(0, 0, 64, 32, min_fraction=0.001)
    assert kept.ids.tolist() == [0] and 0.001 < kept.mass[0] < 0.05


def test_crop_of_a_crop_equals_the_direct_crop(kernel):
    twice = kernel.crop(8, 8, 48, 64).crop(8, 16, 32, 40)
    once = kernel.crop(16, 24, 32, 40)

    np.testing.assert_array_equal(twice.ids, once.ids)
    np.testing.assert_allclose(twice.mass, once.mass, atol=1e-9)
    np.testing.assert_allclose(twice.dense(), once.dense(), atol=1e-6)


def test_crop_may_end_at_the_image_edge_off_stride():
    fit = make_fit([[20.0, 20.0]], 5.0, image_shape=(30, 30))
    kernel = build_kernel(fit, (30, 30), stride=4)

    cropped = kernel.crop(8, 0, 22, 30)

    assert cropped.grid_shape == (6, 8) and cropped.image_shape == (22, 30)


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ((2, 0, 16, 16), "crop top \\(2\\) must be a multiple of the stride"),
        ((0, 0, 18, 16), "must be a multiple of the stride"),
        ((0, 0, 16, 100), "leaves the image"),
        ((0, 0, 0, 16), "must be positive"),
        ((0.5, 0, 16, 16), "integer number of pixels"),
    ],
)
def test_bad_crop_boxes_raise(kernel, box, message):
    with pytest.raises(ValueError, match=message):
        kernel.crop(*box)


@pytest.mark.parametrize("axis", [0, 1])
def test_flip_is_a_row_permutation_and_equals_the_kernel_of_the_mirrored_fit(crowd_fit, axis):
    kernel = build_kernel(crowd_fit, crowd_fit.image_shape, stride=4)
    points = crowd_fit.points.copy()
    points[:, axis] = crowd_fit.image_shape[axis] - 1 - points[:, axis]
    mirrored = make_fit(points, crowd_fit.sigmas, -crowd_fit.angles, crowd_fit.image_shape)

    flipped = kernel.flip(axis)
    direct = build_kernel(mirrored, crowd_fit.image_shape, stride=4)

    grid = kernel.dense().reshape(*kernel.grid_shape, -1)
    np.testing.assert_array_equal(
        flipped.dense(), np.flip(grid, axis=axis).reshape(kernel.matrix.shape)
    )
    np.testing.assert_allclose(flipped.dense(), direct.dense(), atol=1e-6)
    np.testing.assert_allclose(flipped.points, np.clip(points, -0.5, None))


def test_flip_twice_is_the_identity(kernel):
    again = kernel.flip(1).flip(1)

    np.testing.assert_array_equal(again.dense(), kernel.dense())
    np.testing.assert_allclose(again.covariances, kernel.covariances)


def test_flip_needs_an_extent_that_is_a_multiple_of_the_stride():
    fit = make_fit([[5.0, 5.0]], 3.0, image_shape=(30, 32))
    kernel = build_kernel(fit, (30, 32), stride=4)

    kernel.flip(1)
    with pytest.raises(ValueError, match="not a multiple of the stride"):
        kernel.flip(0)
    with pytest.raises(ValueError, match="axis must be 0"):
        kernel.flip(2)


def test_kernel_without_points_crops_and_flips():
    kernel = build_kernel(make_fit(np.zeros((0, 2)), 3.0, image_shape=(32, 32)), (32, 32), 4)

    moved = kernel.crop(8, 0, 16, 32).flip(0)

    assert moved.matrix.shape == (4 * 8, 1)
    np.testing.assert_array_equal(moved.dense(), 1.0)
    index, strength = moved.correspondence()
    assert np.all(index == -1) and np.all(strength == 1.0)


def test_transpose_is_a_row_permutation_and_equals_the_kernel_of_the_transposed_fit(crowd_fit):
    kernel = build_kernel(crowd_fit, crowd_fit.image_shape, stride=4)
    shape = crowd_fit.image_shape[::-1]
    # R(pi/2 - t) swaps the roles of rows and columns: the transposed covariance.
    swapped = make_fit(
        crowd_fit.points[:, ::-1], crowd_fit.sigmas, np.pi / 2 - crowd_fit.angles, shape
    )

    transposed = kernel.transposed()
    direct = build_kernel(swapped, shape, stride=4)

    grid = kernel.dense().reshape(*kernel.grid_shape, -1)
    assert transposed.grid_shape == kernel.grid_shape[::-1]
    assert transposed.image_shape == tuple(shape)
    np.testing.assert_array_equal(
        transposed.dense(), grid.transpose(1, 0, 2).reshape(kernel.matrix.shape)
    )
    np.testing.assert_allclose(transposed.dense(), direct.dense(), atol=1e-6)
    np.testing.assert_allclose(transposed.covariances, direct.covariances, atol=1e-9)
    np.testing.assert_allclose(transposed.points, kernel.points[:, ::-1])


def test_transpose_of_a_cropped_kernel_with_a_ragged_edge():
    fit = make_fit([[5.0, 20.0], [26.0, 9.0]], [3.0, 2.0], [0.3, 1.1], image_shape=(30, 40))
    kernel = build_kernel(fit, (30, 40), stride=4).crop(8, 4, 22, 24)

    again = kernel.transposed().transposed()

    assert kernel.grid_shape == (6, 6) and kernel.image_shape == (22, 24)
    assert kernel.transposed().image_shape == (24, 22)
    np.testing.assert_array_equal(again.dense(), kernel.dense())
    np.testing.assert_allclose(again.points, kernel.points)
    np.testing.assert_allclose(again.covariances, kernel.covariances)
    np.testing.assert_allclose(again.mass, kernel.mass)
