"""NormalisedImages: each training image normalised once and kept, within a memory budget."""

from __future__ import annotations

import numpy as np
import torch

from .augment import apply_to_image
from .normalise import Normalisation

# Enough for a few hundred microscopy images; larger data sets (crowd photos of megapixels)
# fall back to normalising per sample instead of growing without bound.
DEFAULT_BUDGET_BYTES = 2 * 1024**3


class NormalisedImages:
    """The (C, H, W) float32 network input of each image, computed on first use and cached.

    A training sample used to normalise its whole image every time (percentiles over all
    pixels), which on VGG cells was a third of the data time per step; an image's
    normalisation does not change between samples, so it is done once. Images that would
    push the cache past ``budget_bytes`` are normalised per call and not kept.
    """

    def __init__(
        self, normalisation: Normalisation, budget_bytes: int = DEFAULT_BUDGET_BYTES
    ) -> None:
        self.normalisation = normalisation
        self.budget_bytes = int(budget_bytes)
        self._images: dict[int, torch.Tensor] = {}
        self._bytes = 0

    def get(self, index: int, image: np.ndarray) -> torch.Tensor:
        """Return image ``index`` normalised, as a (C, H, W) tensor shared with the cache."""
        cached = self._images.get(index)
        if cached is not None:
            return cached
        tensor = torch.from_numpy(self.normalisation.apply(image)).permute(2, 0, 1)
        size = tensor.element_size() * tensor.nelement()
        if self._bytes + size <= self.budget_bytes:
            self._images[index] = tensor
            self._bytes += size
        return tensor


def transformed_copy(images: NormalisedImages, index: int, image: np.ndarray, plan) -> torch.Tensor:
    """Return image ``index`` normalised and put through ``plan`` (``augment.SamplePlan``).

    The result never shares memory with the cache, so callers may modify it.
    """
    cached = images.get(index, image)
    result = apply_to_image(cached, plan)
    if result.untyped_storage().data_ptr() == cached.untyped_storage().data_ptr():
        result = result.clone()
    return result
