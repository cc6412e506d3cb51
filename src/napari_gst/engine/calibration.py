"""Count calibration: the one gain that makes a counting model's training totals right.

GST's loss ``sum_i |m_i - 1| + m_bg`` is balanced, for a network that cannot put every cell's
mass exactly where the posterior wants it, below the true count: the background column only
ever pushes mass down, and the point columns can only answer with more under- than
over-filled points (docs/parts/bench-accuracy.md, "Calibration"). On VGG cells that left
every model 3-7 % low, by a gain shared by all images. A single factor
``sum(annotated) / sum(predicted)`` over the training images, measured on whole images at
their own scale, removes it without touching the per-image ranking the network learnt.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from ..errors import GSTError
from ..models import OUTPUT_GAIN
from .prediction import plane_densities

# Enough images for a gain good to a fraction of a percent; more only cost time.
MAX_CALIBRATION_IMAGES = 64
# A gain this far from 1 means the model is far from trained; it is kept within these bounds
# so an early, nearly empty density cannot blow up into a huge factor.
GAIN_BOUNDS = (0.2, 5.0)


def image_counts(
    model: nn.Module, items: Sequence, device: torch.device, normalisation
) -> tuple[np.ndarray, np.ndarray]:
    """Return (predicted, annotated) whole-image counts of ``items`` (no point detection)."""
    predicted, annotated = [], []
    model.eval()
    for item in items:
        density = plane_densities(model, normalisation.apply(item.image), device, None, 64)
        predicted.append(float(density[0].sum(dtype=np.float64)))
        annotated.append(float(len(item.points)))
    return np.asarray(predicted), np.asarray(annotated)


def calibration_items(items: Sequence, limit: int = MAX_CALIBRATION_IMAGES) -> list:
    """Return up to ``limit`` of ``items``, evenly spaced (all of them when fewer)."""
    items = list(items)
    if len(items) <= limit:
        return items
    picks = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[index] for index in picks]


def count_gain(model: nn.Module, items: Sequence, device: torch.device, normalisation) -> float:
    """Return the gain sum(annotated) / sum(predicted) of ``model`` over ``items``.

    Measured with the model's gain at 1; clipped to :data:`GAIN_BOUNDS`. 1 when the images
    hold no annotations or the model predicts nothing.
    """
    if not items:
        raise GSTError("count calibration needs at least one annotated image")
    with output_gain(model, 1.0):
        predicted, annotated = image_counts(model, calibration_items(items), device, normalisation)
    if annotated.sum() <= 0 or predicted.sum() <= 0:
        return 1.0
    return float(np.clip(annotated.sum() / predicted.sum(), *GAIN_BOUNDS))


def leave_one_out_errors(predicted: np.ndarray, annotated: np.ndarray) -> np.ndarray:
    """Return each image's count error with the gain measured on the *other* images.

    Scores training images as calibrated images would be scored without letting an image
    set its own gain (a single image would always score 0, and raw counts carry the few
    percent of bias the gain removes, which drifts over a run and made the raw score pick
    early epochs). With fewer than two images the raw errors are returned.
    """
    predicted = np.asarray(predicted, dtype=np.float64)
    annotated = np.asarray(annotated, dtype=np.float64)
    if predicted.size < 2:
        return np.abs(predicted - annotated)
    others_true = annotated.sum() - annotated
    others_predicted = predicted.sum() - predicted
    usable = (others_true > 0) & (others_predicted > 0)
    gains = np.ones_like(predicted)
    gains[usable] = np.clip(others_true[usable] / others_predicted[usable], *GAIN_BOUNDS)
    return np.abs(gains * predicted - annotated)


@contextmanager
def output_gain(model: nn.Module, gain: float | None) -> Iterator[None]:
    """Set ``model``'s output gain for the block (None: leave it), then restore it."""
    buffer = getattr(model, OUTPUT_GAIN, None)
    if gain is None or buffer is None:
        yield
        return
    previous = buffer.clone()
    buffer.fill_(float(gain))
    try:
        yield
    finally:
        buffer.copy_(previous)


def reset_output_gain(model: nn.Module) -> None:
    """Set ``model``'s output gain to 1 (training always sees the raw density)."""
    buffer = getattr(model, OUTPUT_GAIN, None)
    if buffer is not None:
        buffer.fill_(1.0)
