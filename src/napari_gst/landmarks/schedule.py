"""Landmark kernel scales: a wide-to-tight schedule of the sigma clamp over the training epochs.

Counting clamps the fitted scales to ``stride .. 2.5 stride`` (method.md, section 2). For a
landmark that clamp is a poor default: the fitted scales of landmarks are large (they lie far
apart), so every kernel sits at 2.5 stride and a landmark's support (the cells where its
posterior beats the background, a disc of about 3.5 sigma) covers most of a small image; the L1
transport loss does not care where the mass lies inside it. Tight kernels from the first step
let the network collapse to an empty output (a loss of 1 per channel, a flat minimum). The
default therefore starts wide, where the transport loss trains as it does for counting, and
narrows the clamp geometrically to ``sigma = stride / 2`` (a support of about 3 x 3 cells, so
the loss pins the mass to the landmark's cell) over the first half of training. See
docs/parts/landmarks.md for the measurements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._validation import as_stride
from ..errors import GSTError

# Start and end of the default schedule, in units of the density stride.
WIDE_SIGMA = (1.5, 2.5)
TIGHT_SIGMA = (0.5, 0.5)


def _as_range(value: object, name: str) -> tuple[float, float]:
    """Return ``value`` as (low, high) floats with 0 < low <= high, or raise GSTError."""
    try:
        low, high = (float(item) for item in value)  # type: ignore[union-attr]
    except (TypeError, ValueError) as error:
        raise GSTError(f"{name} must be (min, max) in pixels, got {value!r}") from error
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise GSTError(f"{name} must satisfy 0 < min <= max, got {value!r}")
    return low, high


@dataclass(frozen=True)
class SigmaSchedule:
    """A clamp of the kernel scales that narrows from ``wide`` to ``tight`` over ``epochs``.

    Parameters
    ----------
    wide : (min, max) sigma clamp in pixels at epoch 0.
    tight : (min, max) sigma clamp in pixels from epoch ``epochs`` on.
    epochs : how many epochs the narrowing takes (0: ``tight`` from the start).

    Each bound is interpolated geometrically (linear in log sigma), so the support's area
    shrinks by the same factor every epoch.
    """

    wide: tuple[float, float]
    tight: tuple[float, float]
    epochs: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "wide", _as_range(self.wide, "wide"))
        object.__setattr__(self, "tight", _as_range(self.tight, "tight"))
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise GSTError(f"epochs must be an integer >= 0, got {self.epochs!r}")

    def at(self, epoch: int) -> tuple[float, float]:
        """Return the (min, max) sigma clamp in pixels for ``epoch`` (0-based)."""
        if self.epochs == 0 or epoch >= self.epochs:
            return self.tight
        fraction = max(0, epoch) / self.epochs
        return tuple(  # type: ignore[return-value]
            math.exp((1 - fraction) * math.log(wide) + fraction * math.log(tight))
            for wide, tight in zip(self.wide, self.tight, strict=True)
        )


def default_sigma_schedule(stride: int, epochs: int) -> SigmaSchedule:
    """Return the default landmark schedule: 1.5..2.5 stride narrowing to stride/2 in ``epochs``.

    Parameters
    ----------
    stride : density stride in pixels.
    epochs : epochs of the narrowing (the engine passes half of the training epochs).
    """
    stride = as_stride(stride)
    return SigmaSchedule(
        wide=(WIDE_SIGMA[0] * stride, WIDE_SIGMA[1] * stride),
        tight=(TIGHT_SIGMA[0] * stride, TIGHT_SIGMA[1] * stride),
        epochs=int(epochs),
    )
