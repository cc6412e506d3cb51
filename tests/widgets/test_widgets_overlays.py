"""Overlay geometry and colours: what the kernel preview draws, checked without a viewer."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.widgets._overlays import (
    annotation_colours,
    correspondence_rgba,
    ellipse_corners,
    stride_geometry,
)


def test_ellipse_long_axis_follows_the_fit_angle():
    # sigmas[:, 0] lies along (cos t, sin t) in (row, col): t = 0 is along the rows.
    corners = ellipse_corners(np.array([[10.0, 20.0]]), np.array([[3.0, 1.0]]), np.zeros(1))[0]

    assert np.ptp(corners[:, 0]) == pytest.approx(12.0)  # 2 sigma each side along rows
    assert np.ptp(corners[:, 1]) == pytest.approx(4.0)
    np.testing.assert_allclose(corners.mean(axis=0), [10.0, 20.0])


def test_rotated_ellipse_keeps_its_axis_lengths():
    angle = np.pi / 3
    corners = ellipse_corners(np.zeros((1, 2)), np.array([[4.0, 2.0]]), np.array([angle]))[0]

    sides = np.linalg.norm(np.diff(np.vstack([corners, corners[:1]]), axis=0), axis=1)
    np.testing.assert_allclose(sorted(sides), [8.0, 8.0, 16.0, 16.0])


def test_correspondence_colours_cells_and_leaves_background_transparent():
    colours = annotation_colours(2)
    index = np.array([0, 1, -1, 0])
    strength = np.array([0.9, 0.4, 0.8, 0.2])

    rgba = correspondence_rgba(index, strength, (2, 2), colours)

    assert rgba.shape == (2, 2, 4)
    np.testing.assert_allclose(rgba[0, 0], [*colours[0], 0.9], rtol=1e-6)
    np.testing.assert_allclose(rgba[0, 1, 3], 0.4, rtol=1e-6)
    assert rgba[1, 0, 3] == 0.0  # background cell


def test_correspondence_refuses_arrays_of_the_wrong_size():
    with pytest.raises(ValueError, match="cells for grid"):
        correspondence_rgba(np.zeros(3, int), np.zeros(3), (2, 2), annotation_colours(1))


def test_neighbouring_annotations_get_different_colours():
    colours = annotation_colours(50)

    assert colours.shape == (50, 3) and colours.min() >= 0 and colours.max() <= 1
    assert np.all(np.abs(np.diff(colours, axis=0)).sum(axis=1) > 0.2)


def test_stride_grid_cells_are_centred_on_their_pixels():
    # Cell (r, c) covers pixels [r s, (r+1) s): its centre is pixel r s + (s - 1) / 2.
    scale, translate = stride_geometry((1.0, 0.5, 0.5), (2.0, 10.0, 20.0), 8)

    assert scale == (1.0, 4.0, 4.0)  # the plane axis of a stack keeps the image's values
    assert translate == (2.0, 11.75, 21.75)
