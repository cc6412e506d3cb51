"""Training dock: train on layer pairs, live curves and preview, Stop, Resume, the shared model."""

from __future__ import annotations

import time

import pytest

from napari_gst.engine.checkpoint import Checkpoint
from napari_gst.widgets._state import session_state

WAIT_MS = 120_000


@pytest.fixture
def trainer(viewer, dock, tiny_cells, tmp_path):
    """The training dock with one image + points pair and settings for a seconds-long run."""
    image, points = tiny_cells
    viewer.add_image(image, name="cells")
    viewer.add_points(points, name="cells points")
    widget = dock(viewer, "Training")
    widget.pairs.add_current_layers()
    widget.crop_size.setValue(32)
    widget.fit_iterations.setValue(30)
    widget.preview_every.setValue(1)
    widget.output_dir.setText(str(tmp_path / "run"))
    return widget


def wait_until_idle(widget, qtbot) -> None:
    qtbot.waitUntil(lambda: not widget.tasks.busy, timeout=WAIT_MS)


@pytest.mark.slow
def test_two_epochs_give_curves_a_preview_and_the_shared_model(trainer, viewer, dock, qtbot):
    trainer.epochs.setValue(2)

    assert trainer.start()
    wait_until_idle(trainer, qtbot)

    assert trainer.plot.epochs == [1, 2] and all(loss > 0 for loss in trainer.plot.losses)
    preview = viewer.layers["training preview"]
    assert preview.data.shape == (12, 12)  # the U-Net's stride 4 on a 48 px image
    assert tuple(preview.scale) == (4.0, 4.0)
    assert preview.metadata["epoch"] == 2
    model = session_state(viewer).model
    assert isinstance(model, Checkpoint) and model.stride == 4
    assert "trained" in dock(viewer, "Prediction").model_label.text()

    trainer.epochs.setValue(3)
    assert trainer.start(resume=True)
    wait_until_idle(trainer, qtbot)
    assert trainer.plot.epochs == [1, 2, 3]


@pytest.mark.slow
def test_the_engine_computes_previews_only_for_the_epochs_shown(trainer, qtbot):
    trainer.epochs.setValue(3)
    trainer.preview_every.setValue(2)
    previewed = []
    show = trainer._on_event

    def record(event):
        if event.kind == "epoch_end" and event.preview is not None:
            previewed.append(event.epoch)
        show(event)

    trainer._on_event = record
    assert trainer.start()
    wait_until_idle(trainer, qtbot)
    assert previewed == [2, 3]  # every 2 epochs, and the last


@pytest.mark.slow
def test_stop_ends_training_within_a_second_or_two(trainer, qtbot):
    trainer.epochs.setValue(100000)
    assert trainer.start()
    qtbot.waitUntil(
        lambda: trainer.last_event is not None and trainer.last_event.kind == "step",
        timeout=WAIT_MS,
    )

    asked = time.monotonic()
    trainer.stop()
    wait_until_idle(trainer, qtbot)

    assert time.monotonic() - asked < 2.0
    assert trainer.last_event.kind == "stopped"
    assert trainer.start_button.isEnabled()


def test_training_without_pairs_warns(viewer, dock, notifications):
    widget = dock(viewer, "Training")

    assert widget.start() is False
    assert notifications[0][0] == "warning" and "No training pairs" in notifications[0][1]
    assert widget.start_button.isEnabled() and not widget.tasks.busy


def test_training_pairs_without_points_warn(viewer, dock, tiny_cells, notifications):
    viewer.add_image(tiny_cells[0], name="cells")
    viewer.add_points(name="empty points")
    widget = dock(viewer, "Training")
    widget.pairs.add_current_layers()

    assert widget.start() is False
    assert notifications[0][0] == "warning" and "no annotations" in notifications[0][1]


def test_resume_without_a_run_is_reported(trainer, tmp_path, notifications):
    trainer.output_dir.setText(str(tmp_path / "nothing here"))

    assert trainer.start(resume=True) is False
    assert notifications[0][0] == "error" and "nothing to resume" in notifications[0][1]


def test_controls_start_at_the_documented_defaults(viewer, dock):
    widget = dock(viewer, "Training")

    settings = widget.settings()
    assert (settings.model, settings.loss, settings.epochs) == ("unet", "gst", 20)
    assert settings.learning_rate == pytest.approx(3e-3)
    assert settings.crop_size == 128 and settings.fit_iterations is None
    config = settings.config()
    assert config.learning_rate == pytest.approx(3e-3) and config.max_minutes is None


def test_landmark_task_starts_at_the_landmark_learning_rate(viewer, dock):
    widget = dock(viewer, "Training")
    widget.task.task.setCurrentText("landmarks")
    assert widget.settings().learning_rate == pytest.approx(2e-3)
    widget.task.task.setCurrentText("count")
    assert widget.settings().learning_rate == pytest.approx(3e-3)
    widget.learning_rate.setValue(5e-4)  # a value the user chose is kept
    widget.task.task.setCurrentText("landmarks")
    assert widget.settings().learning_rate == pytest.approx(5e-4)


def test_device_choice_shows_what_was_detected(viewer, dock):
    widget = dock(viewer, "Training")

    assert widget.device.currentText() in ("auto", "cpu", "cuda")
    assert widget.device_label.text().startswith("detected: ")
    assert ("cuda" in widget.device_label.text()) or ("cpu" in widget.device_label.text())
