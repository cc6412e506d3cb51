"""predict_landmarks / evaluate_landmarks: the read-out of a trained L-channel network."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from napari_gst.errors import GSTError
from napari_gst.landmarks.predict import evaluate_landmarks, predict_landmarks


class BrightestCellNet(nn.Module):
    """Stand-in network at stride 2: channel 0 peaks on bright cells, channel 1 is empty."""

    stride = 2

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.avg_pool2d(image.mean(1, keepdim=True), 2)
        return torch.cat([pooled**4, torch.zeros_like(pooled)], dim=1)


def test_predicts_the_bright_spot_and_scores_it():
    image = np.zeros((32, 32), dtype=np.float32)
    image[20:22, 10:12] = 1.0  # a 2 x 2 spot centred on pixel (20.5, 10.5) = one density cell
    prediction = predict_landmarks(BrightestCellNet(), image)
    assert prediction.density.shape == (2, 16, 16) and prediction.stride == 2
    np.testing.assert_allclose(prediction.points[0], [20.5, 10.5])
    assert np.isnan(prediction.points[1]).all()  # empty channel: no landmark
    truth = np.array([[20.0, 11.0], [np.nan, np.nan]])
    scores = evaluate_landmarks(BrightestCellNet(), [image, image], [truth, truth], radii=[1.0])
    assert scores.mre == pytest.approx(np.hypot(0.5, 0.5)) and scores.sdr == {1.0: 1.0}


def test_mismatched_inputs_are_refused():
    with pytest.raises(GSTError, match="one \\(L, 2\\) landmark array per image"):
        evaluate_landmarks(BrightestCellNet(), [np.zeros((8, 8))], [])
    with pytest.raises(GSTError, match="stride"):
        predict_landmarks(nn.Identity(), np.zeros((8, 8)))
