"""Saving and loading fits, and deformity elimination applied to a finished fit."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_gst.splat import GaussianFit, apply_deformity_elimination, fit_gaussians


@pytest.fixture(scope="module")
def fitted(known_gaussians) -> GaussianFit:
    """Return a real fit without DE (so that some Gaussians are elongated)."""
    return fit_gaussians(
        known_gaussians["image"],
        known_gaussians["points"],
        deformity_elimination=False,
        iterations=80,
        device="cpu",
    )


def test_save_and_load_round_trip_keeps_every_value(fitted, tmp_path):
    path = fitted.save(tmp_path / "fits" / "cells")

    loaded = GaussianFit.load(path)

    assert path.suffix == ".npz"
    for name in ("points", "sigmas", "angles", "colours"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(fitted, name))
    assert loaded.psnr == fitted.psnr and loaded.image_shape == fitted.image_shape
    assert loaded.settings == json.loads(json.dumps(fitted.settings))


def test_loading_a_file_that_is_not_a_fit_names_the_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, points=np.zeros((1, 2)))

    with pytest.raises(ValueError, match="other.npz"):
        GaussianFit.load(path)


def test_apply_deformity_elimination_rounds_only_elongated_gaussians(fitted):
    before = fitted.anisotropy()

    after = apply_deformity_elimination(fitted, 1.5)

    assert before.max() > 1.5 and np.all(after.anisotropy() <= 1.5)
    kept = before <= 1.5
    np.testing.assert_array_equal(after.sigmas[kept], fitted.sigmas[kept])
    np.testing.assert_array_equal(after.sigmas[~kept, 0], fitted.sigmas[~kept].min(axis=1))
    assert after.settings["deformity_elimination_applied"] == 1.5


def test_apply_deformity_elimination_rejects_a_threshold_below_one(fitted):
    with pytest.raises(ValueError, match="threshold must be a finite number >= 1"):
        apply_deformity_elimination(fitted, 0.9)
