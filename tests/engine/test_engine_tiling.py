"""Tiled inference must match whole-image inference (no seams) and keep counts."""

import pytest
import torch
from torch import nn

from napari_gst.engine.tiling import infer_density, infer_density_tiled


class TinyDensityNet(nn.Module):
    """A stride-4 network with a small receptive field (about 10 pixels each way)."""

    stride = 4

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(4),
            nn.Conv2d(8, 1, 3, padding=1),
            nn.Softplus(),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.layers(image)


@pytest.fixture
def net() -> nn.Module:
    torch.manual_seed(0)
    return TinyDensityNet().eval()


@pytest.mark.parametrize("shape", [(150, 203), (64, 300)])
def test_tiled_equals_untiled_within_tolerance(net, shape):
    image = torch.rand(3, *shape)
    whole = infer_density(net, image)
    tiled = infer_density_tiled(net, image, tile_size=64, overlap=32)
    assert tiled.shape == whole.shape == (1, -(-shape[0] // 4), -(-shape[1] // 4))
    assert torch.allclose(tiled, whole, atol=1e-5)
    assert float(tiled.sum()) == pytest.approx(float(whole.sum()), rel=1e-5)


def test_small_image_is_not_tiled(net):
    image = torch.rand(3, 30, 30)
    assert torch.equal(infer_density_tiled(net, image, 64, 16), infer_density(net, image))
