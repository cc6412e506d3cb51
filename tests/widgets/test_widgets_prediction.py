"""Prediction dock: count with a model, density + detections layers, counts CSV, feedback."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from napari_gst.widgets._state import session_state

WAIT_MS = 60_000


@pytest.fixture
def predictor(viewer, dock, model_folder):
    widget = dock(viewer, "Prediction")
    assert widget.load_model(model_folder)
    return widget


def predict_and_wait(widget, qtbot) -> None:
    assert widget.predict()
    qtbot.waitUntil(lambda: not widget.tasks.busy, timeout=WAIT_MS)


def test_predict_adds_aligned_density_and_detection_layers(predictor, viewer, tiny_cells, qtbot):
    viewer.add_image(tiny_cells[0], name="cells", scale=(0.5, 0.5), translate=(10.0, 20.0))

    predict_and_wait(predictor, qtbot)

    density = viewer.layers["cells density"]
    assert density.data.shape == (12, 12)  # 48 px at stride 4
    assert density.blending == "additive"
    np.testing.assert_allclose(density.scale, (2.0, 2.0))
    np.testing.assert_allclose(density.translate, (10.75, 20.75))
    count = density.metadata["count"]
    assert count == pytest.approx(float(density.data.sum()), rel=1e-5)
    detections = viewer.layers["cells detections"]
    assert detections.data.shape[1] == 2
    np.testing.assert_allclose(detections.scale, (0.5, 0.5))
    assert detections.metadata["count"] == count
    assert f"{count:.1f}" in predictor.count_label.text()


def test_the_detection_choice_reaches_the_points(predictor, viewer, tiny_cells, qtbot):
    viewer.add_image(tiny_cells[0], name="cells")
    predict_and_wait(predictor, qtbot)
    by_basins = viewer.layers["cells detections"].data
    predictor.detection.setCurrentText("peaks")
    predict_and_wait(predictor, qtbot)
    by_peaks = viewer.layers["cells detections"].data
    count = viewer.layers["cells density"].metadata["count"]
    # Basins give the rounded count; peaks give at most that, one per local maximum.
    assert len(by_basins) == round(count) and len(by_peaks) <= round(count)
    assert not np.array_equal(by_basins, by_peaks)


def test_the_augment_box_averages_the_views_as_predict_does(
    predictor, viewer, tiny_cells, qtbot, model_folder
):
    from napari_gst.engine import predict

    viewer.add_image(tiny_cells[0], name="cells")
    predictor.augment.setChecked(True)
    predict_and_wait(predictor, qtbot)
    shown = viewer.layers["cells density"].data
    expected = predict(model_folder, tiny_cells[0], device="cpu", augment=True).density
    np.testing.assert_allclose(shown, expected, rtol=1e-5, atol=1e-7)
    plain = predict(model_folder, tiny_cells[0], device="cpu").density
    assert not np.allclose(shown, plain)


def test_each_plane_of_a_stack_gets_its_own_count(predictor, viewer, qtbot, tmp_path):
    stack = np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    viewer.add_image(stack, name="stack")

    predict_and_wait(predictor, qtbot)

    density = viewer.layers["stack density"]
    assert density.data.shape == (3, 8, 8)
    np.testing.assert_allclose(density.scale, (1.0, 4.0, 4.0))
    counts = density.metadata["counts"]
    assert len(counts) == 3 and predictor.count_table.rowCount() == 3
    assert viewer.layers["stack detections"].data.shape[1] == 3  # (plane, row, col)

    exported = predictor.export_counts(tmp_path / "counts.csv")
    rows = list(csv.DictReader(exported.open()))
    assert [int(r["plane"]) for r in rows] == [0, 1, 2]
    np.testing.assert_allclose([float(r["count"]) for r in rows], counts)


def test_corrected_detections_become_a_training_pair(predictor, viewer, dock, tiny_cells, qtbot):
    viewer.add_image(tiny_cells[0], name="cells")
    predict_and_wait(predictor, qtbot)
    detections = viewer.layers["cells detections"]
    detections.data = np.array([[10.0, 10.0], [30.0, 20.0], [40.0, 40.0]])  # hand-corrected

    names = predictor.use_as_annotations()

    [pair] = session_state(viewer).annotations
    assert names == ["cells"] and pair.count == 3
    trainer = dock(viewer, "Training")
    assert any(
        "registered: cells (3 points)" in trainer.pairs.list.item(i).text()
        for i in range(trainer.pairs.list.count())
    )


def test_predict_without_a_model_warns(viewer, dock, tiny_cells, notifications):
    viewer.add_image(tiny_cells[0], name="cells")
    widget = dock(viewer, "Prediction")

    assert widget.predict() is False
    assert notifications == [
        ("warning", "No model: train one in the Training widget or load a model folder.")
    ]
    assert widget.predict_button.isEnabled()


def test_a_bad_checkpoint_is_reported(viewer, dock, tmp_path, notifications):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "model.json").write_text("{not json")
    widget = dock(viewer, "Prediction")

    assert widget.load_model(folder) is False
    [(severity, message)] = notifications
    assert severity == "error" and "not valid JSON" in message
    assert session_state(viewer).model is None
