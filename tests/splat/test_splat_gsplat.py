"""The gsplat backend: input conversion (runs anywhere) and agreement with torch (CUDA only)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_gst.splat import gsplat_available, render
from napari_gst.splat.geometry import conics_from
from napari_gst.splat.render_gsplat import ISOLATED_TOLERANCE, gsplat_inputs

needs_gsplat = pytest.mark.skipif(
    not gsplat_available(), reason="gsplat renders only on CUDA with gsplat installed"
)


def test_gsplat_inputs_describe_the_same_gaussian_in_x_y():
    points = torch.tensor([[10.0, 20.0]], dtype=torch.float64)
    sigmas, angles = torch.tensor([[4.0, 1.5]]), torch.tensor([0.7])
    conics = conics_from(sigmas, angles)

    means2d, conics_xy, radii = gsplat_inputs(points, conics, sigmas)

    # Pixel (row 13, col 22) is at gsplat's (x, y) = (22.5, 13.5): same Mahalanobis distance.
    d_row, d_col = 13 - 10.0, 22 - 20.0
    a, b, c = conics[0].tolist()
    ours = a * d_row**2 + 2 * b * d_row * d_col + c * d_col**2
    dx, dy = 22.5 - float(means2d[0, 0]), 13.5 - float(means2d[0, 1])
    xx, xy, yy = conics_xy[0].tolist()
    theirs = xx * dx**2 + 2 * xy * dx * dy + yy * dy**2
    assert theirs == pytest.approx(ours, rel=1e-6)
    assert int(radii.min()) >= 3 * 4.0


@needs_gsplat
def test_gsplat_matches_torch_for_gaussians_that_do_not_overlap():
    points = np.array([[12.0, 12.0], [12.0, 40.0], [40.0, 26.0]])
    sigmas = np.array([[3.0, 1.5], [2.0, 2.0], [4.0, 2.5]])
    angles = np.array([0.3, 0.0, 2.0])
    colours = np.array([[1.0, 0.2, 0.5], [0.4, 0.9, 0.1], [0.7, 0.7, 0.7]])

    on_gpu = render(points, sigmas, angles, colours, (56, 56), backend="gsplat", device="cuda")
    on_torch = render(points, sigmas, angles, colours, (56, 56), backend="torch", device="cuda")

    assert np.abs(on_gpu - on_torch).max() <= ISOLATED_TOLERANCE * colours.max()


@needs_gsplat
def test_gsplat_composites_less_than_the_sum_where_gaussians_overlap():
    points, sigmas = np.array([[20.0, 20.0], [20.0, 22.0]]), np.full((2, 2), 4.0)
    colours = np.ones((2, 1))

    on_gpu = render(points, sigmas, np.zeros(2), colours, (40, 40), backend="gsplat", device="cuda")
    on_torch = render(
        points, sigmas, np.zeros(2), colours, (40, 40), backend="torch", device="cuda"
    )

    assert on_torch[20, 21, 0] > 1.5 and on_gpu[20, 21, 0] <= 1.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_auto_backend_on_cuda_fits_with_either_renderer():
    from napari_gst.splat import fit_gaussians

    rows, cols = np.mgrid[:48, :48]
    image = np.exp(-((rows - 20.0) ** 2 / 18 + (cols - 24.0) ** 2 / 8))

    fit = fit_gaussians(image, [[20, 24]], iterations=50, device="cuda")

    assert fit.settings["backend"] == ("gsplat" if gsplat_available() else "torch")
    assert np.isfinite(fit.psnr)
