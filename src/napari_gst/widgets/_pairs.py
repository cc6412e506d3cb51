"""The training-pair list of the Training widget: layer pairs, dataset folders, registered pairs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import napari
import numpy as np
from napari.layers import Image, Points
from qtpy.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QListWidget,
    QPushButton,
    QWidget,
)

from ..data import AnnotatedImage, load_dataset
from ..errors import GSTError
from ._layer_io import image_2d, points_in_image
from ._layer_select import LayerSelect
from ._state import SessionState


@dataclass(frozen=True)
class PairSource:
    """Where training pairs come from: an (image, points) layer pair, or a dataset folder.

    Pairs registered in the session state (e.g. corrected detections) are listed apart and
    always used.
    """

    kind: str  # "layers" or "folder"
    image_layer: str = ""
    points_layer: str = ""
    folder: str = ""

    @property
    def label(self) -> str:
        """Return the text shown in the list."""
        if self.kind == "layers":
            return f"layers: {self.image_layer} + {self.points_layer}"
        return f"folder: {self.folder}"


class PairList(QWidget):
    """Chooser and list of training pairs; ``sources`` and ``registered`` say what is in it."""

    def __init__(self, viewer: napari.Viewer, shared: SessionState, parent=None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.shared = shared
        self.sources: list[PairSource] = []
        self.image_select = LayerSelect(viewer, Image)
        self.points_select = LayerSelect(viewer, Points)
        self.add_pair_button = QPushButton("Add pair")
        self.add_folder_button = QPushButton("Add folder...")
        self.remove_button = QPushButton("Remove")
        self.list = QListWidget()
        self.list.setMaximumHeight(110)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.image_select, 0, 0)
        grid.addWidget(self.points_select, 0, 1)
        grid.addWidget(self.add_pair_button, 0, 2)
        grid.addWidget(self.list, 1, 0, 1, 3)
        grid.addWidget(self.add_folder_button, 2, 0)
        grid.addWidget(self.remove_button, 2, 2)
        self.add_pair_button.clicked.connect(self.add_current_layers)
        self.add_folder_button.clicked.connect(self._ask_folder)
        self.remove_button.clicked.connect(self.remove_selected)
        shared.annotations_changed.connect(self._refresh)
        self._refresh()

    def add_current_layers(self) -> PairSource | None:
        """Add the chosen (image, points) layers as a pair; return it (None if none chosen)."""
        image, points = self.image_select.currentText(), self.points_select.currentText()
        if not image or not points:
            return None
        return self.add_source(PairSource("layers", image_layer=image, points_layer=points))

    def add_folder(self, folder: str | Path) -> PairSource:
        """Add a dataset folder (read when training starts)."""
        return self.add_source(PairSource("folder", folder=str(folder)))

    def add_source(self, source: PairSource) -> PairSource:
        """Add ``source`` unless it is listed already; return it."""
        if source not in self.sources:
            self.sources.append(source)
            self._refresh()
        return source

    def remove_selected(self) -> None:
        """Remove the selected entries (registered pairs are forgotten by the session)."""
        for item in self.list.selectedItems():
            row = self.list.row(item)
            if row < len(self.sources):
                self.sources.pop(row)
            else:
                self.shared.remove_annotations(
                    self.shared.annotations[row - len(self.sources)].name
                )
        self._refresh()

    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder (images + annotations)")
        if folder:
            self.add_folder(folder)

    def _refresh(self) -> None:
        self.list.clear()
        self.list.addItems([source.label for source in self.sources])
        self.list.addItems(
            [f"registered: {pair.name} ({pair.count} points)" for pair in self.shared.annotations]
        )

    def layer_items(self) -> list[AnnotatedImage]:
        """Return the layer pairs and registered pairs as training items (main thread only).

        Raises
        ------
        GSTError
            When a listed layer is gone or its points do not fit its image.
        """
        items = []
        for source in self.sources:
            if source.kind != "layers":
                continue
            for name in (source.image_layer, source.points_layer):
                if name not in self.viewer.layers:
                    raise GSTError(f"layer {name!r} of pair '{source.label}' is no longer open")
            image_layer = self.viewer.layers[source.image_layer]
            points_layer = self.viewer.layers[source.points_layer]
            image = np.array(image_2d(image_layer))  # a copy: training must not see edits
            points = points_in_image(points_layer, image_layer)
            items.append(AnnotatedImage(image, points, _labels(points_layer), source.image_layer))
        return items + self.shared.annotations

    def folders(self) -> list[str]:
        """Return the listed dataset folders."""
        return [source.folder for source in self.sources if source.kind == "folder"]


def _labels(points_layer: Points) -> np.ndarray | None:
    """Return the layer's ``label`` feature (landmark names), or None when it has none."""
    if "label" not in points_layer.features:
        return None
    return np.asarray(points_layer.features["label"], dtype=object)


def read_folders(
    folders: list[str], progress: Callable[[int, int], None] | None = None
) -> list[AnnotatedImage]:
    """Return the annotated images of every folder (runs on the worker thread)."""
    from ..engine.landmark_commands import load_items
    from ..landmarks.items import is_isbi_folder

    items: list[AnnotatedImage] = []
    for folder in folders:
        if is_isbi_folder(folder):  # ISBI 2015 cephalograms: points labelled by landmark
            items.extend(load_items(Path(folder), "isbi")[0])
        else:
            items.extend(load_dataset(folder, progress=progress))
    return items
