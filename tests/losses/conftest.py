"""Shared fixtures for the loss tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from losses_helpers import make_kernel, make_target

POINTS = np.array([[6.0, 7.0], [9.0, 12.0], [20.0, 25.0], [28.5, 3.0], [15.0, 16.0]])


@pytest.fixture
def points() -> np.ndarray:
    """Five points in a 32 x 32 image, two of them close together."""
    return POINTS.copy()


@pytest.fixture
def kernel(points):
    """GST kernel of the five points at stride 4."""
    return make_kernel(points, sigma=5.0)


@pytest.fixture
def target(points):
    """PointTarget of the five points at stride 4."""
    return make_target(points)


@pytest.fixture
def density() -> torch.Tensor:
    """A random positive (1, 1, 8, 8) double density map that requires grad."""
    generator = torch.Generator().manual_seed(3)
    values = torch.rand(1, 1, 8, 8, generator=generator, dtype=torch.float64) * 0.2
    return values.requires_grad_(True)
