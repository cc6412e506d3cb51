"""Fixtures for the splat tests: images rendered from known Gaussians."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.splat import render


@pytest.fixture(scope="module")
def known_gaussians() -> dict:
    """Return 9 well-separated Gaussians (elongated and round, all angles) and their image."""
    grid = np.arange(3) * 36.0 + 24.0
    points = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    sigmas = np.array(
        [
            [4.0, 2.0],
            [3.0, 3.0],
            [5.0, 2.5],
            [2.0, 4.5],
            [3.5, 3.5],
            [4.0, 1.5],
            [3.0, 2.0],
            [2.5, 2.5],
            [4.5, 3.0],
        ]
    )
    angles = np.array([0.0, 0.0, 0.6, 1.2, 0.0, 2.5, 3.0, 0.0, 0.9])
    colours = np.linspace(0.5, 0.9, 9)[:, None] * np.array([[1.0, 0.6, 0.3]])
    image = render(points, sigmas, angles, colours, (120, 120), backend="torch", device="cpu")
    return {
        "points": points,
        "sigmas": sigmas,
        "angles": angles,
        "colours": colours,
        "image": image,
    }
