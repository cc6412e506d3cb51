"""Landmark kernel scales: a wide-to-tight schedule of the sigma clamp over the training epochs.

Counting clamps the fitted scales to ``0.625 .. 2.5 stride`` (method.md, section 2). For a
landmark that clamp is a poor default: the fitted scales of landmarks are large (they lie far
apart), so every kernel sits at 2.5 stride and a landmark's support (the cells where its
posterior beats the background, a disc of about 3.5 sigma) covers most of a small image; the L1
transport loss does not care where the mass lies inside it. Tight kernels from the first step
let the network collapse to an empty output (a loss of 1 per channel, a flat minimum). The
default therefore starts wide, where the transport loss trains as it does for counting, and
narrows the clamp geometrically to ``sigma = stride / 2`` (a support of about 3 x 3 cells, so
the loss pins the mass to the landmark's cell) over the first half of training. See
docs/parts/landmarks.md for the measurements.

Two clocks can drive a schedule: epochs (``at(epoch)``, for a hand-written loop that calls
``LandmarkDataset.set_epoch``) or the share of the run done (``at_progress``, which the engine
feeds through ``LandmarkDataset.set_progress`` with the same fraction its learning rate
follows, so a run cut short by ``max_minutes`` still reaches the tight kernels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._validation import as_sigma_range, as_stride
from ..errors import GSTError

# Start and end of the default schedule, in units of the density stride.
WIDE_SIGMA = (1.5, 2.5)
TIGHT_SIGMA = (0.5, 0.5)
# Share of a run (progress clock) over which the default narrowing takes place.
TIGHTEN_SHARE = 0.5


@dataclass(frozen=True)
class SigmaSchedule:
    """A clamp of the kernel scales that narrows from ``wide`` to ``tight`` over ``epochs``.

    Parameters
    ----------
    wide : (min, max) sigma clamp in pixels at epoch 0.
    tight : (min, max) sigma clamp in pixels from epoch ``epochs`` on.
    epochs : how many epochs the narrowing takes (0: ``tight`` from the start), when the
        epoch clock drives it (``at``).
    share : the share of the run (0..1) the narrowing takes when the progress clock drives
        it (``at_progress``; 0: ``tight`` from the start).

    Each bound is interpolated geometrically (linear in log sigma), so the support's area
    shrinks by the same factor every epoch (or every equal step of progress).
    """

    wide: tuple[float, float]
    tight: tuple[float, float]
    epochs: int
    share: float = TIGHTEN_SHARE

    def __post_init__(self) -> None:
        object.__setattr__(self, "wide", as_sigma_range(self.wide, "wide"))
        object.__setattr__(self, "tight", as_sigma_range(self.tight, "tight"))
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise GSTError(f"epochs must be an integer >= 0, got {self.epochs!r}")
        share = self.share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise GSTError(f"share must be a number in [0, 1], got {share!r}")

    def at(self, epoch: int) -> tuple[float, float]:
        """Return the (min, max) sigma clamp in pixels for ``epoch`` (0-based)."""
        return self._narrowed(max(0, epoch) / self.epochs if self.epochs else 1.0)

    def at_progress(self, progress: float) -> tuple[float, float]:
        """Return the (min, max) sigma clamp in pixels after ``progress`` (0..1) of the run."""
        return self._narrowed(max(0.0, progress) / self.share if self.share else 1.0)

    def _narrowed(self, fraction: float) -> tuple[float, float]:
        """Return the clamp after ``fraction`` of the narrowing (``tight`` from 1 on)."""
        if fraction >= 1:
            return self.tight
        return tuple(  # type: ignore[return-value]
            math.exp((1 - fraction) * math.log(wide) + fraction * math.log(tight))
            for wide, tight in zip(self.wide, self.tight, strict=True)
        )


def default_sigma_schedule(stride: int, epochs: int) -> SigmaSchedule:
    """Return the default landmark schedule: 1.5..2.5 stride narrowing to stride/2 in ``epochs``.

    Parameters
    ----------
    stride : density stride in pixels.
    epochs : epochs of the narrowing on the epoch clock. On the progress clock (the engine's)
        the narrowing takes the first half of the run (``TIGHTEN_SHARE``) instead.
    """
    stride = as_stride(stride)
    return SigmaSchedule(
        wide=(WIDE_SIGMA[0] * stride, WIDE_SIGMA[1] * stride),
        tight=(TIGHT_SIGMA[0] * stride, TIGHT_SIGMA[1] * stride),
        epochs=int(epochs),
    )
