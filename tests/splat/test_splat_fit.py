"""fit_gaussians: recovering known shapes, deformity elimination, edge cases, cancelling."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.errors import Cancelled
from napari_gst.splat import GaussianFit, fit_gaussians


def _covariances(sigmas: np.ndarray, angles: np.ndarray) -> np.ndarray:
    return GaussianFit(
        np.zeros((len(angles), 2)), sigmas, angles, np.zeros((len(angles), 1)), 0.0, (1, 1)
    ).covariances()


def _canonical(sigmas: np.ndarray, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return scales sorted major first and the major axis angle modulo pi."""
    swap = sigmas[:, 1] > sigmas[:, 0]
    ordered = np.where(swap[:, None], sigmas[:, ::-1], sigmas)
    return ordered, np.mod(angles + swap * np.pi / 2, np.pi)


def test_fit_recovers_known_scales_and_angles(known_gaussians):
    truth = known_gaussians

    fit = fit_gaussians(
        truth["image"], truth["points"], deformity_elimination=False, iterations=300, device="cpu"
    )

    fitted_sigmas, fitted_angles = _canonical(fit.sigmas, fit.angles)
    true_sigmas, true_angles = _canonical(truth["sigmas"], truth["angles"])
    np.testing.assert_allclose(fitted_sigmas, true_sigmas, rtol=0.05)
    elongated = true_sigmas[:, 0] > 1.2 * true_sigmas[:, 1]
    angle_error = np.abs(np.angle(np.exp(2j * (fitted_angles - true_angles)))) / 2
    assert np.all(angle_error[elongated] < 0.05)
    np.testing.assert_allclose(
        fit.covariances(), _covariances(truth["sigmas"], truth["angles"]), atol=0.1 * 25
    )
    np.testing.assert_allclose(fit.colours, truth["colours"], atol=0.03)
    assert fit.psnr > 35


def test_deformity_elimination_keeps_every_gaussian_within_the_threshold(known_gaussians):
    truth = known_gaussians  # several true shapes are more elongated than 1.5

    fit = fit_gaussians(
        truth["image"], truth["points"], anisotropy_threshold=1.5, iterations=100, device="cpu"
    )

    assert np.all(fit.anisotropy() <= 1.5 + 1e-9)
    assert fit.settings["deformity_elimination"] is True


def test_without_deformity_elimination_elongated_shapes_survive(known_gaussians):
    truth = known_gaussians

    fit = fit_gaussians(
        truth["image"], truth["points"], deformity_elimination=False, iterations=100, device="cpu"
    )

    assert fit.anisotropy().max() > 1.5


def test_automatic_stop_is_close_to_a_long_fit(known_gaussians):
    # Camera-like noise, as in the speed target (within 0.5 dB of a long fit).
    noise = np.random.default_rng(0).normal(0, 0.02, known_gaussians["image"].shape)
    image = np.clip(known_gaussians["image"] + noise, 0, 1)

    quick = fit_gaussians(image, known_gaussians["points"], device="cpu")
    long = fit_gaussians(image, known_gaussians["points"], iterations=300, device="cpu")

    assert sum(quick.settings["iterations_run"]) < 300
    assert quick.psnr > long.psnr - 0.5


def test_zero_points_give_an_empty_fit():
    fit = fit_gaussians(np.ones((20, 30, 3)), np.zeros((0, 2)))

    assert fit.n_points == 0 and fit.colours.shape == (0, 3)
    assert np.isnan(fit.psnr) and fit.image_shape == (20, 30)


def test_duplicate_points_each_get_a_gaussian(known_gaussians):
    points = np.concatenate([known_gaussians["points"], known_gaussians["points"][:2]])

    fit = fit_gaussians(known_gaussians["image"], points, iterations=60, device="cpu")

    assert fit.n_points == len(points)
    assert np.all(np.isfinite(fit.sigmas)) and np.all(fit.sigmas >= 1.0)
    np.testing.assert_allclose(fit.sigmas[-2:], fit.sigmas[:2])  # same data, same start


