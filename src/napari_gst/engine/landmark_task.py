"""Landmark localisation as an engine task: L output channels, one-point kernels, MRE selection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from torch import nn

from ..errors import GSTError
from ..landmarks import LandmarkSet
from ..landmarks.items import landmark_arrays
from .config import TrainConfig
from .landmark_prediction import selection_error


class LandmarkTask:
    """Landmarks: channel i is landmark i of ``config.landmarks``; selects on the MRE (px).

    GST trains each channel against its own one-point-plus-background kernel
    (``LandmarkGSTLoss``); loss "l2" is the Gaussian-heatmap baseline (``HeatmapLoss``).
    """

    name = "landmarks"
    metric = "MRE"

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.landmark_set = LandmarkSet.from_dict(config.landmarks or {})

    def check_items(self, items: Sequence) -> None:
        """Raise naming the image whose labels are missing or not in the landmark set."""
        arrays = landmark_arrays(items, self.landmark_set)
        if not any(np.isfinite(array).all(axis=1).any() for array in arrays):
            raise GSTError("the training images hold no landmark of the set")

    def out_channels(self) -> int:
        """Return L, one density channel per landmark."""
        return len(self.landmark_set)

    def needs_fits(self) -> bool:
        """Return True for GST (each landmark's kernel comes from the joint Gaussian fit)."""
        return self.config.loss == "gst"

    def dataset(self, items: list, normalisation, stride: int, cache_dir: Path, seed: int):
        """Return a ``LandmarkDataset`` of one-point kernels (GST) or heatmaps (l2).

        Without ``config.sigma_range`` the kernel clamp narrows from 1.5..2.5 stride to
        sigma = stride / 2 over the first half of the run (``default_sigma_schedule``, driven
        by the training loop through ``set_progress`` with the learning rate's progress, so a
        run cut short by ``max_minutes`` narrows on time); a ``sigma_range`` fixes the clamp
        for the whole run.
        """
        from ..landmarks.dataset import LandmarkDataset
        from ..landmarks.schedule import default_sigma_schedule

        config = self.config
        kernel_kwargs = {} if config.sigma_range is None else {"sigma_range": config.sigma_range}
        # The epoch length applies only until the loop first reports its progress.
        schedule = default_sigma_schedule(stride, max(1, config.epochs // 2))
        return LandmarkDataset.from_items(
            items,
            self.landmark_set,
            stride=stride,
            target="gst" if config.loss == "gst" else "heatmap",
            crop_size=config.crop_size,
            scale_range=config.scale_range,
            flip=bool(config.flip),
            flip_map=config.flip_map,
            cache_dir=cache_dir,
            fit_kwargs=dict(config.fit_options),
            kernel_kwargs=kernel_kwargs,
            sigma_schedule=schedule,
            normalisation=normalisation,
            seed=seed,
        )

    def collate(self) -> Callable[[Sequence[dict]], dict]:
        """Return ``collate_landmarks``."""
        from ..landmarks.dataset import collate_landmarks

        return collate_landmarks

    def loss(self) -> nn.Module:
        """Return ``LandmarkGSTLoss`` (gst) or ``HeatmapLoss(**loss_options)`` (l2)."""
        from ..landmarks.heatmap import HeatmapLoss
        from ..landmarks.loss import LandmarkGSTLoss

        options = dict(self.config.loss_options)
        try:
            return (
                LandmarkGSTLoss(**options) if self.config.loss == "gst" else HeatmapLoss(**options)
            )
        except TypeError as error:
            raise GSTError(f"bad loss_options for landmarks: {error}") from error

    def score(self, model: nn.Module, items: Sequence, device, normalisation) -> float:
        """Return the MRE in pixels on ``items``, a missed landmark counting as the diagonal."""
        results = [self._predict(model, item, device, normalisation) for item in items]
        truth = np.stack(landmark_arrays(items, self.landmark_set))
        points = np.stack([result.points for result in results])
        return selection_error(points, truth, [item.shape for item in items])

    def score_training(self, model: nn.Module, items: Sequence, device, normalisation) -> float:
        """Return the MRE on the training images (positions need no calibration)."""
        return self.score(model, items, device, normalisation)

    def calibration(self, model: nn.Module, items: Sequence, device, normalisation) -> None:
        """Return None: landmark positions do not depend on the density's scale."""
        return None

    def preview(self, model: nn.Module, item, device, normalisation) -> np.ndarray:
        """Return the sum of the L landmark densities of ``item`` (one picture for all)."""
        return self._predict(model, item, device, normalisation).density.sum(axis=0)

    def check_resume(self, metadata: dict, folder: Path) -> None:
        """Refuse a checkpoint whose landmark names differ from the config's."""
        stored = LandmarkSet.from_dict(metadata.get("landmarks") or {"names": ["?"]})
        if stored.names != self.landmark_set.names:
            raise GSTError(
                f"{folder} was trained for landmarks {list(stored.names)}, not "
                f"{list(self.landmark_set.names)}"
            )

    def _predict(self, model: nn.Module, item, device, normalisation):
        """Return the LandmarkResult of one item (decoded as this run's loss reads best)."""
        from .landmark_prediction import predict_landmark_planes
        from .prediction import plane_densities

        density = plane_densities(model, normalisation.apply(item.image), device, None, 0)
        return predict_landmark_planes(
            model,
            [density],
            landmark_set=self.landmark_set,
            image_shape=item.shape,
            is_stack=False,
            loss=self.config.loss,
        )
