"""Landmark read-out of a trained L-channel network: predict images or stacks, score items.

``engine.predict`` and ``engine.evaluate`` hand landmark checkpoints to this module, so
``predict("runs/hands", image)`` works for either task. Densities go through the same
(tiled when large) inference as counting; each channel is decoded by
``napari_gst.landmarks.decode_landmarks``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from torch import nn

from ..errors import GSTError
from ..landmarks import LandmarkSet, decode_landmarks, landmarks_to_layer, score_landmarks
from ..landmarks.items import landmark_arrays
from .checkpoint import Checkpoint

# How each training loss's channels are best read (docs/parts/landmarks.md, "Decoding"):
# GST channels hold a compact blob of mass 1, heatmaps a Gaussian of peak 1.
READ_OUT = {
    "gst": {"refine": "centroid", "confidence": "mass"},
    "l2": {"refine": "quadratic", "confidence": "peak"},
}


@dataclass
class LandmarkResult:
    """Landmarks predicted for an image or a stack of planes.

    Attributes
    ----------
    points : (L, 2) (row, col) in image pixels for one image, (T, L, 2) for a stack; NaN
        where a channel is empty.
    confidences : (L,) or (T, L): channel mass near the peak (GST) or the peak (heatmaps).
    density : (L, h, w) or (T, L, h, w) float32 densities at ``stride``.
    landmark_set : names and colours of the channels.
    stride : pixels per density cell; image_shape : (H, W) of the image (of each plane).
    """

    points: np.ndarray
    confidences: np.ndarray
    density: np.ndarray
    landmark_set: LandmarkSet
    stride: int
    image_shape: tuple[int, int]

    @property
    def is_stack(self) -> bool:
        """True when the result covers a stack of planes."""
        return self.points.ndim == 3

    def to_layer(self) -> tuple[np.ndarray, dict]:
        """Return ``(data, kwargs)`` for ``viewer.add_points``: named, coloured landmarks.

        For a stack, data rows are (plane, row, col); missing landmarks are left out.
        """
        planes = self.points if self.is_stack else self.points[None]
        rows, labels, colours = [], [], []
        for index, plane in enumerate(planes):
            data, kwargs = landmarks_to_layer(plane, self.landmark_set)
            rows.append(np.column_stack([np.full(len(data), float(index)), data]))
            labels += kwargs["features"]["label"]
            colours.append(kwargs["face_color"])
        data = np.concatenate(rows)
        return (data if self.is_stack else data[:, 1:]), {
            "features": {"label": labels},
            "face_color": np.concatenate(colours).reshape(-1, 4),
        }

    def table(self) -> list[dict]:
        """Return one row per (plane, landmark): name, row, col, confidence (NaN if missing)."""
        planes = self.points if self.is_stack else self.points[None]
        confidences = self.confidences if self.is_stack else self.confidences[None]
        return [
            {
                "plane": plane,
                "landmark": name,
                "row": float(planes[plane, index, 0]),
                "col": float(planes[plane, index, 1]),
                "confidence": float(confidences[plane, index]),
            }
            for plane in range(len(planes))
            for index, name in enumerate(self.landmark_set.names)
        ]


def landmark_set_of(model_or_checkpoint: nn.Module | Checkpoint, channels: int) -> LandmarkSet:
    """Return the checkpoint's landmark set, or ``L1..Lc`` for a bare network."""
    if isinstance(model_or_checkpoint, Checkpoint):
        stored = model_or_checkpoint.metadata.get("landmarks")
        if stored:
            return LandmarkSet.from_dict(stored)
    return LandmarkSet.numbered(channels)


def predict_landmark_planes(
    model: nn.Module,
    densities: Sequence[np.ndarray],
    *,
    landmark_set: LandmarkSet,
    image_shape: tuple[int, int],
    is_stack: bool,
    loss: str = "gst",
) -> LandmarkResult:
    """Return the decoded landmarks of per-plane (L, h, w) densities of ``model``."""
    stride = int(model.stride)
    if densities[0].shape[0] != len(landmark_set):
        raise GSTError(
            f"the model has {densities[0].shape[0]} output channels but the landmark set names "
            f"{len(landmark_set)} landmarks"
        )
    stacked = np.stack(densities)
    points, confidences = decode_landmarks(stacked, stride, **READ_OUT.get(loss, READ_OUT["gst"]))
    return LandmarkResult(
        points=points if is_stack else points[0],
        confidences=confidences if is_stack else confidences[0],
        density=stacked if is_stack else stacked[0],
        landmark_set=landmark_set,
        stride=stride,
        image_shape=image_shape,
    )


def evaluate_landmark_items(
    predict_one: Callable[[np.ndarray], LandmarkResult],
    items: Sequence,
    *,
    pixel_size: float | None = None,
    radii: Sequence[float] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Return MRE, SD, SDR and per-landmark MRE over labelled items, plus per-image errors.

    ``predict_one(image)`` returns the :class:`LandmarkResult` of one image; the truth comes
    from the items' labelled points (``landmark_arrays``).
    """
    predictions: list[LandmarkResult] = []
    for done, item in enumerate(items, start=1):
        predictions.append(predict_one(item.image))
        if progress is not None:
            progress(done, len(items))
    landmark_set = predictions[0].landmark_set
    truth = np.stack(landmark_arrays(items, landmark_set))
    predicted = np.stack([result.points for result in predictions])
    scores = score_landmarks(predicted, truth, pixel_size=pixel_size, radii=radii)
    per_image = [
        {"name": item.name, "mre": score_landmarks(p[None], t[None], pixel_size=pixel_size).mre}
        if np.isfinite(t).any()
        else {"name": item.name, "mre": None}
        for item, p, t in zip(items, predicted, truth, strict=True)
    ]
    return {
        "task": "landmarks",
        **scores.to_dict(),
        "landmarks": list(landmark_set.names),
        "n_images": len(items),
        "images": per_image,
    }


def selection_error(result_points: np.ndarray, truth: np.ndarray, shapes: Sequence) -> float:
    """Return the MRE (px) that selects checkpoints: a missed landmark counts as the diagonal.

    ``score_landmarks`` leaves misses out of the MRE; for choosing a model that would reward
    one that stays silent on hard landmarks, so here a miss costs the image diagonal (the
    largest error possible in the image).
    """
    errors = np.linalg.norm(result_points - truth, axis=-1)
    diagonals = np.array([np.hypot(*shape) for shape in shapes])[:, None]
    missed = ~np.isfinite(result_points).all(axis=-1) & np.isfinite(truth).all(axis=-1)
    errors = np.where(missed, np.broadcast_to(diagonals, errors.shape), errors)
    present = np.isfinite(truth).all(axis=-1)
    if not present.any():
        raise GSTError("the validation images hold no landmark: nothing to select a model on")
    return float(errors[present].mean())
