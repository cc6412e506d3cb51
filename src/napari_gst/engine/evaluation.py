"""Score a network on annotated images: MAE, RMSE, detection F1; or landmark MRE and SDR."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..devices import resolve_device
from ..errors import GSTError
from .checkpoint import Checkpoint
from .landmark_prediction import evaluate_landmark_items
from .metrics import match_points, mean_absolute_error, root_mean_squared_error
from .prediction import load_model_argument, predict, task_of

DEFAULT_MATCH_RADIUS = 5.0


def evaluate(
    model_or_checkpoint: nn.Module | Checkpoint | str | Path,
    items: Sequence,
    *,
    radius: float = DEFAULT_MATCH_RADIUS,
    device: str | torch.device = "auto",
    normalisation: object = None,
    tile_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    task: str | None = None,
    pixel_size: float | None = None,
    radii: Sequence[float] | None = None,
    detection: str = "basins",
    augment: bool = False,
) -> dict:
    """Return counting and detection scores (or landmark errors) of a network on images.

    Parameters
    ----------
    model_or_checkpoint : network, Checkpoint or model folder (see ``predict``).
    items : annotated images (``napari_gst.data.AnnotatedImage``: image, points, name; for
        landmarks the points carry labels).
    radius : largest distance, in pixels, at which a detection matches an annotation.
    progress : called as ``progress(done, total)`` after each image.
    task : "count" or "landmarks" (see ``predict``); default: the checkpoint's task.
    detection : counting only: the point read-out scored ("basins" or "peaks", see
        ``predict``).
    augment : counting only: score the density averaged over 8 flipped and rotated views.
    pixel_size, radii : landmarks only: errors in mm with a pixel size; success radii
        (default 2, 2.5, 3, 4 mm with a pixel size, else 2, 4, 8 px).

    Returns
    -------
    dict. Counting: "task", "mae", "rmse", "n_images", "precision", "recall", "f1"
    (micro-averaged over all points), "radius" and "images": per image {"name", "true",
    "predicted"}. Landmarks: "task", "mre", "sd", "sdr" (radius -> rate), "per_landmark_mre",
    "unit", "n_evaluated", "n_missed", "landmarks" (names), "n_images", "images" ({"name",
    "mre"}).
    """
    if len(items) == 0:
        raise GSTError("no annotated images to evaluate on")
    device = resolve_device(device)
    model_or_checkpoint = load_model_argument(model_or_checkpoint, task, device)
    if task_of(model_or_checkpoint, task) == "landmarks":

        def predict_one(image):
            return predict(
                model_or_checkpoint, image, device=device, normalisation=normalisation,
                stack=False, tile_size=tile_size, task="landmarks", augment=augment,
            )  # fmt: skip

        return evaluate_landmark_items(
            predict_one, items, pixel_size=pixel_size, radii=radii, progress=progress
        )
    if pixel_size is not None:
        raise GSTError("pixel_size applies to landmark models only")
    per_image, totals = [], np.zeros(3, dtype=np.int64)  # true pos., detections, annotations
    for done, item in enumerate(items, start=1):
        result = predict(
            model_or_checkpoint,
            item.image,
            device=device,
            normalisation=normalisation,
            stack=False,
            tile_size=tile_size,
            detection=detection,
            augment=augment,
        )
        match = match_points(result.points, item.points, radius)
        totals += (match.true_positives, len(result.points), len(item.points))
        per_image.append({"name": item.name, "true": len(item.points), "predicted": result.count})
        if progress is not None:
            progress(done, len(items))
    return _summary(per_image, totals, radius)


def _summary(per_image: list[dict], totals: np.ndarray, radius: float) -> dict:
    """Return the scores dict of :func:`evaluate` from per-image counts and match totals."""
    predicted = [entry["predicted"] for entry in per_image]
    true = [entry["true"] for entry in per_image]
    matched, detected, annotated = (int(n) for n in totals)
    precision = matched / detected if detected else float(annotated == 0)
    recall = matched / annotated if annotated else float(detected == 0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "task": "count",
        "mae": mean_absolute_error(predicted, true),
        "rmse": root_mean_squared_error(predicted, true),
        "n_images": len(per_image),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "radius": float(radius),
        "images": per_image,
    }
