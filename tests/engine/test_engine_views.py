"""Test-time augmentation: the density averaged over the 8 flipped and rotated views."""

import numpy as np
import pytest
import torch
from torch import nn

from napari_gst.data import Normalisation
from napari_gst.engine.prediction import predict
from napari_gst.engine.views import VIEWS, averaged_density
from napari_gst.errors import GSTError

DTYPE = Normalisation(method="dtype")


class TopHeavyCounter(nn.Module):
    """Stride-2 'network' that counts a cell's brightness more the nearer it is to the top.

    Not mirror-symmetric, so its 8 views disagree and their average differs from one view.
    """

    stride = 2

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        density = nn.functional.avg_pool2d(image, 2)
        rows = density.shape[-2]
        weight = torch.linspace(2.0, 1.0, rows).view(1, 1, rows, 1)
        return density * weight


def brute_force_average(model, image: np.ndarray) -> np.ndarray:
    """Average of the 8 views computed with torch's own flips and transposes."""
    tensor = torch.from_numpy(image)[None, None]
    total = torch.zeros_like(model(tensor))
    for transpose, vertical, horizontal in VIEWS:
        view = tensor.transpose(-2, -1) if transpose else tensor
        dims = [d for d, on in ((-2, vertical), (-1, horizontal)) if on]
        view = view.flip(dims) if dims else view
        density = model(view)
        density = density.flip(dims) if dims else density
        total += density.transpose(-2, -1) if transpose else density
    return (total / len(VIEWS))[0].numpy()


def test_the_average_undoes_each_view_exactly():
    image = np.random.default_rng(0).random((8, 12)).astype(np.float32)
    model = TopHeavyCounter()
    averaged = predict(model, image, normalisation=DTYPE, augment=True)
    plain = predict(model, image, normalisation=DTYPE)
    assert np.allclose(averaged.density, brute_force_average(model, image)[0], atol=1e-6)
    assert not np.allclose(averaged.density, plain.density, atol=1e-3)


class BlockCounter(nn.Module):
    """Stride-4 'network' (inputs padded to 16 px) summing each 4 x 4 block: mirror-symmetric."""

    stride = 4
    input_multiple = 16

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return nn.functional.avg_pool2d(image, 4) * 16


def test_images_off_the_input_multiple_keep_their_grid_and_count():
    # 37 x 50 px: each view is padded to 48 x 64 before it is turned, so the density cells
    # cover the same pixels in every view and a symmetric network's average is its density.
    image = np.random.default_rng(2).random((37, 50)).astype(np.float32)
    averaged = predict(BlockCounter(), image, normalisation=DTYPE, augment=True)
    plain = predict(BlockCounter(), image, normalisation=DTYPE)
    assert averaged.density.shape == plain.density.shape == (10, 13)
    assert np.allclose(averaged.density, plain.density, atol=1e-5)
    assert averaged.count == pytest.approx(float(image.sum()), rel=1e-5)


def test_averaged_density_checks_views_against_a_symmetric_counter():
    plane = np.random.default_rng(1).random((9, 14, 2)).astype(np.float32)

    def block_sums(view):  # 1 x 1 "stride" sum over channels: symmetric under every view
        return view.sum(axis=2)[None]

    averaged = averaged_density(block_sums, plane, multiple=4, stride=1)
    assert averaged.shape == (1, 9, 14)
    assert np.allclose(averaged[0], plane.sum(axis=2), atol=1e-6)


def test_landmark_models_refuse_augmentation():
    image = np.zeros((16, 16), dtype=np.float32)
    with pytest.raises(GSTError, match="counting models only"):
        predict(TopHeavyCounter(), image, normalisation=DTYPE, task="landmarks", augment=True)
