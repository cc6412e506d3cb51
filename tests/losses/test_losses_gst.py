"""GSTLoss: L_BT = || K^T zeta - zeta_g ||_1, summed over a batch and divided by B."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from losses_helpers import exact_density, make_kernel, make_target

from napari_gst.errors import GSTError
from napari_gst.losses import GSTLoss


def _as_batch(*maps) -> torch.Tensor:
    return torch.stack([torch.as_tensor(m, dtype=torch.float64) for m in maps])[:, None]


def test_loss_is_zero_when_the_density_sends_one_unit_to_each_point(points):
    kernel = make_kernel(points, sigma=5.0, background=False)
    density = _as_batch(exact_density(kernel))

    loss = GSTLoss()(density, [kernel])

    assert density.sum().item() == pytest.approx(5.0)
    assert loss.item() == pytest.approx(0.0, abs=1e-5)


def test_loss_equals_the_dense_formula(kernel, density):
    loss = GSTLoss()(density, [kernel])

    dense = kernel.dense().astype(np.float64)
    received = dense.T @ density.detach().numpy().ravel()
    assert loss.item() == pytest.approx(np.abs(received - kernel.target()).sum(), rel=1e-6)


def test_gradient_matches_finite_differences(kernel, density):
    assert torch.autograd.gradcheck(lambda d: GSTLoss()(d, [kernel]), (density,))


def test_gradient_is_k_times_the_sign_of_the_residual(kernel, density):
    GSTLoss()(density, [kernel]).backward()

    dense = kernel.dense().astype(np.float64)
    residual = dense.T @ density.detach().numpy().ravel() - kernel.target()
    expected = dense @ np.sign(residual)
    np.testing.assert_allclose(density.grad.numpy().ravel(), expected, rtol=1e-6)


def test_smooth_option_is_the_smooth_l1_of_the_residual(kernel, density):
    dense = kernel.dense().astype(np.float64)
    residual = dense.T @ density.detach().numpy().ravel() - kernel.target()
    smooth = 0.5
    small = np.abs(residual) < smooth
    expected = np.where(small, 0.5 * residual**2 / smooth, np.abs(residual) - 0.5 * smooth)

    loss = GSTLoss(smooth=smooth)(density, [kernel])

    assert small.any() and (~small).any(), "the fixture should test both branches"
    assert loss.item() == pytest.approx(expected.sum(), rel=1e-6)
    assert torch.autograd.gradcheck(lambda d: GSTLoss(smooth=smooth)(d, [kernel]), (density,))


def test_smooth_gradient_vanishes_at_the_target_where_the_l1_one_does_not(points):
    kernel = make_kernel(points, sigma=5.0, background=False)
    density = _as_batch(exact_density(kernel) * 1.001).requires_grad_(True)

    GSTLoss(smooth=0.5)(density, [kernel]).backward()
    smooth_grad = density.grad.abs().max().item()
    density.grad = None
    GSTLoss()(density, [kernel]).backward()

    assert smooth_grad < 0.01 * density.grad.abs().max().item()


@pytest.mark.parametrize("smooth", [-0.1, float("nan"), float("inf"), "0.5", True])
def test_bad_smooth_is_refused_by_name(smooth):
    with pytest.raises(GSTError, match="smooth"):
        GSTLoss(smooth=smooth)


def test_batch_loss_is_the_mean_of_the_single_losses(kernel, points):
    other = make_kernel(points[:2], sigma=3.0)
    maps = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    loss = GSTLoss()

    both = loss(maps, [kernel, other])
    singles = loss(maps[:1], [kernel]) + loss(maps[1:], [other])

    assert both.item() == pytest.approx(singles.item() / 2)


def test_image_without_points_sends_everything_to_background():
    kernel = make_kernel(np.zeros((0, 2)))
    density = torch.rand(1, 1, 8, 8, dtype=torch.float64)

    loss = GSTLoss()(density, [kernel])

    assert loss.item() == pytest.approx(density.sum().item())


def test_crop_that_cuts_points_asks_for_their_fraction(points):
    kernel = make_kernel(points, sigma=5.0, background=False).crop(0, 0, 32, 20)
    density = _as_batch(exact_density(kernel))

    loss = GSTLoss()(density, [kernel])

    assert 0 < kernel.mass.min() < 1  # the crop cuts at least one point
    assert density.sum().item() == pytest.approx(kernel.mass.sum())
    assert loss.item() == pytest.approx(0.0, abs=1e-5)


def test_channels_use_one_kernel_each_and_sum(points):
    first = make_kernel(points[:1], sigma=4.0)
    second = make_kernel(points[3:4], sigma=4.0)
    density = torch.rand(1, 2, 8, 8, dtype=torch.float64)
    loss = GSTLoss()

    both = loss(density, [[first, second]])

    parts = loss(density[:, :1], [first]) + loss(density[:, 1:], [second])
    assert both.item() == pytest.approx(parts.item())


def test_float32_density_works_on_the_float32_kernel(kernel):
    density = torch.rand(1, 1, 8, 8, requires_grad=True)

    GSTLoss()(density, [kernel]).backward()

    assert density.grad.dtype == torch.float32 and torch.isfinite(density.grad).all()


@pytest.mark.parametrize(
    ("density", "targets", "message"),
    [
        (torch.rand(8, 8), None, "shape \\(B, C, h, w\\)"),
        (torch.rand(1, 1, 16, 16), None, "density map 0 is \\(16, 16\\) but its target"),
        (torch.rand(2, 1, 8, 8), "one", "targets has 1 entries but density a batch of 2"),
        (torch.rand(1, 2, 8, 8), None, "must be a sequence of 2 targets"),
        (np.zeros((1, 1, 8, 8)), None, "density must be a torch.Tensor"),
        (torch.zeros(1, 1, 8, 8, dtype=torch.int64), None, "floating-point"),
    ],
)
def test_wrong_shapes_raise_clear_errors(kernel, density, targets, message):
    targets = [kernel] if targets in (None, "one") else targets

    with pytest.raises(ValueError, match=message):
        GSTLoss()(density, targets)


def test_point_targets_are_refused_with_a_hint(points):
    with pytest.raises(ValueError, match="GSTLoss needs TransportKernel targets"):
        GSTLoss()(torch.rand(1, 1, 8, 8), [make_target(points)])


def test_real_cells_a_dot_density_beats_a_uniform_one(vgg_cells_dir):
    from skimage.io import imread

    dots = imread(vgg_cells_dir / "001dots.png")
    points = np.argwhere(dots[..., 0] > 0).astype(np.float64)
    kernel = make_kernel(points, sigma=4.0, image_shape=(256, 256), stride=8)
    on_dots = np.zeros(kernel.grid_shape)
    np.add.at(on_dots, tuple((points // 8).astype(int).T), 1.0)
    uniform = np.full(kernel.grid_shape, len(points) / on_dots.size)

    loss = GSTLoss()
    at_dots = loss(_as_batch(on_dots), [kernel]).item()
    spread = loss(_as_batch(uniform), [kernel]).item()

    assert len(points) > 100
    assert at_dots < 0.5 * spread


def test_torch_sparse_path_used_on_gpus_agrees_with_the_cpu_path(kernel):
    from napari_gst.losses.gst import _multiply

    vector = torch.rand(64, dtype=torch.float64)
    grad = torch.rand(kernel.n_points + 1, dtype=torch.float64)

    for values, transpose in ((vector, True), (grad, False)):
        on_cpu = _multiply(kernel, values, transpose=transpose, use_scipy=True)
        with_torch = _multiply(kernel, values, transpose=transpose, use_scipy=False)
        torch.testing.assert_close(with_torch, on_cpu)


def test_count_weight_adds_the_error_of_the_total(kernel, density):
    plain = GSTLoss()(density, [kernel]).item()
    total_error = abs(density.sum().item() - kernel.target().sum())

    loss = GSTLoss(count_weight=2.0)(density, [kernel])

    assert total_error > 0.1, "the fixture's total should be off"
    assert loss.item() == pytest.approx(plain + 2.0 * total_error, rel=1e-6)
    assert torch.autograd.gradcheck(lambda d: GSTLoss(count_weight=2.0)(d, [kernel]), (density,))


def test_count_term_pushes_every_cell_by_the_sign_of_the_total_error(points):
    kernel = make_kernel(points, sigma=5.0, background=False)
    density = _as_batch(exact_density(kernel) * 1.2).requires_grad_(True)
    GSTLoss()(density, [kernel]).backward()
    plain = density.grad.clone()
    density.grad = None

    GSTLoss(count_weight=0.5)(density, [kernel]).backward()

    np.testing.assert_allclose((density.grad - plain).numpy(), 0.5)


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf"), "1", False])
def test_bad_count_weight_is_refused_by_name(weight):
    with pytest.raises(GSTError, match="count_weight"):
        GSTLoss(count_weight=weight)
