"""make_loss: build a loss by its short name ("gst", "l2", "bayesian", "ot")."""

from __future__ import annotations

from torch import nn

from ..errors import GSTError
from .bayesian import BayesianLoss
from .gst import GSTLoss
from .l2 import L2DensityLoss
from .ot import OTLoss

_CLASSES: dict[str, type[nn.Module]] = {
    "gst": GSTLoss,
    "l2": L2DensityLoss,
    "bayesian": BayesianLoss,
    "ot": OTLoss,
}
LOSSES: tuple[str, ...] = tuple(_CLASSES)
"""Names accepted by :func:`make_loss`."""


def make_loss(name: str, **options) -> nn.Module:
    """Return the loss called ``name`` (one of :data:`LOSSES`) built with ``options``.

    Examples
    --------
    >>> make_loss("bayesian", sigma=8.0).needs_kernel
    False
    """
    key = str(name).lower()
    if key not in _CLASSES:
        raise GSTError(f"loss must be one of {', '.join(LOSSES)}; got {name!r}")
    try:
        return _CLASSES[key](**options)
    except TypeError as error:
        raise GSTError(f"bad options for loss {key!r}: {error}") from error
