"""Shared fixtures for the transport tests."""

from __future__ import annotations

import numpy as np
import pytest
from transport_helpers import make_fit

from napari_gst.splat import GaussianFit


@pytest.fixture
def crowd_fit() -> GaussianFit:
    """Return a 64 x 80 image's fit: 25 random anisotropic Gaussians, some near borders."""
    rng = np.random.default_rng(7)
    points = np.vstack([rng.uniform([0, 0], [63, 79], (22, 2)), [[0, 0], [63, 79], [-0.5, 40]]])
    sigmas = rng.uniform(2.0, 9.0, (25, 2))
    angles = rng.uniform(0, np.pi, 25)
    return make_fit(points, sigmas, angles, image_shape=(64, 80))
