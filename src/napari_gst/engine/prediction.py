"""Predict density, count and points for an image or a stack, from a network or checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ..devices import resolve_device
from ..errors import GSTError
from .checkpoint import Checkpoint, load_checkpoint
from .edge_ring import apply_edge_gain, edge_gain_of
from .peaks import DETECTION_METHODS, count_guided_peaks
from .tiling import (
    as_image_tensor,
    infer_density,
    infer_density_tiled,
    input_multiple,
    model_stride,
)
from .views import averaged_density

# Whole images up to this many pixels go through the network in one piece; larger ones are
# tiled so memory stays bounded (about 1 GB of activations for the U-Net on a CPU).
AUTO_TILE_PIXELS = 1024 * 1024
AUTO_TILE_SIZE = 512
# A 3-D array's last axis up to this long is read as channels (as image files are read).
_MAX_CHANNELS = 8

if TYPE_CHECKING:  # pragma: no cover
    from .landmark_prediction import LandmarkResult


@dataclass
class Prediction:
    """What a counting network says about an image or a stack.

    Attributes
    ----------
    density : (h, w) density map at ``stride`` for one image; (T, h, w) for a stack.
    count : the density's sum: a float for one image, a (T,) array for a stack.
    points : count-guided peaks in image pixels: (K, 2) (row, col) for one image, (K, 3)
        (plane, row, col) for a stack, as napari's Points layer stores them.
    stride : pixels per density cell.
    image_shape : (H, W) of the image (of each plane).
    """

    density: np.ndarray
    count: float | np.ndarray
    points: np.ndarray
    stride: int
    image_shape: tuple[int, int]

    @property
    def is_stack(self) -> bool:
        """True when the prediction covers a stack of planes."""
        return self.density.ndim == 3

    def counts(self) -> np.ndarray:
        """Return the count of each plane as a 1-D array (one entry for a single image)."""
        return np.atleast_1d(np.asarray(self.count, dtype=np.float64))

    def planes(self) -> list[Prediction]:
        """Return one single-image Prediction per plane (``[self]`` for a single image)."""
        if not self.is_stack:
            return [self]
        return [
            Prediction(
                density=self.density[index],
                count=float(count),
                points=self.points[self.points[:, 0] == index, 1:],
                stride=self.stride,
                image_shape=self.image_shape,
            )
            for index, count in enumerate(self.counts())
        ]


def _resolve_model(
    model_or_checkpoint: nn.Module | Checkpoint | str | Path, normalisation: object, device
) -> tuple[nn.Module, object]:
    """Return (network on device, Normalisation) for any accepted model argument."""
    from ..data import Normalisation

    if isinstance(model_or_checkpoint, (str, Path)):
        model_or_checkpoint = load_checkpoint(model_or_checkpoint, device=device)
    if isinstance(model_or_checkpoint, Checkpoint):
        stored = model_or_checkpoint.normalisation
        normalisation = normalisation or (Normalisation.from_dict(stored) if stored else None)
        model_or_checkpoint = model_or_checkpoint.model
    if not isinstance(model_or_checkpoint, nn.Module):
        raise GSTError(
            "model_or_checkpoint must be a network, a Checkpoint or a model folder, got "
            f"{type(model_or_checkpoint).__name__}"
        )
    if isinstance(normalisation, dict):
        normalisation = Normalisation.from_dict(normalisation)
    return model_or_checkpoint.to(device).eval(), normalisation or Normalisation()


def input_channels(model: nn.Module) -> int | None:
    """Return the network's input channels (``in_channels``, else its first convolution's)."""
    declared = getattr(model, "in_channels", None)
    if isinstance(declared, int):
        return declared
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return None


def _planes(image: object, channels: int | None, stack: bool | None) -> tuple[np.ndarray, bool]:
    """Return (T, H, W, C) planes of an image or stack and whether the input was a stack."""
    array = np.asarray(image)
    if array.ndim not in (2, 3, 4) or 0 in array.shape:
        raise GSTError(
            f"image must be (H, W), (H, W, C), (T, H, W) or (T, H, W, C), got {array.shape}"
        )
    if stack is None:
        # A 3-D array is a stack unless its last axis matches the network's input channels;
        # a last axis short enough to be channels (an RGB image for a grey network) is a
        # channel mismatch, not a stack of planes a few pixels wide.
        stack = array.ndim == 4 or (array.ndim == 3 and array.shape[-1] != (channels or 1))
        if stack and array.ndim == 3 and array.shape[-1] <= _MAX_CHANNELS:
            raise GSTError(
                f"image has {array.shape[-1]} channel(s) but the model expects {channels or 1} "
                f"(image shape {array.shape}; pass stack=True for a stack of planes this narrow)"
            )
    if stack:
        planes = array[..., None] if array.ndim == 3 else array
    else:
        planes = (array[..., None] if array.ndim == 2 else array)[None]
    if planes.ndim != 4:
        raise GSTError(f"image of shape {array.shape} is not a stack of 2D planes")
    if channels is not None and planes.shape[-1] != channels:
        raise GSTError(
            f"image has {planes.shape[-1]} channel(s) but the model expects {channels} "
            f"(image shape {array.shape})"
        )
    return planes, stack


def task_of(model_or_checkpoint: object, task: str | None) -> str:
    """Return the task of a model argument; a Checkpoint for another task than ``task`` is refused.

    A bare network or a model folder not yet loaded says nothing: ``task`` (default "count").
    """
    if isinstance(model_or_checkpoint, Checkpoint):
        if task is not None and model_or_checkpoint.task != task:
            raise GSTError(
                f"{model_or_checkpoint.path} holds a model for task "
                f"{model_or_checkpoint.task!r}, not {task!r}"
            )
        return model_or_checkpoint.task
    return task or "count"


def load_model_argument(model_or_checkpoint: object, task: str | None, device) -> object:
    """Return a model folder loaded as a Checkpoint (refusing another task); others as given."""
    if isinstance(model_or_checkpoint, (str, Path)):
        return load_checkpoint(model_or_checkpoint, task=task, device=device)
    return model_or_checkpoint


def plane_densities(
    model: nn.Module, plane: np.ndarray, device: torch.device, tile_size: int | None, overlap: int
) -> np.ndarray:
    """Return the (C_out, h, w) density of one normalised (H, W, C) plane, tiled when large."""
    tensor = as_image_tensor(plane, device)
    height, width = plane.shape[:2]
    if tile_size is None and height * width > AUTO_TILE_PIXELS:
        tile_size = AUTO_TILE_SIZE
    if tile_size is None:
        density = infer_density(model, tensor)
    else:
        density = infer_density_tiled(model, tensor, tile_size, overlap)
    return density.float().cpu().numpy()


def predict(
    model_or_checkpoint: nn.Module | Checkpoint | str | Path,
    image: object,
    *,
    tile_size: int | None = None,
    overlap: int = 64,
    device: str | torch.device = "auto",
    normalisation: object = None,
    stack: bool | None = None,
    min_distance: float = 3.0,
    task: str | None = None,
    detection: str = "basins",
    augment: bool = False,
) -> Prediction | LandmarkResult:
    """Return the density map, count and points (or the landmarks) of an image or a stack.

    Parameters
    ----------
    model_or_checkpoint : a density network (with ``.stride``), a loaded Checkpoint, or a
        model folder written by training (its normalisation is then applied). A landmark
        checkpoint gives a :class:`~napari_gst.engine.landmark_prediction.LandmarkResult`
        (named points per landmark, per-landmark densities) instead of a Prediction.
    image : (H, W) or (H, W, C) image, or (T, H, W[, C]) stack; any numeric dtype.
    tile_size : predict in overlapping tiles of this many pixels (None: tiles only for images
        over a megapixel). ``overlap`` is the tiles' overlap in pixels.
    device : "auto" (CUDA when available), "cpu" or "cuda".
    normalisation : a ``napari_gst.data.Normalisation`` (or its dict) overriding the
        checkpoint's; default percentile normalisation for a bare network.
    stack : force the reading of a 3-D array as a stack (True) or a C-channel image (False).
    min_distance : smallest distance between detected points, in pixels (counting).
    task : "count" or "landmarks": refuse checkpoints of the other task; for a bare network,
        how to read its output (default: the checkpoint's task, else "count").
    detection : how counting points are read from the density: "basins" (one point per
        unit of mass, touching objects apart) or "peaks" (one per local maximum); see
        :func:`~napari_gst.engine.peaks.count_guided_peaks`.
    augment : counting only: average the density over the 8 flipped and rotated views of
        each image (8 network passes; see ``napari_gst.engine.views``).

    Examples
    --------
    >>> result = predict("runs/cells", image)  # doctest: +SKIP
    >>> result.count, result.points.shape  # doctest: +SKIP
    (176.4, (176, 2))
    """
    if detection not in DETECTION_METHODS:
        raise GSTError(
            f"detection must be one of {', '.join(DETECTION_METHODS)}, got {detection!r}"
        )
    device = resolve_device(device)
    model_or_checkpoint = load_model_argument(model_or_checkpoint, task, device)
    task = task_of(model_or_checkpoint, task)
    model, normalisation = _resolve_model(model_or_checkpoint, normalisation, device)
    if augment and task == "landmarks":
        raise GSTError(
            "augment applies to counting models only: a mirror turns a left landmark into "
            "a right one"
        )
    planes, is_stack = _planes(image, input_channels(model), stack)

    def densities_of(plane: np.ndarray) -> np.ndarray:
        return plane_densities(model, plane, device, tile_size, overlap)

    def read(plane: np.ndarray) -> np.ndarray:
        normalised = normalisation.apply(plane)
        if augment:
            density = averaged_density(
                densities_of, normalised, input_multiple(model), model_stride(model)
            )
        else:
            density = densities_of(normalised)
        return apply_edge_gain(density, edge_gain_of(model))  # the whole image's edge

    all_densities = [read(plane) for plane in planes]
    shape = (int(planes.shape[1]), int(planes.shape[2]))
    if task == "landmarks":
        return _landmarks(model_or_checkpoint, model, all_densities, shape, is_stack)
    stride = model_stride(model)
    min_cells = max(1, int(round(min_distance / stride)))
    densities, points = [], []
    for index, channels in enumerate(all_densities):
        density = channels[0]
        found = count_guided_peaks(density, stride, min_distance=min_cells, method=detection)
        densities.append(density)
        points.append(np.column_stack([np.full(len(found), float(index)), found]))
    counts = np.array([float(d.sum(dtype=np.float64)) for d in densities])
    all_points = np.concatenate(points) if points else np.zeros((0, 3))
    return Prediction(
        density=np.stack(densities) if is_stack else densities[0],
        count=counts if is_stack else float(counts[0]),
        points=all_points if is_stack else all_points[:, 1:],
        stride=stride,
        image_shape=shape,
    )


def _landmarks(model_or_checkpoint, model, densities, shape, is_stack) -> LandmarkResult:
    """Return the landmarks decoded from per-plane (L, h, w) densities."""
    from .landmark_prediction import landmark_set_of, predict_landmark_planes

    loss = "gst"
    if isinstance(model_or_checkpoint, Checkpoint):
        loss = str(model_or_checkpoint.metadata.get("loss", "gst"))
    return predict_landmark_planes(
        model,
        densities,
        landmark_set=landmark_set_of(model_or_checkpoint, densities[0].shape[0]),
        image_shape=shape,
        is_stack=is_stack,
        loss=loss,
    )
