"""Torch dataset of annotated images: normalised, rescaled, cropped, flipped, with targets."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .._validation import as_points, as_stride
from ..errors import GSTError
from ..splat import GaussianFit
from ..transport import TransportKernel, build_cropped_kernel, build_kernel
from ..transport.crop import check_crop_mass
from .annotations import AnnotatedImage
from .augment import (
    SamplePlan,
    as_crop_size,
    as_scale_range,
    eval_plan,
    random_plan,
    scaled_shape,
    unflipped_box,
)
from .fitting import FittedImages
from .image_cache import NormalisedImages, transformed_copy
from .kernel_padding import pad_kernel
from .normalise import Normalisation
from .point_targets import point_target


class DensityDataset(FittedImages, Dataset):
    """Samples for density training: image tensor plus its transport kernel (or point target).

    Each sample (training mode) rescales the image by a random factor in ``scale_range``,
    pads it at the bottom/right to a multiple of ``stride`` (and to at least the crop), takes
    a random stride-aligned ``crop_size`` crop and flips it horizontally with probability
    1/2. The kernel is rebuilt from the image's cached Gaussian fit at the rescaled geometry
    (``build_kernel(fit, rescaled_shape, stride, scale=s, **kernel_kwargs)``), then padded,
    flipped and cropped exactly like the image. In evaluation mode (``train=False``) the
    whole image is padded to a multiple of the stride, without augmentation.

    Parameters
    ----------
    items : annotated images (e.g. from ``load_dataset`` or ``make_cells_dataset``); all
        must have the same number of channels.
    stride : density stride of the network.
    crop_size : int or (h, w), multiples of ``stride``; None uses whole images.
    scale_range : (low, high) random rescale factors; (1, 1) disables rescaling.
    flip : random horizontal flips; ``vertical_flip`` adds vertical ones (microscopy has
        no "up"; crowd photos do, hence off by default); ``transpose`` swaps a crop's rows
        and columns with probability 1/2 (with both flips: all 8 symmetries of a square;
        needs a square ``crop_size``, so the samples of a batch keep one shape).
    use_kernel : build GST transport kernels (needs a Gaussian fit per image); False gives
        light ``losses.PointTarget`` targets and never fits.
    cache_dir : folder for fits (``transport.cached_fit``); None keeps them in memory only.
    fit_kwargs, kernel_kwargs : options for ``fit_gaussians`` and ``build_kernel``.
    crop_mass : how a crop sets the target mass of an annotation near its edge (GST kernels
        only): "fraction" (its Gaussian's share inside the crop) or "centre" (1 if the dot
        lies in the crop, else 0: the convention by which whole images are counted, see
        ``TransportKernel.crop``). Point targets always keep the dots inside a crop whole.
    normalisation : how images are scaled (stored with the model by the engine).
    seed : seeds the augmentation; sample i of epoch e draw k is reproducible.
    train : training (augmented crops) or evaluation (whole images) samples.

    Samples are dicts: ``"image"`` (C, h, w) float32 tensor, ``"target"`` (TransportKernel
    or PointTarget with the same geometry), ``"count"`` (float, annotation mass inside),
    ``"name"`` (str).
    """

    def __init__(
        self,
        items: Sequence[AnnotatedImage],
        *,
        stride: int,
        crop_size: int | tuple[int, int] | None = None,
        scale_range: tuple[float, float] = (1.0, 1.0),
        flip: bool = True,
        vertical_flip: bool = False,
        transpose: bool = False,
        use_kernel: bool = True,
        cache_dir: str | os.PathLike | None = None,
        fit_kwargs: dict | None = None,
        kernel_kwargs: dict | None = None,
        crop_mass: str = "fraction",
        normalisation: Normalisation | None = None,
        seed: int = 0,
        train: bool = True,
    ) -> None:
        self.items = _check_items(items)
        self.stride = as_stride(stride)
        self.crop_size = as_crop_size(crop_size, self.stride)
        self.scale_range = as_scale_range(scale_range)
        self.flip, self.vertical_flip = bool(flip), bool(vertical_flip)
        self.transpose = _check_transpose(transpose, self.crop_size)
        self.use_kernel, self.train, self.seed = bool(use_kernel), bool(train), int(seed)
        self.cache_dir = cache_dir
        self.fit_kwargs, self.kernel_kwargs = dict(fit_kwargs or {}), dict(kernel_kwargs or {})
        self.crop_mass = check_crop_mass(crop_mass)
        self.normalisation = normalisation or Normalisation()
        self._normalised = NormalisedImages(self.normalisation)
        self.epoch = 0
        self._fits: dict[int, GaussianFit] = {}
        self._draws = np.zeros(len(self.items), dtype=np.int64)

    def __len__(self) -> int:
        """Return the number of images."""
        return len(self.items)

    @property
    def in_channels(self) -> int:
        """Return the number of image channels (the network's ``in_channels``)."""
        return _channels(self.items[0].image) if self.items else 1

    def set_epoch(self, epoch: int) -> None:
        """Make the augmentation depend on ``epoch`` (needed when DataLoader workers restart)."""
        self.epoch = int(epoch)

    def _needs_fits(self) -> bool:
        """Return whether samples carry kernels (and so need Gaussian fits)."""
        return self.use_kernel

    def __getitem__(self, index: int) -> dict:
        """Return sample ``index``: {"image", "target", "count", "name"}."""
        item = self.items[index]
        plan = self._plan(index, item.shape)
        image = transformed_copy(self._normalised, index, item.image, plan)
        target = self._target(index, plan)
        return {
            "image": image,
            "target": target,
            "count": float(np.sum(target.mass)),
            "name": item.name,
        }

    def _plan(self, index: int, shape: tuple[int, int]) -> SamplePlan:
        """Return the geometry of this draw of sample ``index`` (fixed in evaluation mode)."""
        if not self.train:
            return eval_plan(shape, self.stride)
        rng = np.random.default_rng([self.seed, self.epoch, index, int(self._draws[index])])
        self._draws[index] += 1
        axes = (1,) * self.flip + (0,) * self.vertical_flip
        return random_plan(
            rng, shape, self.stride, self.crop_size, self.scale_range, axes, self.transpose
        )

    def _target(self, index: int, plan: SamplePlan) -> object:
        """Return the sample's target with exactly the image's rescale, padding, flip, crop
        and transpose."""
        item = self.items[index]
        if not self.use_kernel:
            return point_target(item.points, item.shape, self.stride, plan)
        kernel = self._kernel(index, plan)
        return kernel.transposed() if plan.transpose else kernel

    def _kernel(self, index: int, plan: SamplePlan) -> TransportKernel:
        """Return the sample's kernel after the plan's rescale, padding, flip and crop."""
        item = self.items[index]
        if plan.crop is None:
            kernel = pad_kernel(self._scaled_kernel(index, plan.scale), plan.padded_shape)
            for axis in plan.flips:
                kernel = kernel.flip(axis)
            return kernel
        # Only the crop's cells are built (the same rows as building the whole rescaled
        # kernel, padding, flipping and cropping it, at a fraction of the cost); the crop
        # box is mapped back through the flips, and the small kernel is flipped after.
        shape = scaled_shape(item.shape, plan.scale)
        kernel = build_cropped_kernel(
            self.fit(index),
            shape,
            self.stride,
            unflipped_box(plan),
            frame_shape=plan.padded_shape,
            scale=plan.scale,
            crop_mass=self.crop_mass,
            **self.kernel_kwargs,
        )
        for axis in plan.flips:
            kernel = kernel.flip(axis)
        return kernel

    def _scaled_kernel(self, index: int, scale: float) -> TransportKernel:
        """Return the kernel of image ``index`` rescaled by ``scale``, built from its fit."""
        fit = self.fit(index)
        shape = scaled_shape(self.items[index].shape, scale)
        return build_kernel(fit, shape, self.stride, scale=scale, **self.kernel_kwargs)


def collate_samples(samples: Sequence[dict]) -> dict:
    """Return a batch: images stacked to (B, C, h, w); targets, counts and names as lists.

    Raises a GSTError when the images differ in size (use ``crop_size``, or batch size 1
    for whole images of different sizes).
    """
    if not samples:
        raise GSTError("cannot collate an empty list of samples")
    shapes = {tuple(sample["image"].shape) for sample in samples}
    if len(shapes) > 1:
        raise GSTError(
            f"samples in a batch have different image shapes {sorted(shapes)}; set crop_size "
            "or use batch size 1"
        )
    return {
        "image": torch.stack([sample["image"] for sample in samples]),
        "target": [sample["target"] for sample in samples],
        "count": torch.tensor([sample["count"] for sample in samples], dtype=torch.float32),
        "name": [sample["name"] for sample in samples],
    }


def _check_transpose(transpose: bool, crop_size: tuple[int, int] | None) -> bool:
    """Return ``transpose`` as a bool; a transposed sample must keep the batch's shape."""
    if transpose and (crop_size is None or crop_size[0] != crop_size[1]):
        raise GSTError(
            f"transpose needs a square crop_size (the samples of a batch share one shape), "
            f"got {crop_size!r}"
        )
    return bool(transpose)


def _channels(image: np.ndarray) -> int:
    """Return the channel count of an (H, W) or (H, W, C) image."""
    return 1 if image.ndim == 2 else int(image.shape[2])


def _check_items(items: Sequence[AnnotatedImage]) -> list[AnnotatedImage]:
    """Return ``items`` as a list after checking shapes, points and channel counts."""
    items = list(items)
    channels = {_channels(np.asarray(item.image)) for item in items}
    if len(channels) > 1:
        raise GSTError(f"items mix images with {sorted(channels)} channels; use one kind")
    for item in items:
        if np.ndim(item.image) not in (2, 3):
            raise GSTError(f"item {item.name!r}: image must be (H, W) or (H, W, C)")
        as_points(item.points, item.shape, name=f"points of {item.name!r}")
    return items
