"""Density networks: a small U-Net for CPUs and a VGG19 stride-8 network as in crowd counting.

Every network is a plain ``nn.Module`` built by :func:`build_model`; it has a ``.stride``
and returns a non-negative density (B, out_channels, ceil(H / stride), ceil(W / stride))
for an input of any size, times its ``output_gain`` buffer (1 until a counting model is
calibrated; its ``edge_gain`` buffer is applied by ``engine.prediction``).
:func:`describe_model` gives the JSON spec stored in checkpoints.
"""

from ._blocks import EDGE_GAIN, OUTPUT_GAIN, with_missing_gains
from .registry import MODELS, build_model, describe_model
from .unet import UNet
from .vgg import VGGDensity
from .weights import load_vgg_weights, read_state_dict

__all__ = [
    "EDGE_GAIN",
    "MODELS",
    "OUTPUT_GAIN",
    "UNet",
    "VGGDensity",
    "build_model",
    "describe_model",
    "load_vgg_weights",
    "read_state_dict",
    "with_missing_gains",
]
