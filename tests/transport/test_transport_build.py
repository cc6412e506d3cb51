"""build_kernel: the sparse posterior agrees with the dense formula of method.md."""

from __future__ import annotations

import numpy as np
import pytest
from transport_helpers import dense_posterior, make_fit

from napari_gst.transport import DEFAULT_CUTOFF, build_kernel, truncation_bound


def test_sparse_kernel_equals_dense_reference_with_the_same_cutoff(crowd_fit):
    kernel = build_kernel(crowd_fit, crowd_fit.image_shape, stride=4)

    reference = dense_posterior(kernel, cutoff=DEFAULT_CUTOFF)

    assert kernel.matrix.shape == (16 * 20, 26)
    np.testing.assert_allclose(kernel.dense(), reference, atol=1e-5)


@pytest.mark.parametrize("cutoff", [3.0, 4.0, 5.0])
def test_truncation_error_is_within_the_documented_bound(crowd_fit, cutoff):
    kernel = build_kernel(crowd_fit, crowd_fit.image_shape, stride=2, cutoff=cutoff)
    exact = dense_posterior(kernel)
    truncated = dense_posterior(kernel, cutoff=cutoff)
    delta = truncation_bound(cutoff, kernel.settings["sigma_range"])

    dropped = (np.abs(truncated[:, :-1]) == 0) & (exact[:, :-1] > 0)
    row_error = np.abs(kernel.dense() - exact).sum(axis=1)

    # Row L1 error <= 2 * (number of cut-off annotations) * delta (float32 storage aside).
    assert np.all(row_error <= 2 * dropped.sum(axis=1) * delta + 1e-5)
    assert row_error.max() > 0  # the small cut-offs really do drop something


def test_default_cutoff_keeps_the_kernel_within_1e5_of_the_untruncated_posterior(crowd_fit):
    kernel = build_kernel(crowd_fit, crowd_fit.image_shape, stride=4)

    np.testing.assert_allclose(kernel.dense(), dense_posterior(kernel), atol=1e-5)


def test_rows_sum_to_one_and_background_is_last(crowd_fit):
    kernel = build_kernel(crowd_fit, crowd_fit.image_shape, stride=8)

    np.testing.assert_allclose(kernel.matrix.sum(axis=1), 1.0, atol=1e-6)
    assert kernel.matrix.dtype == np.float32
    assert kernel.target().tolist() == [1.0] * 25 + [0.0]


def test_zero_points_give_an_all_background_kernel():
    fit = make_fit(np.zeros((0, 2)), 3.0, image_shape=(30, 41))

    kernel = build_kernel(fit, (30, 41), stride=4)

    assert kernel.grid_shape == (8, 11)
    assert kernel.matrix.shape == (88, 1)
    np.testing.assert_array_equal(kernel.dense(), 1.0)
    assert kernel.target().tolist() == [0.0]


def test_cells_beyond_the_cutoff_of_every_point_are_pure_background():
    fit = make_fit([[10.0, 10.0]], 4.0, image_shape=(64, 64))

    kernel = build_kernel(fit, (64, 64), stride=4, sigma_range=(4.0, 4.0), cutoff=3.0)

    dense = kernel.dense().reshape(16, 16, 2)
    far = dense[8:, 8:]  # cell centres >= 22 px (5.5 sigma) away
    np.testing.assert_array_equal(far[..., 1], 1.0)
    np.testing.assert_array_equal(far[..., 0], 0.0)


def test_point_near_a_cell_takes_almost_all_its_mass():
    fit = make_fit([[9.5, 13.5]], 8.0, image_shape=(32, 32))

    kernel = build_kernel(fit, (32, 32), stride=4)

    row = 2 * 8 + 3  # the cell centred on (9.5, 13.5)
    assert kernel.dense()[row, 0] > 0.99


def test_border_points_match_the_reference():
    fit = make_fit(
        [[-0.5, -0.5], [31.5, 0.0], [15.0, 31.5]], [[3.0, 9.0]], [0.3, 1.0, 2.0], (32, 32)
    )

    kernel = build_kernel(fit, (32, 32), stride=4, sigma_range=(2.0, 12.0))

    np.testing.assert_allclose(kernel.dense(), dense_posterior(kernel, cutoff=6.0), atol=1e-5)
    assert np.all(kernel.matrix.sum(axis=0)[:3] > 0.5)


def test_duplicate_points_share_their_cells_equally():
    fit = make_fit([[20.0, 20.0], [20.0, 20.0], [40.0, 12.0]], [[6.0, 3.0]], [0.4, 0.4, 0.0])

    kernel = build_kernel(fit, (64, 64), stride=4)

    dense = kernel.dense()
    np.testing.assert_allclose(dense[:, 0], dense[:, 1], atol=1e-7)
    np.testing.assert_allclose(dense, dense_posterior(kernel, cutoff=6.0), atol=1e-5)


def test_sigmas_are_clamped_to_the_sigma_range():
    fit = make_fit([[20.0, 20.0], [40.0, 40.0]], [[0.5, 50.0]], [0.0, 0.7])

    kernel = build_kernel(fit, (64, 64), stride=8)

    eigenvalues = np.linalg.eigvalsh(kernel.covariances)
    np.testing.assert_allclose(eigenvalues, [[25.0, 400.0]] * 2)  # (0.625 x 8)^2, (2.5 x 8)^2


def test_rescaled_kernel_equals_kernel_of_the_rescaled_fit(crowd_fit):
    scale = 1.5
    moved = (crowd_fit.points + 0.5) * scale - 0.5
    shape = (96, 120)
    rescaled_fit = make_fit(moved, crowd_fit.sigmas * scale, crowd_fit.angles, shape)

    kernel = build_kernel(crowd_fit, shape, stride=4, scale=scale)
    direct = build_kernel(rescaled_fit, shape, stride=4)

    assert kernel.image_shape == shape and kernel.grid_shape == (24, 30)
    np.testing.assert_allclose(kernel.points, np.clip(moved, -0.5, [95.5, 119.5]))
    np.testing.assert_allclose(kernel.dense(), direct.dense(), atol=1e-6)


def test_rescale_shape_must_match_the_scale(crowd_fit):
    with pytest.raises(ValueError, match="does not match the fitted image"):
        build_kernel(crowd_fit, (64, 80), stride=4, scale=0.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stride": -4}, "stride must be a positive integer"),
        ({"stride": 2.5}, "stride must be a positive integer"),
        ({"sigma_range": (5.0, 2.0)}, "sigma_range must satisfy"),
        ({"sigma_range": 3.0}, "sigma_range must be"),
        ({"cutoff": -1.0}, "cutoff must be a positive number"),
        ({"cutoff": 50.0}, "cutoff must be at most"),
        ({"beta": 0.0}, "beta must be a positive number"),
        ({"shape": (0, 10)}, "shape must be positive"),
    ],
)
def test_bad_arguments_raise_clear_value_errors(crowd_fit, kwargs, message):
    arguments = {"shape": crowd_fit.image_shape, "stride": 4, **kwargs}

    with pytest.raises(ValueError, match=message):
        build_kernel(crowd_fit, **arguments)


def test_a_non_fit_is_refused():
    with pytest.raises(ValueError, match="fit must be a GaussianFit"):
        build_kernel(np.zeros((3, 2)), (10, 10), 2)


def test_truncation_bound_shrinks_fast_with_the_cutoff():
    bounds = [truncation_bound(r, (8.0, 20.0)) for r in (4.0, 6.0, 8.0)]

    assert bounds[0] > bounds[1] > bounds[2]
    assert bounds[1] < 1e-4
