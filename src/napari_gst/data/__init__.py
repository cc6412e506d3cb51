"""Point sets and their file formats, dataset discovery, synthetic samples and torch datasets.

Readers return plain numpy arrays: images as (H, W) or (H, W, C) in their stored dtype,
points as (N, 2) float64 (row, col) in image pixels. The torch dataset classes are imported
on first use so that reading files does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .annotations import AnnotatedImage, PointSet
from .discovery import FORMATS, discover_dataset, load_dataset
from .image_io import IMAGE_SUFFIXES, read_image, read_image_or_stack
from .normalise import Normalisation
from .point_io import read_points
from .points_csv import write_points_csv
from .synthetic import make_cells, make_cells_dataset

_LAZY = {
    "DensityDataset": "napari_gst.data.datasets",
    "collate_samples": "napari_gst.data.datasets",
    "precompute_fits": "napari_gst.data.fitting",
}

__all__ = [
    "FORMATS",
    "IMAGE_SUFFIXES",
    "AnnotatedImage",
    "Normalisation",
    "PointSet",
    "discover_dataset",
    "load_dataset",
    "make_cells",
    "make_cells_dataset",
    "read_image",
    "read_image_or_stack",
    "read_points",
    "write_points_csv",
    "DensityDataset",
    "collate_samples",
    "precompute_fits",
]

if TYPE_CHECKING:  # pragma: no cover
    from .datasets import DensityDataset, collate_samples
    from .fitting import precompute_fits


def __getattr__(name: str):
    """Import the torch-backed names on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'napari_gst.data' has no attribute {name!r}")
