"""Decoding: each channel's refined peak in image pixels, sub-pixel accurate, with a confidence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_gst.errors import GSTError
from napari_gst.landmarks import decode_landmarks


def gaussian_channel(shape, centre_cells, sigma_cells, mass=1.0):
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    blob = np.exp(
        -((rows - centre_cells[0]) ** 2 + (cols - centre_cells[1]) ** 2) / (2 * sigma_cells**2)
    )
    return mass * blob / blob.sum()


@pytest.mark.parametrize("refine", ["centroid", "quadratic"])
@pytest.mark.parametrize("centre", [(7.3, 11.62), (3.5, 4.45), (12.81, 2.2)])
def test_peak_at_a_non_integer_position_is_recovered_within_a_quarter_cell(refine, centre):
    stride = 8
    density = gaussian_channel((16, 16), centre, sigma_cells=1.0)[None]
    points, _ = decode_landmarks(density, stride, refine=refine)
    expected = np.asarray(centre) * stride + (stride - 1) / 2  # cell centre -> image pixel
    assert np.abs(points[0] - expected).max() < 0.25 * stride


def test_refinement_beats_the_cell_centre():
    stride, centre = 4, (6.4, 9.35)
    density = gaussian_channel((16, 16), centre, 1.2)[None]
    expected = np.asarray(centre) * stride + (stride - 1) / 2
    coarse = np.abs(decode_landmarks(density, stride, refine="none")[0][0] - expected).max()
    fine = np.abs(decode_landmarks(density, stride, refine="quadratic")[0][0] - expected).max()
    assert fine < 0.05 * stride < coarse


def test_batch_of_channels_from_a_tensor_with_mass_confidence():
    first = gaussian_channel((12, 12), (3.0, 3.0), 0.8, mass=0.9)
    second = gaussian_channel((12, 12), (8.0, 9.0), 0.8, mass=0.2)
    density = torch.tensor(np.stack([first, second, np.zeros((12, 12))]))[None]
    points, confidences = decode_landmarks(density, stride=1)
    assert points.shape == (1, 3, 2) and confidences.shape == (1, 3)
    np.testing.assert_allclose(points[0, :2], [[3.0, 3.0], [8.0, 9.0]], atol=1e-6)
    assert confidences[0, 0] == pytest.approx(0.9, abs=5e-3)
    assert confidences[0, 1] == pytest.approx(0.2, abs=5e-3)
    assert np.isnan(points[0, 2]).all() and confidences[0, 2] == 0  # empty channel: no landmark


def test_peak_confidence_reads_the_peak_value():
    density = np.zeros((1, 5, 5))
    density[0, 1, 1] = 0.7
    _, confidences = decode_landmarks(density, stride=2, confidence="peak")
    assert confidences[0] == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"density": np.zeros((5, 5))}, "density must be"),
        ({"density": np.full((1, 5, 5), np.nan)}, "NaN"),
        ({"refine": "magic"}, "refine must be"),
        ({"radius": 0}, "radius"),
        ({"stride": 0}, "stride"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"density": np.ones((1, 5, 5)), "stride": 4, **kwargs}
    density, stride = arguments.pop("density"), arguments.pop("stride")
    with pytest.raises(ValueError, match=message):
        decode_landmarks(density, stride, **arguments)
    assert issubclass(GSTError, ValueError)
