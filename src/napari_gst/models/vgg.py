"""VGG19 density regressor at stride 8, as in Bayesian loss / DM-Count (and the GST paper)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GSTError
from ._blocks import (
    check_input,
    density_grid,
    make_activation,
    pad_to_multiple,
    register_output_gain,
)

# torchvision's VGG19 configuration "E"; the last max-pool is left out (stride 16), and the
# head upsamples by 2 to stride 8. Layer indices therefore match torchvision's
# ``vgg19().features`` state-dict keys (features.0 ... features.34).
VGG19_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M")
VGG19_LAYERS += (512, 512, 512, 512, "M", 512, 512, 512, 512)
FEATURE_STRIDE = 16
STRIDE = 8


class VGGDensity(nn.Module):
    """VGG19 backbone with the DM-Count regression head; density at stride 8.

    ``features`` follows torchvision's VGG19 layout and ``reg_layer`` / ``density_layer``
    DM-Count's, so weights from either load by name (see :func:`load_vgg_weights`).

    Parameters
    ----------
    in_channels : image channels.
    out_channels : density channels.
    activation : "relu" (default, as DM-Count) or "softplus".

    Any input size is accepted: zero-padded at the bottom/right to a multiple of 16, output
    cropped to (ceil(H / 8), ceil(W / 8)).
    """

    stride = STRIDE

    def __init__(self, in_channels: int, out_channels: int = 1, *, activation: str = "relu"):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.features = _make_features(in_channels)
        self.reg_layer = nn.Sequential(
            nn.Conv2d(512, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 128, 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.density_layer = nn.Sequential(
            nn.Conv2d(128, out_channels, 1), make_activation(activation)
        )
        register_output_gain(self)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                # torchvision's VGG initialisation: trains from scratch without exploding.
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Return the non-negative density (B, out_channels, ceil(H/8), ceil(W/8))."""
        check_input(image, self.in_channels)
        grid = density_grid(tuple(image.shape[-2:]), STRIDE)
        features = self.features(pad_to_multiple(image, FEATURE_STRIDE))
        features = F.interpolate(features, scale_factor=2.0, mode="bilinear")
        density = self.density_layer(self.reg_layer(features)) * self.output_gain
        return density[..., : grid[0], : grid[1]]


def _make_features(in_channels: int) -> nn.Sequential:
    """Return VGG19's convolutional layers (torchvision indices), without the last max-pool."""
    layers: list[nn.Module] = []
    channels = in_channels
    for spec in VGG19_LAYERS:
        if spec == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, spec, 3, padding=1), nn.ReLU(inplace=True)]
            channels = spec
    return nn.Sequential(*layers)


def check_vgg_stride(stride: object) -> None:
    """Raise a GSTError unless ``stride`` is None or 8 (the only stride VGG supports)."""
    if stride is not None and stride != STRIDE:
        raise GSTError(
            f"stride for 'vgg' must be {STRIDE} (the network's fixed stride), got {stride!r}"
        )
