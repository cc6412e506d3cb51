"""The data-driven start: spacing with duplicates, the region, and a real VGG cells image."""

from __future__ import annotations

import numpy as np

from napari_gst.splat import fit_gaussians
from napari_gst.splat.initialise import fit_region, initial_sigmas, neighbour_spacing


def test_spacing_is_the_mean_distance_to_three_nearest_other_points():
    points = np.array([[0.0, 0.0], [0.0, 3.0], [4.0, 0.0], [0.0, -6.0], [40.0, 40.0]])

    spacing = neighbour_spacing(points)

    assert spacing[0] == np.float64((3 + 4 + 6) / 3)


def test_duplicates_take_the_spacing_of_their_real_neighbours():
    points = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 12.0], [12.0, 0.0]])

    spacing = neighbour_spacing(points)

    assert spacing[0] == spacing[1] > 0


def test_lone_point_starts_at_the_default_sigma_and_small_spacings_at_one_pixel():
    assert initial_sigmas(np.array([[5.0, 5.0]]), 7.0).tolist() == [7.0]
    assert initial_sigmas(np.array([[5.0, 5.0], [5.0, 6.0]]), 7.0).tolist() == [1.0, 1.0]


def test_region_is_the_union_of_half_spacing_discs():
    points = np.array([[20.0, 20.0], [20.0, 44.0]])  # spacing 24: discs of radius 12

    region = fit_region(points, (40, 64), default_sigma=8.0)

    assert region[20, 32] and region[8, 20] and not region[7, 20] and not region[20, 7]
    assert (
        region.sum() == 2 * np.count_nonzero((np.mgrid[-12:13, -12:13] ** 2).sum(0) <= 144) - 1
    )  # the two discs touch in one pixel


def test_fit_on_a_real_vgg_cells_image(vgg_cells_dir):
    from skimage.io import imread

    image = imread(vgg_cells_dir / "001cell.png")[..., :3]
    dots = imread(vgg_cells_dir / "001dots.png")[..., :3].astype(int)
    points = np.argwhere((dots[..., 0] > 200) & (dots[..., 1] < 60) & (dots[..., 2] < 60))

    fit = fit_gaussians(image[:96, :96], points[(points < 95).all(axis=1)], device="cpu")

    assert fit.n_points > 10 and fit.psnr > 20
    assert np.all(fit.anisotropy() <= 1.5 + 1e-9)
