"""Landmark read-out of a trained L-channel network: predict one image, score a set of images."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data.normalise import Normalisation
from ..errors import GSTError
from .decode import decode_landmarks
from .metrics import LandmarkScores, score_landmarks


@dataclass(frozen=True)
class LandmarkPrediction:
    """Landmarks predicted for one image.

    Attributes
    ----------
    points : (L, 2) float64 (row, col) in image pixels (NaN: empty channel).
    confidences : (L,) float64 (see :func:`decode_landmarks`).
    density : (L, h, w) float32 density at ``stride``.
    stride : density stride in pixels.
    """

    points: np.ndarray
    confidences: np.ndarray
    density: np.ndarray
    stride: int


@torch.no_grad()
def predict_landmarks(
    model: nn.Module,
    image: np.ndarray,
    *,
    normalisation: Normalisation | None = None,
    device: str | torch.device = "cpu",
    refine: str = "centroid",
    confidence: str = "mass",
) -> LandmarkPrediction:
    """Return the landmarks an L-channel network finds in one (H, W) or (H, W, C) image.

    The whole image goes through the network at once (the models pad it to their own
    multiple); ``normalisation`` must be the one used in training (stored in checkpoints).
    Use ``confidence="peak"`` for a heatmap-trained network.
    """
    normalisation = normalisation or Normalisation()
    array = normalisation.apply(np.asarray(image))
    stride = int(getattr(model, "stride", 0))
    if stride < 1:
        raise GSTError("model must be a density network with a positive .stride")
    was_training = model.training
    model.eval()
    try:
        tensor = torch.from_numpy(array).permute(2, 0, 1)[None].to(device)
        density = model(tensor)[0].float().cpu()
    finally:
        model.train(was_training)
    points, confidences = decode_landmarks(density, stride, refine=refine, confidence=confidence)
    return LandmarkPrediction(points, confidences, density.numpy(), stride)


def evaluate_landmarks(
    model: nn.Module,
    images: Sequence[np.ndarray],
    landmarks: Sequence[np.ndarray],
    *,
    pixel_size: float | None = None,
    radii: Sequence[float] | None = None,
    **predict_options: object,
) -> LandmarkScores:
    """Return MRE, SD and success rates of a network on images with known (L, 2) landmarks.

    Lower MRE is better: the engine can select checkpoints on it as it does on MAE.
    """
    if len(images) == 0 or len(images) != len(landmarks):
        raise GSTError(
            f"need one (L, 2) landmark array per image, got {len(images)} images and "
            f"{len(landmarks)} landmark arrays"
        )
    predicted = np.stack(
        [predict_landmarks(model, image, **predict_options).points for image in images]
    )
    truth = np.stack([np.asarray(array, dtype=np.float64) for array in landmarks])
    return score_landmarks(predicted, truth, pixel_size=pixel_size, radii=radii)
