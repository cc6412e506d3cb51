"""Dock widget: train a counting or landmark network on annotated images, with live curves."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import napari
import numpy as np
import torch
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..devices import describe_device
from ..engine import TrainConfig, load_checkpoint, resolve_device, save_checkpoint, train
from ..engine.checkpoint import read_metadata
from ..engine.config import COUNT_DEFAULTS, LOSSES
from ..errors import GSTError
from ..landmarks.training_defaults import LANDMARK_TRAINING_DEFAULTS
from ..models import MODELS
from ._landmark_controls import LandmarkControls, chosen_landmarks
from ._notify import report_error
from ._overlays import stride_geometry
from ._pairs import PairList, read_folders
from ._plot import TrainingPlot
from ._settings import cache_dir, default_device
from ._state import session_state, unwrap_viewer
from ._tasks import Outcome, TaskControls

PREVIEW_LAYER = "training preview"
# The dock's starting learning rate per task: the engine's defaults (both with a warm-up).
DOCK_LEARNING_RATES = {
    "count": COUNT_DEFAULTS["learning_rate"],
    "landmarks": LANDMARK_TRAINING_DEFAULTS["learning_rate"],
}


@dataclass
class TrainingSettings:
    """The widget's training settings as the user sees them; ``config()`` makes a TrainConfig."""

    model: str = "unet"
    loss: str = "gst"
    epochs: int = 20
    learning_rate: float = DOCK_LEARNING_RATES["count"]
    crop_size: int = 128
    # Not shown in the dock: 4 crops of crop_size per step, one per image and epoch, so that
    # the dock's epochs stay short (the engine's counting default is 16 of 64 px, 4 per image).
    batch_size: int = 4
    crops_per_image: int = 1
    device: str = "auto"
    fit_iterations: int | None = None
    preview_every: int = 2
    task: str = "count"
    landmarks: dict | None = None

    def config(self) -> TrainConfig:
        """Return the engine's TrainConfig (raises GSTError naming a bad setting)."""
        # No time budget: the user watches the run and has a Stop button.
        return TrainConfig(
            task=self.task,
            landmarks=self.landmarks if self.task == "landmarks" else None,
            model=self.model,
            loss=self.loss,
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            crop_size=self.crop_size,
            batch_size=self.batch_size,
            crops_per_image=self.crops_per_image,
            device=self.device,
            max_minutes=None,
            # Short interactive runs: a validation point on the live plot after every epoch.
            val_every=1,
            cache_dir=str(cache_dir()),
            fit_options={} if self.fit_iterations is None else {"iterations": self.fit_iterations},
        )


