"""Baseline losses (L2 regression, Bayesian loss, DM-Count OT) behind the same interface."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from losses_helpers import make_kernel, make_target
from scipy.special import softmax

from napari_gst.losses import BayesianLoss, L2DensityLoss, OTLoss
from napari_gst.losses.l2 import adaptive_sigmas
from napari_gst.losses.ot import sinkhorn_dual


def _centres(grid, stride):
    rows, cols = np.meshgrid(np.arange(grid[0]), np.arange(grid[1]), indexing="ij")
    return np.stack([rows.ravel(), cols.ravel()], 1) * stride + (stride - 1) / 2


# --- L2 -----------------------------------------------------------------------------------


def test_l2_target_preserves_the_count_even_at_the_border():
    target = make_target([[0.0, 0.0], [16.0, 31.5], [10.0, 10.0]])

    dot_map = L2DensityLoss(sigma=6.0).target_map(target)

    assert dot_map.shape == (8, 8)
    assert dot_map.sum() == pytest.approx(3.0)
    assert np.unravel_index(dot_map.argmax(), dot_map.shape) == (0, 0)


def test_l2_loss_is_zero_on_its_own_target_and_positive_elsewhere(target):
    loss = L2DensityLoss(sigma=4.0)
    exact = torch.as_tensor(loss.target_map(target))[None, None]

    assert loss(exact, [target]).item() == pytest.approx(0.0, abs=1e-12)
    assert loss(exact * 1.1, [target]).item() > 0


def test_adaptive_sigmas_follow_the_neighbour_distance():
    points = np.array([[0.0, 0.0], [0.0, 10.0], [0.0, 20.0], [0.0, 100.0]])

    sigmas = adaptive_sigmas(points, default=4.0, k=1, beta=0.3)

    np.testing.assert_allclose(sigmas, [3.0, 3.0, 3.0, 24.0])
    assert adaptive_sigmas(points[:1], default=4.0).tolist() == [4.0]


def test_l2_gradcheck(target, density):
    loss = L2DensityLoss(adaptive=True)

    assert torch.autograd.gradcheck(lambda d: loss(d, [target]), (density,))


# --- Bayesian ----------------------------------------------------------------------------


def test_bayesian_loss_matches_the_original_formula(target, density):
    value = BayesianLoss()(density, [target]).item()

    # Ma et al.'s code: dist^2 to each point, background (d - sqrt(min dist^2))^2 with
    # d = 0.15 * min(H, W), softmax of -dist^2 / (2 sigma^2) over points + background.
    distances = ((_centres((8, 8), 4)[None] - target.points[:, None]) ** 2).sum(-1)
    background = (0.15 * 32 - np.sqrt(distances.min(0))) ** 2
    posterior = softmax(-np.vstack([distances, background]) / (2 * 8.0**2), axis=0)
    expected = posterior @ density.detach().numpy().ravel()
    assert value == pytest.approx(np.abs(expected - target.target()).sum(), rel=1e-9)


def test_bayesian_gradcheck_and_empty_image(target, density):
    loss = BayesianLoss()

    assert torch.autograd.gradcheck(lambda d: loss(d, [target]), (density,))
    empty = make_target(np.zeros((0, 2)))
    assert loss(density, [empty]).item() == pytest.approx(density.sum().item())


def test_baselines_accept_transport_kernels_as_targets(kernel, target, density):
    for loss in (BayesianLoss(), L2DensityLoss(), OTLoss()):
        assert loss(density, [kernel]).item() == pytest.approx(loss(density, [target]).item())


# --- OT (DM-Count) -----------------------------------------------------------------------


def test_sinkhorn_dual_gives_the_marginals():
    cost = torch.tensor([[0.0, 4.0, 16.0], [16.0, 4.0, 0.0]], dtype=torch.float64)
    source = torch.tensor([0.5, 0.5], dtype=torch.float64)
    target = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)

    beta = sinkhorn_dual(source, target, cost, reg=1.0, iterations=500)

    gibbs = torch.exp(-cost)
    v = torch.exp(beta)
    u = source / (gibbs @ v)
    plan = u[:, None] * gibbs * v[None, :]
    torch.testing.assert_close(plan.sum(0), target, atol=1e-6, rtol=0)
    torch.testing.assert_close(plan.sum(1), source, atol=1e-6, rtol=0)


def test_ot_count_and_tv_terms_pass_gradcheck(target, density):
    loss = OTLoss(ot_weight=0.0)

    assert torch.autograd.gradcheck(lambda d: loss(d, [target]), (density,))


def test_ot_gradient_step_lowers_the_transport_cost(target):
    density = torch.full((1, 1, 8, 8), 5.0 / 64, dtype=torch.float64, requires_grad=True)
    loss = OTLoss(ot_weight=1.0, count_weight=0.0, tv_weight=0.0)
    cost = torch.as_tensor(((_centres((8, 8), 4)[None] - target.points[:, None]) ** 2).sum(-1))

    def transport_cost(d):
        normed = (d / d.sum()).reshape(-1)
        mass = torch.full((5,), 0.2, dtype=torch.float64)
        beta = sinkhorn_dual(mass, normed, cost, 10.0, 100)
        return float((normed * beta).sum())

    loss(density, [target]).backward()
    stepped = (density - 0.002 * density.grad).detach().clamp_min(1e-9)

    assert transport_cost(stepped) < transport_cost(density.detach())


def test_ot_loss_of_an_empty_image_is_the_count(density):
    empty = make_target(np.zeros((0, 2)))

    value = OTLoss()(density, [empty]).item()

    assert value == pytest.approx(density.sum().item())


@pytest.mark.parametrize("loss", [L2DensityLoss(), BayesianLoss(), OTLoss()])
def test_baseline_batches_are_means(loss, target, points):
    other = make_target(points[:2])
    maps = torch.rand(2, 1, 8, 8, dtype=torch.float64)

    both = loss(maps, [target, other]).item()
    singles = loss(maps[:1], [target]).item() + loss(maps[1:], [other]).item()

    assert both == pytest.approx(singles / 2)


@pytest.mark.parametrize("loss", [L2DensityLoss(), BayesianLoss(), OTLoss()])
def test_baselines_check_the_density_shape(loss, target):
    with pytest.raises(ValueError, match="density map 0 is \\(9, 8\\)"):
        loss(torch.rand(1, 1, 9, 8), [target])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: L2DensityLoss(sigma=-1.0), "sigma must be a positive"),
        (lambda: BayesianLoss(sigma=0.0), "must be positive"),
        (lambda: OTLoss(reg=0.0), "reg must be > 0"),
        (lambda: OTLoss(tv_weight=-1.0), "non-negative"),
    ],
)
def test_bad_options_raise(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_kernels_and_point_targets_give_the_same_dot_map(points):
    kernel = make_kernel(points)

    assert L2DensityLoss().target_map(kernel).sum() == pytest.approx(5.0)
