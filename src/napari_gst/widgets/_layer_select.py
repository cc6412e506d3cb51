"""A combo box listing the viewer's layers of one type, kept in sync with the layer list."""

from __future__ import annotations

import napari
from qtpy.QtWidgets import QComboBox, QWidget


class LayerSelect(QComboBox):
    """Combo box of the viewer's layers of ``layer_type`` (by name), updated as layers change.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer whose layers are listed.
    layer_type : type
        A napari layer class, e.g. ``napari.layers.Points``.
    parent : QWidget, optional
        Qt parent.
    """

    def __init__(self, viewer: napari.Viewer, layer_type: type, parent: QWidget | None = None):
        super().__init__(parent)
        self._viewer = viewer
        self._layer_type = layer_type
        events = viewer.layers.events
        for emitter in (events.inserted, events.removed, events.reordered, events.renamed):
            emitter.connect(self.reset_choices)
        self.reset_choices()

    def reset_choices(self, event: object = None) -> None:
        """Re-list the layers, keeping the current choice when it still exists."""
        current = self.currentText()
        names = [layer.name for layer in self._viewer.layers if isinstance(layer, self._layer_type)]
        self.blockSignals(True)
        self.clear()
        self.addItems(names)
        if current in names:
            self.setCurrentText(current)
        self.blockSignals(False)
        if self.currentText() != current:
            self.currentTextChanged.emit(self.currentText())

    def layer(self) -> napari.layers.Layer | None:
        """Return the chosen layer, or None when there is none."""
        name = self.currentText()
        if name and name in self._viewer.layers:
            layer = self._viewer.layers[name]
            if isinstance(layer, self._layer_type):
                return layer
        return None

    def set_layer(self, layer: napari.layers.Layer) -> None:
        """Choose ``layer`` (it must be in the viewer and of the right type)."""
        index = self.findText(layer.name)
        if index < 0:
            raise ValueError(
                f"layer {layer.name!r} is not a {self._layer_type.__name__} layer here"
            )
        self.setCurrentIndex(index)