class TrainingWidget(QWidget):
    """Train on pairs from open layers and/or dataset folders; Start, Stop, Resume.

    Public methods: ``start(resume=False)``, ``stop()``, ``save_model(folder)``,
    ``load_model(folder)``; ``settings()`` reads the controls.
    """

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = unwrap_viewer(napari_viewer)
        self.shared = session_state(self.viewer)
        self.stride: int | None = None
        self.last_event = None
        self._build_controls()

    def _build_controls(self) -> None:
        self.pairs = PairList(self.viewer, self.shared)
        self.task = LandmarkControls()
        self.model = _combo(list(MODELS), "unet")
        self.loss = _combo(list(LOSSES), "gst")
        self.epochs = _spin(QSpinBox(), 1, 100000, 20)
        self.learning_rate = QDoubleSpinBox()
        # Decimals first: a QDoubleSpinBox rounds its range and value to its decimals (2).
        self.learning_rate.setDecimals(7)
        _spin(self.learning_rate, 1e-7, 1.0, DOCK_LEARNING_RATES["count"])
        self.learning_rate.setSingleStep(1e-4)
        self.crop_size = _spin(QSpinBox(), 16, 4096, 128)
        self.crop_size.setSingleStep(16)
        self.device = _combo(["auto", "cpu", "cuda"], default_device())
        self.device_label = QLabel(f"detected: {_detected_device()}")
        self.fit_iterations = _spin(QSpinBox(), 0, 100000, 0)
        self.fit_iterations.setSpecialValueText("auto")
        self.fit_iterations.setToolTip("Adam steps per Gaussian fit (auto: until converged)")
        self.preview_every = _spin(QSpinBox(), 1, 1000, 2)
        self.output_dir = QLineEdit(str(_default_output_dir()))
        browse = QPushButton("...")
        browse.clicked.connect(self._ask_output_dir)
        self.start_button = QPushButton("Start")
        self.resume_button = QPushButton("Resume")
        self.tasks = TaskControls(cancel_text="Stop")
        self.epoch_label = QLabel("Not started.")
        self.plot = TrainingPlot()
        self.save_button = QPushButton("Save model...")
        self.load_button = QPushButton("Load model...")
        self._arrange(browse)

    def _arrange(self, browse: QPushButton) -> None:
        form = QFormLayout()
        form.addRow("Task", self.task)
        form.addRow("Model", self.model)
        form.addRow("Loss", self.loss)
        form.addRow("Epochs", self.epochs)
        form.addRow("Learning rate", self.learning_rate)
        form.addRow("Crop size", self.crop_size)
        form.addRow("Device", _row(self.device, self.device_label))
        form.addRow("Fit iterations", self.fit_iterations)
        form.addRow("Preview every", _row(self.preview_every, QLabel("epochs")))
        form.addRow("Output folder", _row(self.output_dir, browse))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Training pairs (image + points)"))
        layout.addWidget(self.pairs)
        layout.addLayout(form)
        layout.addLayout(_row_layout(self.start_button, self.resume_button))
        layout.addWidget(self.tasks)
        layout.addWidget(self.epoch_label)
        layout.addWidget(self.plot)
        layout.addLayout(_row_layout(self.save_button, self.load_button))
        layout.addStretch(1)

        self.start_button.clicked.connect(lambda: self.start(resume=False))
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        self.save_button.clicked.connect(self._ask_save)
        self.load_button.clicked.connect(self._ask_load)
        self.task.task.currentTextChanged.connect(self._apply_task_defaults)

    def _apply_task_defaults(self, task: str) -> None:
        """Switch the learning rate to the new task's default unless the user changed it."""
        if self.learning_rate.value() in DOCK_LEARNING_RATES.values():
            self.learning_rate.setValue(DOCK_LEARNING_RATES.get(task, DOCK_LEARNING_RATES["count"]))

    def settings(self) -> TrainingSettings:
        """Return the settings shown in the controls (reads the landmark names file, if any)."""
        names = self.task.names_from_file()
        return TrainingSettings(
            task=self.task.task_name(),
            landmarks=None if names is None else names.to_dict(),
            model=self.model.currentText(),
            loss=self.loss.currentText(),
            epochs=int(self.epochs.value()),
            learning_rate=float(self.learning_rate.value()),
            crop_size=int(self.crop_size.value()),
            device=self.device.currentText(),
            fit_iterations=int(self.fit_iterations.value()) or None,
            preview_every=int(self.preview_every.value()),
        )

    # ----------------------------------------------------------------- run
    def start(self, resume: bool = False) -> bool:
        """Start (or resume) training on a worker thread; return False (with a message) if not."""
        if self.tasks.busy:
            show_info("Training is already running.")
            return False
        out_dir = Path(self.output_dir.text()).expanduser()
        try:
            settings = self.settings()
            # Without a names file the landmark names come from the points' labels, which
            # folders only reveal once read (in the worker): the config is made there.
            names_from_labels = settings.task == "landmarks" and not settings.landmarks
            config = None if names_from_labels else settings.config()
            items = self.pairs.layer_items()
            folders = self.pairs.folders()
            resume_from = _resume_folder(out_dir) if resume else None
        except (ValueError, OSError) as error:
            report_error(error, "Training")
            return False
        if not items and not folders:
            show_warning("No training pairs: add an image with its points layer, or a folder.")
            return False
        if not folders and sum(item.count for item in items) == 0:
            show_warning("The training pairs hold no annotations: click some objects first.")
            return False
        self.stride = None
        if not resume:
            self.plot.clear()
        self._set_running(True)

        preview_every = int(self.preview_every.value())

        def job(should_stop):
            everything = items + read_folders(folders, self.tasks.report_progress)
            if sum(item.count for item in everything) == 0:
                raise GSTError("the training pairs hold no annotations")
            run_config = config or _named_by_labels(settings, everything).config()
            yield from train(
                run_config,
                everything,
                out_dir=out_dir,
                resume=resume_from,
                should_stop=should_stop,
                preview_every=preview_every,
            )

        self.tasks.run_generator(
            job,
            self._on_event,
            lambda outcome: self._on_finished(outcome, out_dir, settings.task),
            f"{'Resuming' if resume else 'Starting'} training in {out_dir}...",
        )
        return True

    def stop(self) -> None:
        """Ask the running training to stop; it ends within about a second."""
        self.tasks.cancel()

    def _set_running(self, running: bool) -> None:
        for widget in (self.start_button, self.resume_button, self.save_button, self.load_button):
            widget.setEnabled(not running)

    def _on_event(self, event) -> None:
        self.last_event = event
        if event.kind == "fitting":
            self.tasks.status.setText(f"Preparing Gaussian fits: {event.step}/{event.total_steps}")
            self.tasks.report_progress(event.step, event.total_steps)
        elif event.kind == "step":
            self.tasks.report_progress(event.step, event.total_steps)
            self.tasks.status.setText(f"Training on {event.device}")
            self.epoch_label.setText(_epoch_text(event, self.epochs.value()))
        elif event.kind == "checkpoint":
            self._read_stride(event.message)
        elif event.kind == "epoch_end":
            self.plot.metric = event.metric
            self.plot.add(event.epoch, event.losses.get("loss"), event.val_mae)
            self.epoch_label.setText(_epoch_text(event, self.epochs.value()))
            # The engine attaches a preview every "Preview every" epochs and after the last.
            if event.preview is not None:
                self._show_preview(event.preview, event.epoch)
        elif event.kind in ("done", "stopped"):
            self.tasks.status.setText(event.message)

    def _read_stride(self, message: str) -> None:
        """Learn the model's stride from the first checkpoint written (for the preview's scale)."""
        if self.stride is None and message.startswith("wrote "):
            try:
                self.stride = int(read_metadata(message[len("wrote ") :])[1]["stride"])
            except (ValueError, OSError, KeyError):
                self.stride = None

    def _show_preview(self, density: np.ndarray, epoch: int) -> None:
        stride = self.stride or 1
        scale, translate = stride_geometry((1.0, 1.0), (0.0, 0.0), stride)
        metadata = {"epoch": epoch, "count": float(density.sum()), "stride": stride}
        if PREVIEW_LAYER in self.viewer.layers:
            layer = self.viewer.layers[PREVIEW_LAYER]
            layer.data = density.astype(np.float32)
            layer.scale, layer.translate = scale, translate
            layer.contrast_limits = (0.0, max(float(density.max()), 1e-6))
            layer.metadata.update(metadata)
        else:
            self.viewer.add_image(
                density.astype(np.float32),
                name=PREVIEW_LAYER,
                colormap="inferno",
                blending="additive",
                scale=scale,
                translate=translate,
                metadata=metadata,
            )

    def _on_finished(self, outcome: Outcome, out_dir: Path, task: str) -> None:
        self._set_running(False)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # give the GPU back to napari and other tools
        if outcome.error is not None:
            report_error(outcome.error, "Training")
            return
        try:
            checkpoint = load_checkpoint(out_dir, task=task, device="cpu")
        except (ValueError, OSError):
            self.epoch_label.setText("Stopped before the first epoch ended: no model saved.")
            return
        self.shared.set_model(checkpoint, f"trained: {checkpoint.path}")
        show_info(f"Model ready ({checkpoint.path}); the Prediction widget uses it.")

    # ----------------------------------------------------------------- models
    def _ask_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder for checkpoints")
        if folder:
            self.output_dir.setText(folder)

    def _ask_save(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the current model into")
        if folder:
            self.save_model(folder)

    def _ask_load(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder (with model.json)")
        if folder:
            self.load_model(folder)

    def save_model(self, folder: str | Path) -> Path | None:
        """Write the current model to ``folder`` (safetensors + JSON); return the folder."""
        checkpoint = self.shared.model
        if checkpoint is None:
            show_warning("No model to save: train or load one first.")
            return None
        try:
            return save_checkpoint(folder, checkpoint.model, dict(checkpoint.metadata))
        except (ValueError, OSError) as error:
            report_error(error, f"Saving the model to {folder}")
            return None

    def load_model(self, folder: str | Path) -> bool:
        """Load a checkpoint folder as the current model; return False (with a message) on error."""
        try:
            checkpoint = load_checkpoint(folder, device="cpu")
        except (ValueError, OSError) as error:
            report_error(error, f"Loading model {folder}")
            return False
        self.shared.set_model(checkpoint, f"loaded: {checkpoint.path}")
        return True


def _epoch_text(event, epochs: int) -> str:
    """Return 'Epoch e/E, loss x, about T left' for an event."""
    parts = [f"Epoch {event.epoch}/{epochs}"]
    if "loss" in event.losses:
        parts.append(f"loss {event.losses['loss']:.4g}")
    if event.val_mae is not None:
        parts.append(f"val {event.metric} {event.val_mae:.2f}")
    if event.eta_s is not None:
        parts.append(f"about {_duration(event.eta_s)} left")
    return ", ".join(parts)


def _duration(seconds: float) -> str:
    """Return a short human duration, e.g. '1 min 05 s'."""
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _named_by_labels(settings: TrainingSettings, items: list) -> TrainingSettings:
    """Return ``settings`` with the landmark set named by the items' labels."""
    return replace(settings, landmarks=chosen_landmarks(None, items).to_dict())


def _resume_folder(out_dir: Path) -> Path:
    """Return ``out_dir`` when it holds a resumable run, else raise a GSTError saying so."""
    if not (out_dir / "last" / "model.json").is_file():
        raise GSTError(f"nothing to resume in {out_dir}: it has no last/model.json")
    return out_dir


def _detected_device() -> str:
    """Return the device 'auto' resolves to, in words."""
    return describe_device(resolve_device("auto"))


def _default_output_dir() -> Path:
    """Return a fresh run folder under ~/napari-gst/runs (named by the start time)."""
    return Path.home() / "napari-gst" / "runs" / time.strftime("%Y%m%d-%H%M%S")


def _combo(choices: list[str], current: str) -> QComboBox:
    box = QComboBox()
    box.addItems(choices)
    box.setCurrentText(current)
    return box


def _spin(box, low, high, value):
    box.setRange(low, high)
    box.setValue(value)
    return box


def _row(*widgets: QWidget) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return holder


def _row_layout(*widgets: QWidget) -> QHBoxLayout:
    layout = QHBoxLayout()
    for widget in widgets:
        layout.addWidget(widget)
    return layout
