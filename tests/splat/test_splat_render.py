"""The windowed torch renderer against the dense reference, and the public render()."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_gst.errors import GSTError
from napari_gst.splat import render
from napari_gst.splat.geometry import CUTOFF_SIGMAS, bucket_radius, conics_from, window_radii
from napari_gst.splat.render_torch import build_layout, render_dense, render_windowed


@pytest.fixture
def random_gaussians() -> dict:
    """Return 25 overlapping Gaussians of many sizes, some on the image border."""
    generator = torch.Generator().manual_seed(3)
    shape = (48, 61)
    points = (
        torch.rand(25, 2, generator=generator, dtype=torch.float64)
        * torch.tensor([shape[0], shape[1]], dtype=torch.float64)
        - 0.5
    )
    points[:3] = torch.tensor([[-0.5, -0.5], [47.5, 60.5], [0.0, 30.0]], dtype=torch.float64)
    sigmas = (1.0 + 9.0 * torch.rand(25, 2, generator=generator)).requires_grad_()
    angles = (6.0 * torch.rand(25, generator=generator)).requires_grad_()
    colours = torch.rand(25, 3, generator=generator).requires_grad_()
    return {
        "points": points,
        "sigmas": sigmas,
        "angles": angles,
        "colours": colours,
        "shape": shape,
    }


def _windowed(case: dict, hand_backward: bool = True) -> torch.Tensor:
    radii = window_radii(case["sigmas"], case["angles"])
    layout = build_layout(case["points"], radii, case["shape"])
    conics = conics_from(case["sigmas"], case["angles"])
    return render_windowed(conics, case["colours"], layout, hand_backward=hand_backward)


def test_windowed_render_equals_dense_render(random_gaussians):
    case = random_gaussians
    dense = render_dense(
        case["points"], conics_from(case["sigmas"], case["angles"]), case["colours"], case["shape"]
    )

    windowed = _windowed(case)

    assert windowed.shape == (*case["shape"], 3)
    torch.testing.assert_close(windowed, dense, atol=1e-5, rtol=1e-5)


def test_render_cuts_each_gaussian_at_three_sigma():
    # An axis-aligned Gaussian with sigma 2 along rows: row offset 6 is the edge, 7 is outside.
    image = render([[20.0, 20.0]], [[2.0, 1.0]], [0.0], [[1.0]], (41, 41), backend="torch")

    assert image[20 + 6, 20, 0] == pytest.approx(np.exp(-0.5 * CUTOFF_SIGMAS**2), rel=1e-5)
    assert image[20 + 7, 20, 0] == 0.0
    assert image[20, 20 + 3, 0] == pytest.approx(np.exp(-4.5), rel=1e-5)
    assert image[20, 20 + 4, 0] == 0.0


def test_hand_written_backward_matches_autograd(random_gaussians):
    case = random_gaussians
    weights = torch.randn(*case["shape"], 3, generator=torch.Generator().manual_seed(1))
    inputs = [case["sigmas"], case["angles"], case["colours"]]

    hand = torch.autograd.grad((_windowed(case, True) * weights).sum(), inputs)
    auto = torch.autograd.grad((_windowed(case, False) * weights).sum(), inputs)

    for got, expected in zip(hand, auto, strict=True):
        torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_angle_convention_puts_first_sigma_along_cos_sin():
    # angle pi/2: sigma1 lies along (cos, sin) = (0, 1), i.e. along the columns.
    image = render([[15.0, 15.0]], [[4.0, 1.0]], [np.pi / 2], [[1.0]], (31, 31), backend="torch")

    assert image[15, 19, 0] > 0.5  # one sigma1 away along the columns
    assert image[19, 15, 0] == 0.0  # four sigma2 away along the rows


def test_render_returns_numpy_for_arrays_and_tensor_for_tensors():
    as_array = render([[5, 5]], [[2, 2]], [0], [[1, 0.5]], (10, 12), backend="torch")
    colours = torch.tensor([[1.0, 0.5]], requires_grad=True)
    as_tensor = render([[5, 5]], [[2, 2]], [0], colours, (10, 12), backend="torch")

    assert isinstance(as_array, np.ndarray) and as_array.shape == (10, 12, 2)
    assert isinstance(as_tensor, torch.Tensor) and as_tensor.requires_grad
    np.testing.assert_allclose(as_tensor.detach().numpy(), as_array)


def test_render_without_points_is_black():
    image = render(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros((0, 3)), (4, 5))

    assert image.shape == (4, 5, 3) and not image.any()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (([[1, 1]], [[1, 1, 1]], [0], [[1]], (8, 8)), "sigmas must have shape"),
        (([[1, 1]], [[1, 1]], [0, 1], [[1]], (8, 8)), "angles must have shape"),
        (([[1, 1]], [[1, -1]], [0], [[1]], (8, 8)), "sigmas must be positive"),
        (([[1, 1]], [[1, 1]], [np.nan], [[1]], (8, 8)), "angles contains NaN"),
        (([[20, 1]], [[1, 1]], [0], [[1]], (8, 8)), "outside the image"),
    ],
)
def test_render_rejects_bad_input_with_a_message(arguments, message):
    with pytest.raises(ValueError, match=message):
        render(*arguments, backend="torch")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_gsplat_backend_without_cuda_is_a_clear_error():
    with pytest.raises(GSTError, match="gsplat' needs a CUDA GPU"):
        render([[1, 1]], [[1, 1]], [0], [[1]], (8, 8), backend="gsplat")


def test_bucket_radius_wastes_little_and_never_shrinks():
    for radius in range(1, 300):
        bucket = bucket_radius(radius)
        assert radius <= bucket < 1.25 * radius
