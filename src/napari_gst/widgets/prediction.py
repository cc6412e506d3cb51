"""Dock widget: count objects (or find landmarks) with a model; show the result as layers."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import napari
import numpy as np
from napari.layers import Image
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..data import AnnotatedImage
from ..engine import load_checkpoint, predict
from ..engine.landmark_prediction import LandmarkResult
from ..engine.peaks import DETECTION_METHODS
from ..engine.prediction import task_of
from ._landmark_layers import (
    TABLE_COLUMNS,
    fill_landmark_table,
    landmark_density_layers,
    landmark_points_layer,
    landmark_rows,
    summary,
)
from ._layer_io import image_array, spatial_geometry, spatial_ndim
from ._layer_select import LayerSelect
from ._notify import report_error
from ._overlays import stride_geometry
from ._settings import default_device
from ._state import session_state, unwrap_viewer
from ._tasks import Outcome, TaskControls

DENSITY_COLORMAP = "inferno"


@dataclass
class PredictionResult:
    """The last prediction the widget made, in the form the user sees it.

    Attributes
    ----------
    image_name : str
        The Image layer that was counted.
    counts : list of float
        One count per plane (one entry for a 2D image).
    stride : int
        Pixels per density cell.
    density_layer, points_layer : str
        Names of the layers that show the result (for landmarks, ``density_layer`` is the
        first of the per-landmark density layers).
    landmarks : list of dict
        For a landmark model: one row per (plane, landmark) with "plane", "landmark", "row",
        "col", "confidence"; empty for counting.
    """

    image_name: str
    counts: list[float] = field(default_factory=list)
    stride: int = 1
    density_layer: str = ""
    points_layer: str = ""
    landmarks: list[dict] = field(default_factory=list)


class PredictionWidget(QWidget):
    """Apply the current model to an Image layer (2D, or each plane of a stack).

    Public methods: ``load_model(path)``, ``predict()``, ``export_counts(path)``,
    ``use_as_annotations()``; the buttons call them.
    """

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = unwrap_viewer(napari_viewer)
        self.shared = session_state(self.viewer)
        self.result: PredictionResult | None = None
        self._build_controls()
        self.shared.model_changed.connect(self._show_model)
        self._show_model(self.shared.model)

    def _build_controls(self) -> None:
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.load_button = QPushButton("Load model...")
        self.image_select = LayerSelect(self.viewer, Image)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.setCurrentText(default_device())
        self.detection = QComboBox()
        self.detection.addItems(list(DETECTION_METHODS))
        self.detection.setToolTip(
            "basins: one point per unit of predicted mass, so touching objects get a point "
            "each; peaks: one point per bump of the density (fewer, surer points)"
        )
        self.augment = QCheckBox("Average 8 flipped and rotated views")
        self.augment.setToolTip(
            "Counting models: predict each image 8 times, mirrored and turned, and average "
            "the densities (8 times the work; steadier counts). Landmark models ignore it."
        )
        self.predict_button = QPushButton("Predict")
        self.tasks = TaskControls()
        self.count_label = QLabel("No prediction yet.")
        self.count_table = QTableWidget(0, 2)
        self.count_table.setHorizontalHeaderLabels(["plane", "count"])
        self.count_table.setMaximumHeight(160)
        self.export_button = QPushButton("Export counts...")
        self.feedback_button = QPushButton("Use as training annotations")
        self.feedback_button.setToolTip(
            "Correct the detections by hand first; the points then become a training pair"
        )

        form = QFormLayout()
        form.addRow("Model", self.model_label)
        form.addRow("", self.load_button)
        form.addRow("Image", self.image_select)
        form.addRow("Device", self.device)
        form.addRow("Detection", self.detection)
        form.addRow("", self.augment)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.feedback_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.predict_button)
        layout.addWidget(self.tasks)
        layout.addWidget(self.count_label)
        layout.addWidget(self.count_table)
        layout.addLayout(buttons)
        layout.addStretch(1)

        self.load_button.clicked.connect(self._ask_model_folder)
        self.predict_button.clicked.connect(self.predict)
        self.export_button.clicked.connect(self._ask_export_path)
        self.feedback_button.clicked.connect(self.use_as_annotations)

    # ----------------------------------------------------------------- model
    def _show_model(self, model: object) -> None:
        if model is None:
            self.model_label.setText("none: train one or load a model folder")
        else:
            self.model_label.setText(self.shared.model_source)

    def _ask_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder (with model.json)")
        if folder:
            self.load_model(folder)

    def load_model(self, path: str | Path) -> bool:
        """Load a checkpoint folder as the current model; return False (with a message) on error."""
        try:
            checkpoint = load_checkpoint(path, device="cpu")
        except (ValueError, OSError) as error:
            report_error(error, f"Loading model {path}")
            return False
        self.shared.set_model(checkpoint, f"{Path(checkpoint.path).name} ({checkpoint.path})")
        return True

    # ----------------------------------------------------------------- predict
    def predict(self) -> bool:
        """Start predicting on the chosen image; return False (with a message) if it can't."""
        if self.tasks.busy:
            show_info("A prediction is already running.")
            return False
        model = self.shared.model
        layer = self.image_select.layer()
        if model is None:
            show_warning("No model: train one in the Training widget or load a model folder.")
            return False
        if layer is None:
            show_warning("No Image layer is open: open an image to count.")
            return False
        if spatial_ndim(layer) not in (2, 3):
            show_warning(f"Image {layer.name!r} must be 2D or a 3D stack of 2D planes.")
            return False
        # Read pixels here, in the main thread; the worker never touches layers.
        pixels = image_array(layer)
        planes = [pixels] if spatial_ndim(layer) == 2 else list(pixels)
        device, detection = self.device.currentText(), self.detection.currentText()
        # A mirror swaps left and right landmarks: views are averaged for counting only.
        augment = self.augment.isChecked() and task_of(model, None) == "count"
        self.predict_button.setEnabled(False)

        def job(should_stop):
            for index, plane in enumerate(planes):
                if should_stop():
                    return
                result = predict(
                    model, plane, device=device, stack=False, detection=detection,
                    augment=augment,
                )  # fmt: skip
                yield index, len(planes), result

        collected: list = []

        def on_plane(item) -> None:
            index, total, prediction = item
            collected.append(prediction)
            self.tasks.report_progress(index + 1, total)

        self.tasks.run_generator(
            job,
            on_plane,
            lambda outcome: self._on_predicted(outcome, layer, collected),
            f"Predicting {len(planes)} plane(s) of {layer.name!r}...",
        )
        return True

    def _on_predicted(self, outcome: Outcome, layer: Image, predictions: list) -> None:
        self.predict_button.setEnabled(True)
        if outcome.error is not None:
            report_error(outcome.error, "Prediction")
            return
        if outcome.cancelled or not predictions:
            self.count_label.setText("Prediction cancelled.")
            return
        is_stack = spatial_ndim(layer) == 3
        if is_stack and len(predictions) < layer.data.shape[0]:
            self.count_label.setText("Prediction stopped before the last plane.")
            return
        if isinstance(predictions[0], LandmarkResult):
            self.result = self._show_landmarks(layer, predictions, is_stack)
            return
        self.result = self._show_layers(layer, predictions, is_stack)
        self._show_counts(self.result.counts)

    def _show_landmarks(self, layer: Image, results: list, is_stack: bool) -> PredictionResult:
        """Add the named landmark points and per-landmark densities; fill the table."""
        densities = landmark_density_layers(layer, results, is_stack)
        for density in densities:
            _replace_layer(self.viewer, density)
        points = _replace_layer(self.viewer, landmark_points_layer(layer, results, is_stack))
        rows = landmark_rows(results)
        fill_landmark_table(self.count_table, rows)
        self.count_label.setText(summary(rows, len(results)))
        return PredictionResult(
            layer.name,
            stride=int(results[0].stride),
            density_layer=densities[0].name,
            points_layer=points,
            landmarks=rows,
        )

    def _show_layers(self, layer: Image, predictions: list, is_stack: bool) -> PredictionResult:
        stride = int(predictions[0].stride)
        counts = [float(p.count) for p in predictions]
        density = np.stack([p.density for p in predictions]) if is_stack else predictions[0].density
        if is_stack:
            points = [
                np.column_stack([np.full(len(p.points), i), p.points])
                for i, p in enumerate(predictions)
            ]
            detections = np.concatenate(points) if points else np.zeros((0, 3))
        else:
            detections = predictions[0].points
        scale, translate = spatial_geometry(layer)
        grid_scale, grid_translate = stride_geometry(scale, translate, stride)
        metadata = {
            "count": float(sum(counts)),
            "counts": counts,
            "stride": stride,
            "model": self.shared.model_source,
            "image_layer": layer.name,
        }
        result = PredictionResult(layer.name, counts, stride)
        result.density_layer = _replace_layer(
            self.viewer,
            napari.layers.Image(
                density.astype(np.float32),
                name=f"{layer.name} density",
                colormap=DENSITY_COLORMAP,
                blending="additive",
                scale=grid_scale,
                translate=grid_translate,
                metadata=dict(metadata),
            ),
        )
        result.points_layer = _replace_layer(
            self.viewer,
            napari.layers.Points(
                detections.reshape(-1, density.ndim),
                name=f"{layer.name} detections",
                size=max(4.0, 0.75 * stride),
                face_color="cyan",
                border_color="black",
                scale=scale,
                translate=translate,
                metadata=dict(metadata),
            ),
        )
        return result

    def _show_counts(self, counts: list[float]) -> None:
        total = sum(counts)
        planes = f" over {len(counts)} planes" if len(counts) > 1 else ""
        self.count_label.setText(f"Count: {total:.1f}{planes}")
        self.count_table.setColumnCount(2)
        self.count_table.setHorizontalHeaderLabels(["plane", "count"])
        self.count_table.setRowCount(len(counts))
        for row, count in enumerate(counts):
            self.count_table.setItem(row, 0, QTableWidgetItem(str(row)))
            self.count_table.setItem(row, 1, QTableWidgetItem(f"{count:.2f}"))

    # ----------------------------------------------------------------- export, feedback
    def _ask_export_path(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export counts", "counts.csv", "CSV (*.csv)")
        if path:
            self.export_counts(path)

    def export_counts(self, path: str | Path) -> Path | None:
        """Write ``image,plane,count`` rows of the last prediction to ``path``; return it.

        After a landmark prediction the rows are ``image,plane,landmark,row,col,confidence``.
        """
        if self.result is None:
            show_warning("Nothing to export: run a prediction first.")
            return None
        path = Path(path)
        try:
            with path.open("w", newline="") as handle:
                writer = csv.writer(handle)
                if self.result.landmarks:
                    writer.writerow(["image", *TABLE_COLUMNS])
                    for row in self.result.landmarks:
                        cells = [row[key] for key in TABLE_COLUMNS]
                        writer.writerow([self.result.image_name, *map(str, cells)])
                    return _exported(path)
                writer.writerow(["image", "plane", "count"])
                for plane, count in enumerate(self.result.counts):
                    writer.writerow([self.result.image_name, plane, repr(count)])
        except OSError as error:
            report_error(error, f"Writing {path}")
            return None
        return _exported(path)

    def use_as_annotations(self) -> list[str]:
        """Register the (hand-corrected) detections as training pairs; return their names."""
        if self.result is None or self.result.points_layer not in self.viewer.layers:
            show_warning("No detections to use: run a prediction first (and keep its points).")
            return []
        if self.result.image_name not in self.viewer.layers:
            show_warning(f"Image layer {self.result.image_name!r} is gone.")
            return []
        pixels = image_array(self.viewer.layers[self.result.image_name])
        points_layer = self.viewer.layers[self.result.points_layer]
        points = np.asarray(points_layer.data, dtype=np.float64)
        # Landmark points keep their names, so they train a landmark model again.
        labels = None
        if "label" in points_layer.features:
            labels = np.asarray(points_layer.features["label"], dtype=object)
        names = []
        if points.shape[1] == 2:
            names.append(self._register(self.result.image_name, pixels, points, labels))
        else:
            for plane in range(len(pixels)):
                on_plane = np.round(points[:, 0]) == plane
                names.append(
                    self._register(
                        f"{self.result.image_name} [{plane}]",
                        pixels[plane],
                        points[on_plane][:, 1:],
                        None if labels is None else labels[on_plane],
                    )
                )
        show_info(f"{len(names)} training pair(s) registered for the Training widget.")
        return names

    def _register(self, name: str, image: np.ndarray, points: np.ndarray, labels=None) -> str:
        self.shared.add_annotations(AnnotatedImage(image, points, labels, name))
        return name


def _exported(path: Path) -> Path:
    """Tell the user where the table went; return ``path``."""
    show_info(f"Table written to {path}")
    return path


def _replace_layer(viewer: napari.Viewer, layer: napari.layers.Layer) -> str:
    """Add ``layer``, replacing an earlier one of the same name (keeps results in one place)."""
    if layer.name in viewer.layers:
        viewer.layers.remove(layer.name)
    viewer.add_layer(layer)
    return layer.name
