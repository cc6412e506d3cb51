"""The task seam of the engine: what differs between counting and landmark training.

A task object answers every question the generic training loop cannot: which dataset and
collate function make the batches, which loss trains them, how many output channels the
network has, what number selects the best checkpoint (lower is better), what the preview
shows and what a resumed run must agree with. ``make_task(config)`` picks the task class
from ``config.task``; the loop (``session.py``, ``training.py``) only talks to this protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from torch import nn

from ..errors import GSTError
from .config import TrainConfig


class Task(Protocol):
    """What the training loop needs to know about a task (see the module docstring)."""

    name: str
    metric: str  # selection metric in words, e.g. "MAE"; lower is better

    def check_items(self, items: Sequence) -> None:
        """Raise a GSTError naming the first item that cannot be trained on."""

    def out_channels(self) -> int:
        """Return the number of network output channels."""

    def needs_fits(self) -> bool:
        """Return True when the dataset needs Gaussian fits before training."""

    def dataset(self, items: list, normalisation, stride: int, cache_dir: Path, seed: int):
        """Return the augmented training dataset (with ``set_epoch`` and ``prepare``)."""

    def collate(self) -> Callable[[Sequence[dict]], dict]:
        """Return the DataLoader's collate function."""

    def loss(self) -> nn.Module:
        """Return the training loss module."""

    def score(self, model: nn.Module, items: Sequence, device, normalisation) -> float:
        """Return the selection metric of ``model`` on ``items`` (lower is better)."""

    def score_training(self, model: nn.Module, items: Sequence, device, normalisation) -> float:
        """Return the selection metric on the training images (when none are held out)."""

    def preview(self, model: nn.Module, item, device, normalisation) -> np.ndarray:
        """Return an (h, w) density of one image for the live preview."""

    def calibration(self, model: nn.Module, items: Sequence, device, normalisation):
        """Return the ``CountGains`` to validate and save ``model`` with (None: leave them at 1)."""

    def check_resume(self, metadata: dict, folder: Path) -> None:
        """Raise a GSTError when a checkpoint to resume from belongs to another set-up."""


def _kernel_kwargs(config: TrainConfig) -> dict:
    """Return the ``build_kernel`` options the config asks for (not the crop rule)."""
    options = dict(config.kernel_options)
    options.pop("crop_mass", None)
    if config.sigma_range is not None:
        options["sigma_range"] = config.sigma_range
    return options


class CountTask:
    """Counting: one density channel whose sum is the count; selects on the MAE."""

    name = "count"
    metric = "MAE"

    def __init__(self, config: TrainConfig) -> None:
        self.config = config

    def check_items(self, items: Sequence) -> None:
        """Accept any annotated images (the dataset checks points against images)."""

    def out_channels(self) -> int:
        """Return 1: a single density channel."""
        return 1

    def needs_fits(self) -> bool:
        """Return True for the GST loss (its kernels come from Gaussian fits)."""
        return self.config.loss == "gst"

    def dataset(self, items: list, normalisation, stride: int, cache_dir: Path, seed: int):
        """Return a ``DensityDataset`` with kernels (GST) or point targets (baselines)."""
        from ..data import DensityDataset

        config = self.config
        return DensityDataset(
            items,
            stride=stride,
            crop_size=config.crop_size,
            scale_range=config.scale_range,
            flip=config.flip,
            vertical_flip=config.flip,
            transpose=config.transpose,
            use_kernel=config.loss == "gst",
            cache_dir=cache_dir,
            fit_kwargs=dict(config.fit_options),
            kernel_kwargs=_kernel_kwargs(config),
            crop_mass=config.kernel_options.get("crop_mass", "fraction"),
            normalisation=normalisation,
            seed=seed,
        )

    def collate(self) -> Callable[[Sequence[dict]], dict]:
        """Return ``napari_gst.data.collate_samples``."""
        from ..data import collate_samples

        return collate_samples

    def loss(self) -> nn.Module:
        """Return ``make_loss(config.loss, **config.loss_options)``."""
        from ..losses import make_loss

        return make_loss(self.config.loss, **self.config.loss_options)

    def score(self, model: nn.Module, items: Sequence, device, normalisation) -> float:
        """Return the counting MAE on ``items`` (whole images; no point detection needed)."""
        from .calibration import image_counts

        predicted, annotated = image_counts(model, items, device, normalisation)
        return float(np.abs(predicted - annotated).mean())

    def score_training(self, model: nn.Module, items: Sequence, device, normalisation) -> float:
        """Return the MAE on the training ``items``, each counted with the others' gain.

        With calibration on, each image is scored with the gains of the other images
        (``leave_one_out_errors``); without it, on its raw count.
        """
        from .calibration import UNCALIBRATED, leave_one_out_errors, output_gain, ring_counts

        with output_gain(model, UNCALIBRATED):
            predicted, annotated = ring_counts(model, items, device, normalisation)
        if not self.config.calibrate:
            return float(np.abs(predicted.sum(axis=1) - annotated.sum(axis=1)).mean())
        return float(leave_one_out_errors(predicted, annotated).mean())

    def calibration(self, model: nn.Module, items: Sequence, device, normalisation):
        """Return the count gains of ``model`` on the training ``items`` (None: not asked)."""
        if not self.config.calibrate:
            return None
        from .calibration import count_gain

        return count_gain(model, items, device, normalisation)

    def preview(self, model: nn.Module, item, device, normalisation) -> np.ndarray:
        """Return the predicted density of ``item``."""
        from .prediction import predict

        return predict(
            model, item.image, device=device, normalisation=normalisation, stack=False
        ).density

    def check_resume(self, metadata: dict, folder: Path) -> None:
        """Accept any counting checkpoint (the task itself is checked on reading it)."""


def make_task(config: TrainConfig) -> Task:
    """Return the task object for ``config.task``."""
    from .landmark_task import LandmarkTask

    classes = {"count": CountTask, "landmarks": LandmarkTask}
    if config.task not in classes:
        raise GSTError(f"task must be one of {', '.join(classes)}, got {config.task!r}")
    return classes[config.task](config)
