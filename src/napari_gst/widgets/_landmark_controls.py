"""The Training widget's task selector and landmark-names source (a JSON file or the labels)."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget

from ..engine.config import TASKS
from ..engine.landmark_commands import read_landmark_names
from ..landmarks import LandmarkSet
from ..landmarks.items import infer_landmark_set


class LandmarkControls(QWidget):
    """A task combo box ("count", "landmarks") and, for landmarks, an optional names file.

    Without a names file the landmark names are the ``label`` feature values of the training
    points, in order of first appearance (see :func:`chosen_landmarks`).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = QComboBox()
        self.task.addItems(list(TASKS))
        self.task.setToolTip(
            "count: one density whose sum is the count; landmarks: one channel per named "
            "landmark (points need a 'label' feature naming their landmark)"
        )
        self.names_file = QLineEdit()
        self.names_file.setPlaceholderText("names: from the points' label feature")
        self.names_file.setToolTip("JSON file of landmark names (a list, or a saved LandmarkSet)")
        self.browse = QPushButton("...")
        self.browse.clicked.connect(self._ask_names_file)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.task)
        layout.addWidget(self.names_file, 1)
        layout.addWidget(self.browse)
        self.task.currentTextChanged.connect(self._enable_names)
        self._enable_names(self.task.currentText())

    def task_name(self) -> str:
        """Return the chosen task."""
        return self.task.currentText()

    def names_from_file(self) -> LandmarkSet | None:
        """Return the set in the names file (None when none is given or the task counts)."""
        text = self.names_file.text().strip()
        if self.task_name() != "landmarks" or not text:
            return None
        return read_landmark_names(Path(text).expanduser())

    def _enable_names(self, task: str) -> None:
        for widget in (self.names_file, self.browse):
            widget.setEnabled(task == "landmarks")

    def _ask_names_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Landmark names", "", "JSON (*.json)")
        if path:
            self.names_file.setText(path)


def chosen_landmarks(from_file: LandmarkSet | None, items: list) -> LandmarkSet:
    """Return the names file's set, else the set named by the items' labels."""
    return from_file if from_file is not None else infer_landmark_set(items)
