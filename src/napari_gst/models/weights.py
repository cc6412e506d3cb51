"""Load network weights from a local file (safetensors or weights-only torch); never download."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import GSTError

# Containers that training scripts wrap state dicts in.
_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net")
# Keys of the original network's classifier, which a density network does not have.
_IGNORED_PREFIXES = ("classifier.",)
# The Bayesian-loss repository ends its reg_layer with the 1x1 output conv; DM-Count moved
# it to density_layer. Renaming lets both checkpoints load.
_RENAMES = {
    "reg_layer.4.weight": "density_layer.0.weight",
    "reg_layer.4.bias": "density_layer.0.bias",
}


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Return the tensors stored in ``path`` (safetensors, or torch.load with weights_only=True).

    Wrappers such as ``{"state_dict": ...}`` are unwrapped and a DataParallel ``module.``
    prefix removed. Nothing in the file is executed.
    """
    path = Path(path)
    if not path.is_file():
        raise GSTError(f"weights file {path} does not exist")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unreadable formats raise many types; name the file
        raise GSTError(
            f"cannot read weights file {path} (expected safetensors or a torch state dict): "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
        ) from error
    while isinstance(state, dict):
        wrapper = next((key for key in _WRAPPER_KEYS if isinstance(state.get(key), dict)), None)
        if wrapper is None:
            break
        state = state[wrapper]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GSTError(f"weights file {path} does not hold a state dict of tensors")
    return {key.removeprefix("module."): value for key, value in state.items()}


def load_vgg_weights(model: nn.Module, path: str | Path) -> None:
    """Load VGG19 weights from ``path`` into a :class:`~napari_gst.models.vgg.VGGDensity`.

    Accepted: torchvision ``vgg19`` state dicts (``features.*``; the classifier is ignored
    and the head stays randomly initialised), DM-Count and Bayesian-loss checkpoints, and
    this package's own VGG weights. For an image with other than 3 channels, the first
    convolution's RGB filters are summed over colour and shared by every channel (divided
    by their number), so an image whose channels are equal gets the pretrained response.

    Raises
    ------
    GSTError
        When ``features`` weights are missing, shapes differ, or the file holds keys this
        network does not have; the message names the file and the first offending key.
    """
    path = Path(path)
    state = {
        _RENAMES.get(key, key): value
        for key, value in read_state_dict(path).items()
        if not key.startswith(_IGNORED_PREFIXES)
    }
    own = model.state_dict()
    unknown = sorted(set(state) - set(own))
    if unknown:
        raise GSTError(
            f"weights file {path} does not match the VGG density network: unexpected keys "
            f"{', '.join(unknown[:3])}{' ...' if len(unknown) > 3 else ''}"
        )
    missing = sorted(key for key in own if key.startswith("features.") and key not in state)
    if missing:
        raise GSTError(
            f"weights file {path} does not match the VGG density network: missing "
            f"{len(missing)} backbone tensors (first: {missing[0]}); expected torchvision "
            "vgg19 'features.*' keys"
        )
    first = "features.0.weight"
    state[first] = _adapt_input_channels(state[first], own[first].shape[1])
    for key, value in state.items():
        if value.shape != own[key].shape:
            raise GSTError(
                f"weights file {path} does not match the VGG density network: {key} has "
                f"shape {tuple(value.shape)}, expected {tuple(own[key].shape)}"
            )
    model.load_state_dict(state, strict=False)


def _adapt_input_channels(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """Return first-layer filters for ``channels`` inputs (colour filters summed, then shared)."""
    if weight.ndim != 4 or weight.shape[1] == channels:
        return weight
    return (weight.sum(dim=1, keepdim=True) / channels).repeat(1, channels, 1, 1)
