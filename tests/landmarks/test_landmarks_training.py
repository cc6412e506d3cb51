"""End to end: a few optimiser steps on synthetic hands lower the GST and heatmap losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from napari_gst.landmarks import decode_landmarks
from napari_gst.landmarks.dataset import LandmarkDataset, collate_landmarks
from napari_gst.landmarks.heatmap import HeatmapLoss
from napari_gst.landmarks.loss import LandmarkGSTLoss
from napari_gst.models import build_model


def losses_over_steps(dataset, loss_fn, steps: int) -> list[float]:
    """Train a tiny U-Net on the same batch for ``steps`` steps; return the loss per step."""
    torch.manual_seed(0)
    model = build_model("unet", 1, 7, stride=4, width=8, depth=2)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    batch = next(iter(DataLoader(dataset, batch_size=4, collate_fn=collate_landmarks)))
    history = []
    for _ in range(steps):
        loss = loss_fn(model(batch["image"]), batch["target"])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.append(loss.item())
    density = model(batch["image"]).detach()
    assert density.shape == (4, 7, 12, 12)
    points, _ = decode_landmarks(density, stride=4)
    assert points.shape == (4, 7, 2)
    return history


@pytest.mark.parametrize("target", ["gst", "heatmap"])
def test_a_few_steps_lower_the_loss(hands, hand_fits, target):
    """GST trains through LandmarkGSTLoss (equal to GSTLoss, tested in test_landmarks_loss)."""
    dataset = LandmarkDataset(
        list(hands.images[:4]), list(hands.landmarks[:4]), hands.landmark_set, stride=4,
        target=target, crop_size=48, fits=hand_fits[:4], seed=0,
    )  # fmt: skip
    loss_fn = LandmarkGSTLoss() if target == "gst" else HeatmapLoss()
    history = losses_over_steps(dataset, loss_fn, steps=12)
    assert np.isfinite(history).all()
    assert np.mean(history[-3:]) < 0.8 * np.mean(history[:3])
