"""LandmarkDataset: torch samples of images with per-landmark GST kernels or heatmap targets."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..data.normalise import Normalisation
from ..errors import GSTError
from ..splat import GaussianFit
from ..transport import TransportKernel
from .augment import (
    View,
    apply_to_image,
    apply_to_landmarks,
    draw_view,
    flip_permutation,
    inside,
)
from .heatmap import LandmarkTarget
from .kernels import fit_landmarks, landmark_kernels, present_mask
from .landmark_set import LandmarkSet

TARGETS = ("gst", "heatmap")


class LandmarkDataset(Dataset):
    """Images with L named landmarks each, as training samples for an L-channel density model.

    Each item is a dict:

    - ``"image"``: (C, h, w) float32 tensor (normalised, rescaled, cropped, maybe mirrored);
    - ``"target"``: for ``target="gst"`` a tuple of L :class:`TransportKernel` (channel i's
      one-point-plus-background kernel; a missing landmark's kernel has no point), the
      per-image sequence ``napari_gst.losses.GSTLoss`` takes for a C-channel density; for
      ``target="heatmap"`` a :class:`LandmarkTarget` for :class:`HeatmapLoss`;
    - ``"landmarks"``: (L, 2) float64 tensor of (row, col) in the crop, NaN when missing or
      outside the crop; ``"count"``: how many are present; ``"name"``: the image's name.

    Parameters
    ----------
    images : sequence of (H, W) or (H, W, C) arrays
    landmarks : sequence of (L, 2) arrays, NaN rows for missing landmarks
    landmark_set : LandmarkSet
    stride : int
        Density stride of the model.
    target : {"gst", "heatmap"}
    crop_size : int, optional
        Side of the random square crops (rounded down to the stride); None: whole images.
    scale_range : (low, high)
        Random rescale factors, applied before cropping.
    flip : bool
        Random left-right mirrors; needs ``flip_map`` (default off: a mirror turns a left
        landmark into a right one).
    flip_map : mapping of name -> name, optional
        Landmarks that swap under a mirror; ``{}`` when none do.
    normalisation : Normalisation, optional
        Image scaling before fit and network (default: percentile, as for counting).
    fits : sequence of GaussianFit, optional
        Precomputed joint fits (from :func:`fit_landmarks`); else fitted on first use.
    fit_options, kernel_options : dict, optional
        Passed to ``fit_gaussians`` and ``build_kernel`` (e.g. ``sigma_range``).
    cache_dir : path, optional
        Cache fits on disk (``napari_gst.transport.cached_fit``).
    names : sequence of str, optional
    seed : int
        Seed of the random views.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        landmarks: Sequence[np.ndarray],
        landmark_set: LandmarkSet,
        *,
        stride: int,
        target: str = "gst",
        crop_size: int | None = None,
        scale_range: tuple[float, float] = (1.0, 1.0),
        flip: bool = False,
        flip_map: Mapping[str, str] | None = None,
        normalisation: Normalisation | None = None,
        fits: Sequence[GaussianFit] | None = None,
        fit_options: dict | None = None,
        kernel_options: dict | None = None,
        cache_dir: str | Path | None = None,
        names: Sequence[str] | None = None,
        seed: int = 0,
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
        if not 0 < scale_range[0] <= scale_range[1]:
            raise GSTError(f"scale_range must satisfy 0 < low <= high, got {scale_range}")
        self.landmark_set = landmark_set
        self.stride = int(stride)
        self.target = target
        self.crop_size = crop_size
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.flip = bool(flip)
        self.permutation = flip_permutation(landmark_set, flip_map) if flip else None
        self.normalisation = normalisation or Normalisation()
        self.fit_options = dict(fit_options or {})
        self.kernel_options = dict(kernel_options or {})
        self.cache_dir = cache_dir
        self.names = list(names) if names is not None else [f"{i:04d}" for i in range(len(images))]
        self._images = [self.normalisation.apply(image) for image in images]
        self._landmarks = [self._checked(array, i) for i, array in enumerate(landmarks)]
        self._fits: list[GaussianFit | None] = (
            list(fits) if fits is not None else [None] * len(self)
        )
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Return the number of images."""
        return len(self._images)

    @property
    def in_channels(self) -> int:
        """Return the number of image channels C."""
        return int(self._images[0].shape[2]) if self._images else 1

    def fit(self, index: int) -> GaussianFit:
        """Return the joint Gaussian fit of image ``index``'s landmarks (computed once)."""
        if self._fits[index] is None:
            self._fits[index] = fit_landmarks(
                self._images[index],
                self._landmarks[index],
                cache_dir=self.cache_dir,
                **self.fit_options,
            )
        return self._fits[index]

    def precompute_fits(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Fit every image now (calls ``progress(done, total)`` after each)."""
        for index in range(len(self)):
            self.fit(index)
            if progress is not None:
                progress(index + 1, len(self))

    def __getitem__(self, index: int) -> dict:
        """Return sample ``index`` under a fresh random view (see the class docstring)."""
        image, landmarks = self._images[index], self._landmarks[index]
        view = draw_view(
            self._rng, image.shape[:2], self.stride, self.crop_size, self.scale_range, self.flip
        )
        crop = apply_to_image(image, view)
        moved = apply_to_landmarks(landmarks, view, image.shape[:2], self.permutation)
        frame = crop.shape[:2]
        if self.target == "gst":
            target: object = tuple(self._kernels(index, view))
        else:
            target = LandmarkTarget(moved, frame, self.stride)
        visible = np.where(inside(moved, frame)[:, None], moved, np.nan)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))),
            "target": target,
            "landmarks": torch.from_numpy(visible),
            "count": int(inside(moved, frame).sum()),
            "name": self.names[index],
        }

    def _kernels(self, index: int, view: View) -> list[TransportKernel]:
        """Return the L kernels of image ``index`` under ``view`` (channel order after a flip)."""
        options = dict(self.kernel_options)
        if view.scale != 1.0:
            options["scale"] = view.scale
        kernels = landmark_kernels(
            self.fit(index), self._landmarks[index], view.scaled_shape, self.stride, **options
        )
        top, left, height, width = view.box
        kernels = [kernel.crop(top, left, height, width) for kernel in kernels]
        if view.flip:
            kernels = [kernels[source].flip(1) for source in self.permutation]
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
            f"samples in a batch must share one crop shape, got {sorted(shapes)}: set crop_size "
            "no larger than the smallest image, or use batch_size=1"
        )
    return {
        "image": torch.stack([sample["image"] for sample in samples]),
        "target": [sample["target"] for sample in samples],
        "landmarks": torch.stack([sample["landmarks"] for sample in samples]),
        "count": torch.tensor([sample["count"] for sample in samples]),
        "name": [sample["name"] for sample in samples],
    }
