"""Fixtures for the command-line tests: a tiny annotated folder and an untrained model folder."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from napari_gst.data import Normalisation, make_cells, write_points_csv
from napari_gst.engine.checkpoint import save_checkpoint
from napari_gst.models import build_model, describe_model


def write_folder(folder: Path, n_images: int, shape=(64, 64), seed: int = 0) -> Path:
    """Write synthetic cell images as PNG + CSV pairs (img_0.png, img_0.csv, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(n_images):
        image, points = make_cells(shape, n_cells=8, seed=seed + index)
        iio.imwrite(folder / f"img_{index}.png", (image * 255).astype(np.uint8))
        write_points_csv(folder / f"img_{index}.csv", points)
    return folder


@pytest.fixture(scope="session")
def cells_folder(tmp_path_factory) -> Path:
    """Four 64 x 64 annotated synthetic images."""
    return write_folder(tmp_path_factory.mktemp("cells"), 4)


@pytest.fixture(scope="session")
def model_folder(tmp_path_factory) -> Path:
    """An untrained (but valid) tiny counting model, saved as training would save it."""
    torch.manual_seed(0)
    model = build_model("unet", 1, 1, stride=2, width=4, depth=2)
    folder = tmp_path_factory.mktemp("model")
    metadata = {
        "model": describe_model(model),
        "task": "count",
        "stride": 2,
        "normalisation": Normalisation().to_dict(),
    }
    save_checkpoint(folder / "best", model, metadata)
    return folder
