"""The model registry: build a density network by name, describe it as JSON, rebuild it."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..errors import GSTError
from .unet import UNet
from .vgg import VGGDensity, check_vgg_stride
from .weights import load_vgg_weights


@dataclass(frozen=True)
class ModelEntry:
    """A registered network: its class and what it is for (shown in the CLI and widgets)."""

    cls: type[nn.Module]
    summary: str
    load_weights: Callable[[nn.Module, Path], None] | None = None


MODELS: dict[str, ModelEntry] = {
    "unet": ModelEntry(
        UNet, "small U-Net, stride 1/2/4/8 (default 4); trains from scratch on a CPU in minutes"
    ),
    "vgg": ModelEntry(
        VGGDensity,
        "VGG19 + DM-Count head, stride 8, as in the crowd-counting papers; optional local weights",
        load_vgg_weights,
    ),
}


def build_model(
    name: str,
    in_channels: int,
    out_channels: int = 1,
    options: dict | None = None,
    **more_options: object,
) -> nn.Module:
    """Return a freshly built density network with non-negative output and a ``.stride``.

    Parameters
    ----------
    name : a key of :data:`MODELS` ("unet" or "vgg").
    in_channels : channels of the input image.
    out_channels : density channels (1 for counting, one per landmark type).
    options, **more_options : network options (merged; keyword arguments win), e.g.
        ``stride``, ``width``, ``depth`` for "unet"; ``weights=path`` (a local safetensors
        or torch state-dict file; torchvision vgg19 keys accepted) for "vgg". ``stride=None``
        means the network's default.

    Returns
    -------
    torch.nn.Module
        Output (B, out_channels, ceil(H / stride), ceil(W / stride)) for any input size.
        ``describe_model(model)`` gives the JSON spec that rebuilds it.

    Examples
    --------
    >>> model = build_model("unet", in_channels=1, stride=4)
    >>> model.stride
    4
    >>> build_model(**describe_model(model)).stride
    4
    """
    entry = MODELS.get(name) if isinstance(name, str) else None
    if entry is None:
        raise GSTError(f"model name must be one of {sorted(MODELS)}, got {name!r}")
    for argument, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise GSTError(f"{argument} must be a positive integer, got {value!r}")
    settings = {**(options or {}), **more_options}
    weights = settings.pop("weights", None)
    if settings.get("stride", 0) is None:
        settings.pop("stride")
    if name == "vgg":
        check_vgg_stride(settings.pop("stride", None))
    _check_option_names(name, entry.cls, settings)
    model = entry.cls(in_channels, out_channels, **settings)
    if weights is not None:
        if entry.load_weights is None:
            raise GSTError(f"model {name!r} does not load weights files (only 'vgg' does)")
        entry.load_weights(model, Path(weights))
    model.spec = {
        "name": name,
        "in_channels": in_channels,
        "out_channels": out_channels,
        "options": {**_defaults(entry.cls), **settings},
    }
    return model


def describe_model(model: nn.Module) -> dict:
    """Return the JSON-able spec of a network made by :func:`build_model`.

    ``build_model(**spec)`` rebuilds the same architecture (weights are stored separately,
    so a ``weights`` file used at build time is not part of the spec). Defaults are written
    out, so the spec keeps meaning the same network if a default changes later.
    """
    spec = getattr(model, "spec", None)
    if not isinstance(spec, dict):
        raise GSTError("model was not built by napari_gst.models.build_model (it has no spec)")
    return {**spec, "options": dict(spec["options"])}


def _defaults(cls: type[nn.Module]) -> dict:
    """Return the keyword-only options of ``cls`` with their default values."""
    parameters = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def _check_option_names(name: str, cls: type[nn.Module], settings: dict) -> None:
    """Raise a GSTError naming options the network does not have."""
    known = set(_defaults(cls))
    unknown = sorted(set(settings) - known)
    if unknown:
        allowed = ", ".join(sorted(known | {"weights"} if name == "vgg" else known))
        raise GSTError(
            f"unknown option(s) {', '.join(unknown)} for model {name!r}; known: {allowed}"
        )
