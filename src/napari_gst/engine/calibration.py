"""Count calibration: the gains that make a counting model's training totals right.

GST's loss ``sum_i |m_i - 1| + m_bg`` is balanced, for a network that cannot put every cell's
mass exactly where the posterior wants it, below the true count: the background column only
ever pushes mass down, and the point columns can only answer with more under- than
over-filled points (docs/parts/bench-accuracy.md, "Calibration"). On VGG cells that left
every model 3-7 % low, by a gain shared by all images. A single factor
``sum(annotated) / sum(predicted)`` over the training images, measured on whole images at
their own scale, removes it without touching the per-image ranking the network learnt.
A second gain does the same for the ring of cells along an image's edge, which the fraction
rule of training crops leaves counted low (``engine.edge_ring``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import GSTError
from ..models import EDGE_GAIN, OUTPUT_GAIN
from .edge_ring import edge_gain_of, split_counts, split_points
from .prediction import plane_densities
from .tiling import model_stride

# Enough images for a gain good to a fraction of a percent; more only cost time.
MAX_CALIBRATION_IMAGES = 64
# A gain this far from 1 means the model is far from trained; it is kept within these bounds
# so an early, nearly empty density cannot blow up into a huge factor.
GAIN_BOUNDS = (0.2, 5.0)
# Fewest annotated dots in the edge ring for an edge gain of its own (fewer: one gain for
# the whole image, as before the edge gain). A VGG cells training draw has about 400.
MIN_EDGE_POINTS = 30


@dataclass(frozen=True)
class CountGains:
    """A counting model's calibration: ``count`` multiplies every density cell, and
    ``edge`` further multiplies the ring of cells along a whole image's edge
    (``engine.edge_ring``: training crops teach the network to count cells cut by an edge
    as fractions, annotations count them whole)."""

    count: float = 1.0
    edge: float = 1.0


UNCALIBRATED = CountGains()


def ring_counts(
    model: nn.Module, items: Sequence, device: torch.device, normalisation
) -> tuple[np.ndarray, np.ndarray]:
    """Return (predicted, annotated) (n, 2) counts of ``items``: inside, then the edge ring.

    The predicted counts carry the model's output gain, not its edge gain.
    """
    predicted, annotated = [], []
    model.eval()
    for item in items:
        density = plane_densities(model, normalisation.apply(item.image), device, None, 64)[0]
        predicted.append(split_counts(density))
        annotated.append(split_points(item.points, density.shape, model_stride(model)))
    return np.asarray(predicted, dtype=np.float64), np.asarray(annotated, dtype=np.float64)


def image_counts(
    model: nn.Module, items: Sequence, device: torch.device, normalisation
) -> tuple[np.ndarray, np.ndarray]:
    """Return (predicted, annotated) whole-image counts of ``items`` (no point detection),
    with both of the model's gains, as ``predict`` counts."""
    predicted, annotated = ring_counts(model, items, device, normalisation)
    return predicted @ np.array([1.0, edge_gain_of(model)]), annotated.sum(axis=1)


def calibration_items(items: Sequence, limit: int = MAX_CALIBRATION_IMAGES) -> list:
    """Return up to ``limit`` of ``items``, evenly spaced (all of them when fewer)."""
    items = list(items)
    if len(items) <= limit:
        return items
    picks = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[index] for index in picks]


def count_gain(
    model: nn.Module, items: Sequence, device: torch.device, normalisation
) -> CountGains:
    """Return the gains that make ``model``'s counts on ``items`` add up to the annotations.

    Measured with the model's gains at 1 (:func:`gains_from_counts`).
    """
    if not items:
        raise GSTError("count calibration needs at least one annotated image")
    with output_gain(model, UNCALIBRATED):
        predicted, annotated = ring_counts(model, calibration_items(items), device, normalisation)
    return gains_from_counts(predicted, annotated)


def gains_from_counts(predicted: np.ndarray, annotated: np.ndarray) -> CountGains:
    """Return the gains of (n, 2) raw (inside, edge ring) counts.

    ``count`` is sum(annotated) / sum(predicted) inside the ring and ``edge`` what the ring
    needs on top; with fewer than :data:`MIN_EDGE_POINTS` annotated dots in the ring (too
    few for a gain good to a few percent of the total), one gain of the whole images. Gains
    are kept within :data:`GAIN_BOUNDS`; (1, 1) when nothing is annotated or predicted.
    """
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 2).sum(axis=0)
    annotated = np.asarray(annotated, dtype=np.float64).reshape(-1, 2).sum(axis=0)
    if annotated[1] < MIN_EDGE_POINTS or min(predicted.min(), annotated[0]) <= 0:
        if annotated.sum() <= 0 or predicted.sum() <= 0:
            return UNCALIBRATED
        return CountGains(float(np.clip(annotated.sum() / predicted.sum(), *GAIN_BOUNDS)))
    gain = float(np.clip(annotated[0] / predicted[0], *GAIN_BOUNDS))
    edge = float(np.clip(annotated[1] / predicted[1], *GAIN_BOUNDS))
    return CountGains(gain, edge / gain)


def leave_one_out_errors(predicted: np.ndarray, annotated: np.ndarray) -> np.ndarray:
    """Return each image's count error with the gains measured on the *other* images.

    ``predicted`` and ``annotated`` are (n,) whole-image counts or (n, 2) raw (inside, edge
    ring) counts (:func:`ring_counts`, gains as :func:`gains_from_counts`). Scores
    training images as calibrated images would be scored without letting an image set its
    own gain (a single image would always score 0, and raw counts carry the few percent of
    bias the gain removes, which drifts over a run and made the raw score pick early
    epochs). With fewer than two images the raw errors are returned.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    annotated = np.asarray(annotated, dtype=np.float64)
    if predicted.ndim == 1:
        predicted, annotated = (
            np.c_[predicted, np.zeros_like(predicted)],
            np.c_[annotated, 0 * annotated],
        )
    totals, truth = predicted.sum(axis=1), annotated.sum(axis=1)
    if len(predicted) < 2:
        return np.abs(totals - truth)
    errors = np.empty(len(predicted))
    for index in range(len(predicted)):
        others = np.arange(len(predicted)) != index
        gains = gains_from_counts(predicted[others], annotated[others])
        counted = gains.count * (predicted[index, 0] + gains.edge * predicted[index, 1])
        errors[index] = abs(counted - truth[index])
    return errors


@contextmanager
def output_gain(model: nn.Module, gains: CountGains | None) -> Iterator[None]:
    """Give ``model`` the ``gains`` for the block (None: leave them), then restore them."""
    if gains is None or getattr(model, OUTPUT_GAIN, None) is None:
        yield
        return
    previous = current_gains(model)
    set_gains(model, gains)
    try:
        yield
    finally:
        set_gains(model, previous)


def current_gains(model: nn.Module) -> CountGains:
    """Return the gains ``model`` carries (1 for a network without them)."""
    buffer = getattr(model, OUTPUT_GAIN, None)
    return CountGains(1.0 if buffer is None else float(buffer), edge_gain_of(model))


def set_gains(model: nn.Module, gains: CountGains) -> None:
    """Write ``gains`` into ``model``'s gain buffers (a network without them is left as is)."""
    for name, value in ((OUTPUT_GAIN, gains.count), (EDGE_GAIN, gains.edge)):
        buffer = getattr(model, name, None)
        if buffer is not None:
            buffer.fill_(float(value))


def reset_output_gain(model: nn.Module) -> None:
    """Set ``model``'s gains to 1 (training always sees the raw density)."""
    set_gains(model, UNCALIBRATED)
