"""predict(): density, count and points for images and stacks, from any counting network."""

import numpy as np
import pytest
import torch
from torch import nn

from napari_gst.data import Normalisation
from napari_gst.engine.prediction import predict
from napari_gst.errors import GSTError


class BrightnessCounter(nn.Module):
    """Stride-2 'network' whose density is the mean brightness of each 2 x 2 cell."""

    stride = 2

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.Conv2d(1, 1, 2, stride=2, bias=False)
        nn.init.constant_(self.pool.weight, 0.25)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.pool(image).clamp_min(0)


@pytest.fixture
def spots() -> np.ndarray:
    image = np.zeros((40, 60), dtype=np.float32)
    image[10:12, 10:12] = 1.0
    image[30:32, 40:42] = 1.0
    return image


def test_predict_one_image_gives_density_count_and_points(spots):
    result = predict(BrightnessCounter(), spots, normalisation=Normalisation(method="dtype"))
    assert result.density.shape == (20, 30) and result.stride == 2
    assert result.count == pytest.approx(2.0)
    assert sorted(np.round(result.points).tolist()) == [[10.0, 10.0], [30.0, 40.0]]


def test_predict_stack_gives_counts_per_plane(spots):
    stack = np.stack([spots, np.zeros_like(spots), spots])
    result = predict(BrightnessCounter(), stack, normalisation=Normalisation(method="dtype"))
    assert result.is_stack and result.density.shape == (3, 20, 30)
    assert result.counts() == pytest.approx([2.0, 0.0, 2.0])
    assert sorted(set(result.points[:, 0].tolist())) == [0.0, 2.0]


def test_tiled_prediction_matches_whole_image(spots):
    model = BrightnessCounter()
    dtype = Normalisation(method="dtype")
    whole = predict(model, spots, normalisation=dtype)
    tiled = predict(model, spots, normalisation=dtype, tile_size=16, overlap=8)
    assert np.allclose(tiled.density, whole.density, atol=1e-6)


def test_channel_mismatch_is_reported(spots):
    rgb = np.repeat(spots[..., None], 3, axis=-1)
    with pytest.raises(GSTError, match="3 channel.*expects 1"):
        predict(BrightnessCounter(), rgb[None])
    # An RGB image for a grey network is refused, not read as 40 planes 3 pixels wide.
    with pytest.raises(GSTError, match=r"3 channel\(s\) but the model expects 1"):
        predict(BrightnessCounter(), rgb)


def test_detection_reads_touching_spots_as_basins_or_as_one_peak():
    image = np.zeros((40, 60), dtype=np.float32)
    image[10:12, 10:14] = 1.0  # two touching 2 x 2 spots: one flat 4-px-wide bump
    dtype = Normalisation(method="dtype")
    basins = predict(BrightnessCounter(), image, normalisation=dtype)
    peaks = predict(BrightnessCounter(), image, normalisation=dtype, detection="peaks")
    assert basins.count == peaks.count == pytest.approx(2.0)
    assert sorted(np.round(basins.points).tolist()) == [[10.0, 10.0], [10.0, 12.0]]
    assert len(peaks.points) == 1
    with pytest.raises(GSTError, match="detection must be one of basins, peaks"):
        predict(BrightnessCounter(), image, normalisation=dtype, detection="blobs")
