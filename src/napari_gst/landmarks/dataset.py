"""LandmarkDataset: torch samples of images with per-landmark GST kernels or heatmap targets."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .._validation import as_stride
from ..data.annotations import AnnotatedImage
from ..data.augment import (
    SamplePlan,
    as_crop_size,
    as_scale_range,
    eval_plan,
    random_plan,
    scaled_shape,
)
from ..data.fitting import FittedImages
from ..data.image_cache import NormalisedImages, transformed_copy
from ..data.kernel_padding import pad_kernel
from ..data.normalise import Normalisation
from ..errors import GSTError
from ..splat import GaussianFit
from ..transport import TransportKernel
from .annotations import landmarks_from_labels
from .augment import flip_permutation, inside, landmarks_under_plan
from .heatmap import LandmarkTarget
from .kernels import landmark_kernels, present_mask
from .landmark_set import LandmarkSet
from .schedule import SigmaSchedule, default_sigma_schedule

TARGETS = ("gst", "heatmap")
# Epochs over which the default kernel clamp narrows when no schedule is given (the engine
# passes half of its training epochs instead).
DEFAULT_TIGHTEN_EPOCHS = 25


class LandmarkDataset(FittedImages, Dataset):
    """Images with L named landmarks each, as samples for an L-channel density network.

    The geometry is that of ``napari_gst.data.DensityDataset`` (same plan: rescale, pad to the
    stride, flip, stride-aligned crop; same ``set_epoch``/``prepare``), so the engine can use
    either. Each item is a dict:

    - ``"image"``: (C, h, w) float32 tensor;
    - ``"target"``: for ``target="gst"`` a tuple of L :class:`TransportKernel`, channel i's
      one-point-plus-background kernel (no point when landmark i is missing or cropped away),
      as ``GSTLoss``/``LandmarkGSTLoss`` take them; for ``"heatmap"`` a :class:`LandmarkTarget`;
    - ``"landmarks"``: (L, 2) float64 tensor of (row, col) in the sample, NaN when missing or
      outside; ``"count"``: how many are inside; ``"name"``.

    Parameters
    ----------
    images : sequence of (H, W) or (H, W, C) arrays, all with the same number of channels.
    landmarks : sequence of (L, 2) arrays, NaN rows for missing landmarks.
    landmark_set : LandmarkSet
    stride : density stride of the network.
    target : {"gst", "heatmap"}
    crop_size : int or (h, w), multiples of the stride; None: whole images.
    scale_range : (low, high) random rescale factors.
    flip : random left-right mirrors; needs ``flip_map`` (``{}`` if no landmark changes
        identity). Default off: a mirror would turn a left landmark into a right one.
    flip_map : mapping of name -> name of landmarks that swap under a mirror.
    normalisation : image scaling before fit and network (default: ``Normalisation()``).
    fits : precomputed joint fits (:func:`napari_gst.landmarks.kernels.fit_landmarks`).
    fit_kwargs, kernel_kwargs : options of ``fit_gaussians`` and ``build_kernel``. A
        ``kernel_kwargs["sigma_range"]`` fixes the kernel scale clamp and replaces the schedule.
    sigma_schedule : the kernel scale clamp per epoch (``set_epoch``), or per share of the run
        once ``set_progress`` has been called (the engine does, every step); default
        ``default_sigma_schedule(stride, DEFAULT_TIGHTEN_EPOCHS)``: 1.5..2.5 stride narrowing
        to sigma = stride / 2 (see ``napari_gst.landmarks.schedule``). Evaluation samples
        (``train=False``) use its final clamp.
    cache_dir : folder for cached fits.
    names : image names; seed : seeds the augmentation; train : augmented or whole images.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        landmarks: Sequence[np.ndarray],
        landmark_set: LandmarkSet,
        *,
        stride: int,
        target: str = "gst",
        crop_size: int | tuple[int, int] | None = None,
        scale_range: tuple[float, float] = (1.0, 1.0),
        flip: bool = False,
        flip_map: Mapping[str, str] | None = None,
        normalisation: Normalisation | None = None,
        fits: Sequence[GaussianFit] | None = None,
        fit_kwargs: dict | None = None,
        kernel_kwargs: dict | None = None,
        sigma_schedule: SigmaSchedule | None = None,
        cache_dir: str | os.PathLike | None = None,
        names: Sequence[str] | None = None,
        seed: int = 0,
        train: bool = True,
    ) -> None:
        if target not in TARGETS:
            raise GSTError(f"target must be one of {TARGETS}, got {target!r}")
        if len(images) != len(landmarks):
            raise GSTError(f"{len(images)} images but {len(landmarks)} landmark arrays")
        if flip and flip_map is None:
            raise GSTError(
                "flip=True needs a flip_map: a mirror swaps left and right landmarks "
                "(pass flip_map={} if no landmark changes identity)"
            )
        self.landmark_set, self.target = landmark_set, target
        self.stride = as_stride(stride)
        self.crop_size = as_crop_size(crop_size, self.stride)
        self.scale_range = as_scale_range(scale_range)
        self.permutation = flip_permutation(landmark_set, flip_map) if flip else None
        self.normalisation = normalisation or Normalisation()
        self._normalised = NormalisedImages(self.normalisation)
        self.fit_kwargs, self.kernel_kwargs = dict(fit_kwargs or {}), dict(kernel_kwargs or {})
        self.sigma_schedule = sigma_schedule or default_sigma_schedule(
            self.stride, DEFAULT_TIGHTEN_EPOCHS
        )
        self.cache_dir, self.seed, self.train, self.epoch = cache_dir, int(seed), bool(train), 0
        self.progress: float | None = None  # share of the run done; None: the epoch clock
        names = list(names) if names is not None else [f"{i:04d}" for i in range(len(images))]
        self.landmarks = [self._checked(array, i) for i, array in enumerate(landmarks)]
        # The fit input: present landmarks in channel order (fit row k = k-th present channel).
        self.items = [
            AnnotatedImage(np.asarray(image), array[present_mask(array)], None, name)
            for image, array, name in zip(images, self.landmarks, names, strict=True)
        ]
        self._fits = dict(enumerate(fits)) if fits is not None else {}
        self._draws = np.zeros(len(self.items), dtype=np.int64)

    @classmethod
    def from_items(
        cls, items: Sequence[AnnotatedImage], landmark_set: LandmarkSet, **options: object
    ) -> LandmarkDataset:
        """Return a dataset of annotated images whose ``labels`` name each point's landmark."""
        landmarks = []
        for item in items:
            if item.labels is None:
                raise GSTError(f"{item.name}: points have no labels; landmarks need a label each")
            landmarks.append(
                landmarks_from_labels(item.points, item.labels, landmark_set, source=item.name)
            )
        images = [item.image for item in items]
        return cls(images, landmarks, landmark_set, names=[i.name for i in items], **options)

    def __len__(self) -> int:
        """Return the number of images."""
        return len(self.items)

    @property
    def in_channels(self) -> int:
        """Return the number of image channels (the network's ``in_channels``)."""
        image = self.items[0].image if self.items else np.zeros((1, 1))
        return int(image.shape[2]) if image.ndim == 3 else 1

    def set_epoch(self, epoch: int) -> None:
        """Make the augmentation depend on ``epoch`` (as ``DensityDataset.set_epoch``)."""
        self.epoch = int(epoch)

    def set_progress(self, progress: float) -> None:
        """Drive the kernel schedule by the share of the run done (0..1) instead of the epoch.

        The engine calls this every step with the fraction its learning rate follows (the
        step fraction, or the time fraction where ``max_minutes`` will end the run), so a
        run that ``max_minutes`` cuts short narrows its kernels on time, as its learning
        rate anneals on time.
        """
        self.progress = float(progress)

    def _needs_fits(self) -> bool:
        """Return whether samples carry GST kernels (heatmap targets need no fit)."""
        return self.target == "gst"

    def __getitem__(self, index: int) -> dict:
        """Return sample ``index`` under this draw's plan (see the class docstring)."""
        item = self.items[index]
        plan = self._plan(index, item.shape)
        image = transformed_copy(self._normalised, index, item.image, plan)
        moved = landmarks_under_plan(self.landmarks[index], plan, self.permutation)
        frame = tuple(image.shape[1:])
        if self.target == "gst":
            target: object = tuple(self._kernels(index, plan))
        else:
            target = LandmarkTarget(moved, frame, self.stride)
        visible = inside(moved, frame)
        return {
            "image": image,
            "target": target,
            "landmarks": torch.from_numpy(np.where(visible[:, None], moved, np.nan)),
            "count": int(visible.sum()),
            "name": item.name,
        }

    def _plan(self, index: int, shape: tuple[int, int]) -> SamplePlan:
        """Return this draw's geometry for sample ``index`` (fixed in evaluation mode)."""
        if not self.train:
            return eval_plan(shape, self.stride)
        rng = np.random.default_rng([self.seed, self.epoch, index, int(self._draws[index])])
        self._draws[index] += 1
        axes = (1,) if self.permutation is not None else ()
        return random_plan(rng, shape, self.stride, self.crop_size, self.scale_range, axes)

    def sigma_range(self) -> tuple[float, float]:
        """Return the kernel scale clamp (min, max) in pixels of the current epoch."""
        if "sigma_range" in self.kernel_kwargs:
            return tuple(self.kernel_kwargs["sigma_range"])  # type: ignore[return-value]
        if not self.train:
            return self.sigma_schedule.tight
        if self.progress is not None:
            return self.sigma_schedule.at_progress(self.progress)
        return self.sigma_schedule.at(self.epoch)

    def _kernels(self, index: int, plan: SamplePlan) -> list[TransportKernel]:
        """Return the L kernels of image ``index`` under ``plan`` (channel order after a flip)."""
        shape = scaled_shape(self.items[index].shape, plan.scale)
        options = {**self.kernel_kwargs, "sigma_range": self.sigma_range()}
        kernels = landmark_kernels(
            self.fit(index), self.landmarks[index], shape, self.stride,
            scale=plan.scale, **options,
        )  # fmt: skip
        kernels = [pad_kernel(kernel, plan.padded_shape) for kernel in kernels]
        for axis in plan.flips:
            kernels = [kernel.flip(axis) for kernel in kernels]
        if plan.crop is not None:
            kernels = [kernel.crop(*plan.crop) for kernel in kernels]
        if 1 in plan.flips and self.permutation is not None:
            kernels = [kernels[source] for source in self.permutation]
        return kernels

    def _checked(self, landmarks: object, index: int) -> np.ndarray:
        """Return image ``index``'s landmarks as an (L, 2) array matching the set."""
        array = np.asarray(landmarks, dtype=np.float64)
        if array.shape != (len(self.landmark_set), 2):
            raise GSTError(
                f"landmarks[{index}] must have shape ({len(self.landmark_set)}, 2), one row per "
                f"landmark of the set, got {array.shape}"
            )
        present_mask(array, f"landmarks[{index}]")
        return array


def collate_landmarks(samples: Sequence[dict]) -> dict:
    """Return a batch: stacked ``image`` and ``landmarks``, and lists of targets and names."""
    shapes = {tuple(sample["image"].shape) for sample in samples}
    if len(shapes) > 1:
        raise GSTError(
            f"samples in a batch must share one shape, got {sorted(shapes)}: set crop_size "
            "or use batch_size=1"
        )
    return {
        "image": torch.stack([sample["image"] for sample in samples]),
        "target": [sample["target"] for sample in samples],
        "landmarks": torch.stack([sample["landmarks"] for sample in samples]),
        "count": torch.tensor([sample["count"] for sample in samples]),
        "name": [sample["name"] for sample in samples],
    }
