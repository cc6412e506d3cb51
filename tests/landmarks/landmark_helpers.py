"""Landmark test helpers: hand-made Gaussian fits (a uniquely named module, importable from
every landmark test file; ``from conftest import ...`` clashes with other folders' conftest)."""

from __future__ import annotations

import numpy as np

from napari_gst.splat import GaussianFit


def make_fit(points: np.ndarray, shape: tuple[int, int], sigma: float = 6.0) -> GaussianFit:
    """Return an isotropic fit of ``points`` (no optimisation: tests of what comes after it)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return GaussianFit(
        points=points,
        sigmas=np.full((len(points), 2), sigma),
        angles=np.zeros(len(points)),
        colours=np.ones((len(points), 1), dtype=np.float32),
        psnr=30.0,
        image_shape=shape,
    )
