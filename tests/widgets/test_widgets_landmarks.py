"""Landmarks in napari: train from labelled points, predict named, coloured landmark points."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from napari_gst.engine import save_checkpoint
from napari_gst.landmarks import HAND_LANDMARKS, make_hand_landmarks
from napari_gst.models import build_model, describe_model
from napari_gst.widgets._state import session_state

WAIT_MS = 120_000


@pytest.fixture
def hand():
    """One 64 x 64 synthetic hand and its 7 landmarks."""
    data = make_hand_landmarks(1, shape=(64, 64), seed=4)
    return data.images[0], data.landmarks[0]


@pytest.fixture
def landmark_model(tmp_path):
    """An (untrained) 7-channel stride-4 U-Net saved as a landmark checkpoint."""
    import torch

    torch.manual_seed(0)
    model = build_model("unet", 1, 7, stride=4, width=4, depth=2)
    metadata = {
        "model": describe_model(model),
        "task": "landmarks",
        "stride": 4,
        "loss": "gst",
        "landmarks": HAND_LANDMARKS.to_dict(),
    }
    return save_checkpoint(tmp_path / "hands model", model, metadata)


def test_prediction_shows_named_coloured_landmarks_and_densities(
    viewer, dock, qtbot, hand, landmark_model, tmp_path
):
    predictor = dock(viewer, "Prediction")
    assert predictor.load_model(landmark_model)
    viewer.add_image(hand[0], name="hand", scale=(0.5, 0.5))

    assert predictor.predict()
    qtbot.waitUntil(lambda: not predictor.tasks.busy, timeout=WAIT_MS)

    points = viewer.layers["hand landmarks"]
    labels = list(points.features["label"])
    assert len(labels) == len(points.data) and set(labels) <= set(HAND_LANDMARKS.names)
    colours = HAND_LANDMARKS.rgba()[[HAND_LANDMARKS.index(name) for name in labels]]
    np.testing.assert_allclose(points.face_color, colours, atol=1e-6)
    np.testing.assert_allclose(points.scale, (0.5, 0.5))
    for name in HAND_LANDMARKS.names:
        density = viewer.layers[f"hand {name} density"]
        assert density.data.shape == (16, 16) and density.metadata["landmark"] == name
    assert predictor.count_table.rowCount() == 7
    assert "of 7 found" in predictor.count_label.text()

    exported = predictor.export_counts(tmp_path / "landmarks.csv")
    rows = list(csv.DictReader(exported.open()))
    assert [row["landmark"] for row in rows] == list(HAND_LANDMARKS.names)


def test_a_landmark_checkpoint_loads_where_counting_ones_do(viewer, dock, landmark_model):
    trainer = dock(viewer, "Training")
    assert trainer.load_model(landmark_model)
    assert session_state(viewer).model.landmark_set == HAND_LANDMARKS


def labelled_hand_layers(viewer, hand, labels) -> None:
    viewer.add_image(hand[0], name="hand")
    viewer.add_points(hand[1], name="hand points", features={"label": labels})


def test_training_landmarks_from_the_points_label_feature(viewer, dock, qtbot, hand, tmp_path):
    labelled_hand_layers(viewer, hand, list(HAND_LANDMARKS.names))
    trainer = dock(viewer, "Training")
    trainer.pairs.add_current_layers()
    trainer.task.task.setCurrentText("landmarks")
    trainer.crop_size.setValue(48)
    trainer.fit_iterations.setValue(10)
    trainer.epochs.setValue(2)
    trainer.output_dir.setText(str(tmp_path / "run"))

    assert trainer.start()
    qtbot.waitUntil(lambda: not trainer.tasks.busy, timeout=WAIT_MS)

    model = session_state(viewer).model
    assert model.task == "landmarks" and model.landmark_set.names == HAND_LANDMARKS.names
    assert trainer.plot.metric == "MRE" and "val MRE" in trainer.epoch_label.text()


def test_a_names_file_that_lacks_a_label_is_reported(
    viewer, dock, qtbot, hand, tmp_path, notifications
):
    labelled_hand_layers(viewer, hand, [*HAND_LANDMARKS.names[:-1], "elbow"])
    names = tmp_path / "names.json"
    names.write_text(json.dumps(list(HAND_LANDMARKS.names)))
    trainer = dock(viewer, "Training")
    trainer.pairs.add_current_layers()
    trainer.task.task.setCurrentText("landmarks")
    trainer.task.names_file.setText(str(names))
    trainer.output_dir.setText(str(tmp_path / "run"))

    assert trainer.start()
    qtbot.waitUntil(lambda: not trainer.tasks.busy, timeout=WAIT_MS)

    errors = [message for severity, message in notifications if severity == "error"]
    assert errors and "'elbow'" in errors[0] and "hand" in errors[0]
