"""TransportKernel as a value: save/load, torch form, correspondence; and the fit cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transport_helpers import make_fit

import napari_gst.splat
from napari_gst.transport import build_kernel, cached_fit
from napari_gst.transport.kernel import TransportKernel


@pytest.fixture
def kernel(crowd_fit):
    return build_kernel(crowd_fit, crowd_fit.image_shape, stride=4).crop(0, 8, 48, 64)


def test_save_and_load_round_trip(kernel, tmp_path):
    path = kernel.save(tmp_path / "kernel")

    loaded = TransportKernel.load(path)

    assert path.suffix == ".npz"
    assert (loaded.matrix != kernel.matrix).nnz == 0
    assert loaded.grid_shape == kernel.grid_shape and loaded.image_shape == kernel.image_shape
    np.testing.assert_array_equal(loaded.mass, kernel.mass)
    np.testing.assert_array_equal(loaded.ids, kernel.ids)
    assert loaded.settings == kernel.settings
    np.testing.assert_allclose(loaded.crop(0, 0, 16, 16).dense(), kernel.crop(0, 0, 16, 16).dense())


def test_loading_a_foreign_file_raises(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, data=np.zeros(3))

    with pytest.raises(ValueError, match="not a readable TransportKernel"):
        TransportKernel.load(path)


def test_to_torch_matches_scipy_and_is_cached(kernel):
    density = np.random.default_rng(0).random(kernel.matrix.shape[0]).astype(np.float32)

    forward = kernel.to_torch(transpose=True)
    received = (forward @ torch.from_numpy(density)[:, None]).ravel().numpy()

    assert forward.layout == torch.sparse_csr
    assert kernel.to_torch(transpose=True) is forward
    np.testing.assert_allclose(received, kernel.matrix.T @ density, rtol=1e-5)
    assert kernel.to_torch(dtype=torch.float64).dtype == torch.float64


def test_correspondence_names_the_strongest_annotation_per_cell():
    fit = make_fit([[8.0, 8.0], [8.0, 40.0]], 4.0, image_shape=(16, 64))
    kernel = build_kernel(fit, (16, 64), stride=4)

    index, strength = kernel.correspondence()

    assert index.shape == strength.shape == (4, 16)
    assert index[2, 2] == 0 and index[2, 10] == 1
    assert index[0, 15] == -1  # far corner: background
    assert np.all((strength > 0.3) & (strength <= 1.0 + 1e-6))


def test_cached_fit_fits_once_then_reads_the_cache(tmp_path, monkeypatch):
    calls = []

    def fake_fit(image, points, **kwargs):
        calls.append(kwargs)
        return make_fit(points, 3.0, image_shape=image.shape[:2])

    monkeypatch.setattr(napari_gst.splat, "fit_gaussians", fake_fit, raising=False)
    image = np.random.default_rng(1).random((20, 24, 3))
    points = [[5.0, 6.0], [10.0, 12.0]]

    first = cached_fit(image, points, tmp_path, iterations=50, progress=print)
    second = cached_fit(image, points, tmp_path, iterations=50)
    other = cached_fit(image, points, tmp_path, iterations=60)

    assert len(calls) == 2  # the second call read the file; other settings refit
    np.testing.assert_array_equal(second.points, first.points)
    assert other.n_points == 2
    assert len(list(tmp_path.glob("fit-*.npz"))) == 2
    assert not list(tmp_path.glob(".fit-*"))  # no temporary files left behind


def test_cached_fit_keys_on_image_content(tmp_path, monkeypatch):
    calls = []

    def fake_fit(image, points, **kwargs):
        calls.append(1)
        return make_fit(points, 3.0, image_shape=image.shape[:2])

    monkeypatch.setattr(napari_gst.splat, "fit_gaussians", fake_fit, raising=False)
    image = np.zeros((10, 10), dtype=np.uint8)

    cached_fit(image, [[2.0, 2.0]], tmp_path)
    image[3, 3] = 1
    cached_fit(image, [[2.0, 2.0]], tmp_path)
    cached_fit(image.astype(np.uint16), [[2.0, 2.0]], tmp_path)

    assert len(calls) == 3


def test_cached_fit_rejects_points_outside_the_image(tmp_path):
    with pytest.raises(ValueError, match="lie outside the image"):
        cached_fit(np.zeros((10, 10)), [[20.0, 2.0]], tmp_path)