def test_points_on_the_border_and_corners_fit(known_gaussians):
    image = known_gaussians["image"]
    points = [[-0.5, -0.5], [0.0, 60.0], [119.5, 119.5], [60.0, 119.4], [60.0, 60.0]]

    fit = fit_gaussians(image, points, iterations=30, device="cpu")

    assert fit.n_points == 5 and np.isfinite(fit.psnr)


def test_single_point_starts_from_default_sigma():
    rows, cols = np.mgrid[:40, :40]
    image = np.exp(-((rows - 20.0) ** 2 + (cols - 20.0) ** 2) / (2 * 5.0**2))

    fit = fit_gaussians(image, [[20, 20]], default_sigma=5.0, iterations=0, device="cpu")

    np.testing.assert_allclose(fit.sigmas, [[5.0, 5.0]], rtol=1e-5)
    assert fit.colours[0, 0] == pytest.approx(1.0)


def test_colour_is_sampled_at_row_col_not_col_row():
    image = np.zeros((30, 30, 3))
    image[5, 20] = [1.0, 0.0, 0.0]  # row 5, col 20 is red; row 20, col 5 is green
    image[20, 5] = [0.0, 1.0, 0.0]

    fit = fit_gaussians(image, [[5, 20], [20, 5]], iterations=0, device="cpu")

    np.testing.assert_allclose(fit.colours, [[1, 0, 0], [0, 1, 0]], atol=1e-6)


def test_greyscale_integer_image_gives_one_channel():
    image = (np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)

    fit = fit_gaussians(image, [[10, 10], [20, 20]], iterations=5, device="cpu")

    assert fit.colours.shape == (2, 1) and fit.settings["iterations"] == 5


def test_progress_is_reported_and_should_stop_cancels(known_gaussians):
    calls: list[tuple[int, int]] = []

    fit_gaussians(
        known_gaussians["image"],
        known_gaussians["points"],
        iterations=20,
        progress=lambda done, total: calls.append((done, total)),
        device="cpu",
    )
    assert calls[-1] == (20, 20) and len(calls) == 20

    polls = iter(range(100))
    with pytest.raises(Cancelled, match="stopped after 3 of 50"):
        fit_gaussians(
            known_gaussians["image"],
            known_gaussians["points"],
            iterations=50,
            should_stop=lambda: next(polls) >= 3,
            device="cpu",
        )


@pytest.mark.parametrize(
    ("image", "points", "options", "message"),
    [
        (np.full((8, 8), np.nan), [[1, 1]], {}, "image contains NaN"),
        (np.zeros((0, 8)), [[1, 1]], {}, "image is empty"),
        (np.zeros((2, 8, 8, 3)), [[1, 1]], {}, "image must be 2D"),
        (np.zeros((8, 8)), [[1, np.nan]], {}, "points contains NaN"),
        (np.zeros((8, 8)), [[1, 2, 3]], {}, r"points must have shape \(N, 2\)"),
        (np.zeros((8, 8)), [[9, 1]], {}, "outside the image"),
        (np.zeros((8, 8)), [[1, 1]], {"anisotropy_threshold": 0.5}, "anisotropy_threshold"),
        (np.zeros((8, 8)), [[1, 1]], {"learning_rate": 0}, "learning_rate must be >"),
        (np.zeros((8, 8)), [[1, 1]], {"iterations": -1}, "iterations must be"),
        (np.zeros((8, 8)), [[1, 1]], {"default_sigma": 0.5}, "default_sigma must be >="),
        (np.zeros((8, 8)), [[1, 1]], {"backend": "opengl"}, "backend must be one of"),
        (np.zeros((8, 8)), [[1, 1]], {"device": "tpu"}, "device must be"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_problem(image, points, options, message):
    with pytest.raises(ValueError, match=message):
        fit_gaussians(image, points, **options)
