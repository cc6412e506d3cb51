"""Dock widget: fit Gaussians to clicked points and preview the transport kernel (paper Fig. 5)."""

from __future__ import annotations

from dataclasses import dataclass, field

import napari
import numpy as np
from napari.layers import Image, Points
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..splat import GaussianFit
from ..transport import build_kernel, cached_fit, default_sigma_range
from ._layer_io import image_2d, points_in_image, spatial_geometry
from ._layer_select import LayerSelect
from ._notify import report_error
from ._overlays import annotation_colours, correspondence_rgba, ellipse_corners, stride_geometry
from ._settings import cache_dir, default_device
from ._state import unwrap_viewer
from ._tasks import Outcome, TaskControls

# Ellipses at 2 sigma enclose about 86% of a Gaussian's mass: big enough to see the shape,
# small enough that neighbours do not all overlap.
ELLIPSE_SIGMAS = 2.0


@dataclass
class KernelPreviewState:
    """What the preview holds: fits by deformity-elimination setting, and where they came from.

    Attributes
    ----------
    fits : dict
        ``{deformity_elimination: GaussianFit}``; a fit with DE off is made only on demand.
    source : tuple
        (image layer name, points layer name) the fits belong to.
    stale : bool
        True when the points or the image changed since the fits were made.
    """

    fits: dict[bool, GaussianFit] = field(default_factory=dict)
    source: tuple[str, str] | None = None
    stale: bool = True

    def clear(self) -> None:
        """Forget every fit (the points or image changed)."""
        self.fits.clear()
        self.stale = True


class KernelPreviewWidget(QWidget):
    """Fit Gaussians around the points of an image and show ellipses and correspondences.

    Public methods ``fit()`` and ``update_overlay()`` are what the buttons call; tests and
    scripts may call them directly.
    """

    def __init__(self, napari_viewer: napari.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = unwrap_viewer(napari_viewer)
        self.state = KernelPreviewState()
        self._watched: Points | None = None
        self._build_controls()
        self._watch_points()

    def _build_controls(self) -> None:
        self.image_select = LayerSelect(self.viewer, Image)
        self.points_select = LayerSelect(self.viewer, Points)
        self.stride = _spin(QSpinBox(), 1, 64, 8, "Density cells are stride x stride pixels")
        per_stride = default_sigma_range(1)
        self.auto_sigma = QCheckBox(f"default ({per_stride[0]:g} .. {per_stride[1]:g} x stride)")
        self.auto_sigma.setChecked(True)
        low, high = default_sigma_range(self.stride.value())
        self.sigma_min = _spin(QDoubleSpinBox(), 0.5, 500.0, low, "Smallest kernel sigma (px)")
        self.sigma_max = _spin(QDoubleSpinBox(), 0.5, 500.0, high, "Largest kernel sigma (px)")
        for box in (self.sigma_min, self.sigma_max):
            box.setDecimals(3)  # 0.625 x any integer stride is shown exactly
        self.iterations = _spin(
            QSpinBox(), 0, 100000, 0, "Adam steps per fit (auto: until converged)"
        )
        self.iterations.setSpecialValueText("auto")
        self.deformity = QCheckBox("Deformity elimination")
        self.deformity.setChecked(True)
        self.deformity.setToolTip("Untick to compare with the fit without deformity elimination")
        self.fit_button = QPushButton("Fit")
        self.tasks = TaskControls()
        self.summary = QLabel("Click points on an image, then press Fit.")
        self.summary.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Image", self.image_select)
        form.addRow("Points", self.points_select)
        form.addRow("Stride", self.stride)
        form.addRow("Sigma range", self.auto_sigma)
        form.addRow("  sigma min", self.sigma_min)
        form.addRow("  sigma max", self.sigma_max)
        form.addRow("Fit iterations", self.iterations)
        form.addRow(self.deformity)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.fit_button)
        layout.addWidget(self.tasks)
        layout.addWidget(self.summary)
        layout.addStretch(1)

        self.fit_button.clicked.connect(self.fit)
        self.stride.valueChanged.connect(self._on_stride_changed)
        self.auto_sigma.toggled.connect(self._on_stride_changed)
        self.sigma_min.valueChanged.connect(self._on_kernel_setting_changed)
        self.sigma_max.valueChanged.connect(self._on_kernel_setting_changed)
        self.deformity.toggled.connect(self._on_deformity_toggled)
        self.image_select.currentTextChanged.connect(self._on_selection_changed)
        self.points_select.currentTextChanged.connect(self._on_selection_changed)
        self._on_stride_changed()

    # ----------------------------------------------------------------- settings
    def sigma_range(self) -> tuple[float, float]:
        """Return the (min, max) kernel sigma in pixels shown in the controls."""
        return float(self.sigma_min.value()), float(self.sigma_max.value())

    def _on_stride_changed(self, *_: object) -> None:
        auto = self.auto_sigma.isChecked()
        self.sigma_min.setEnabled(not auto)
        self.sigma_max.setEnabled(not auto)
        if auto:
            low, high = default_sigma_range(self.stride.value())
            for box, value in ((self.sigma_min, low), (self.sigma_max, high)):
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
        self._on_kernel_setting_changed()

    def _on_kernel_setting_changed(self, *_: object) -> None:
        if self.state.fits and not self.tasks.busy:
            self.update_overlay()

    def _on_deformity_toggled(self, *_: object) -> None:
        if self.tasks.busy:
            return
        if self.deformity.isChecked() in self.state.fits:
            self.update_overlay()
        elif self.state.fits and not self.state.stale:
            self.fit()  # the other setting was fitted already: fit this one too

    # ----------------------------------------------------------------- staleness
    def _on_selection_changed(self, *_: object) -> None:
        self._watch_points()
        current = (self.image_select.currentText(), self.points_select.currentText())
        if self.state.source is not None and current != self.state.source:
            self._mark_stale("Layer choice changed: press Fit.")

    def _watch_points(self) -> None:
        """Listen to the chosen points layer so that edits mark the fit stale."""
        layer = self.points_select.layer()
        if layer is self._watched:
            return
        if self._watched is not None:
            self._watched.events.data.disconnect(self._on_points_edited)
        self._watched = layer
        if layer is not None:
            layer.events.data.connect(self._on_points_edited)

    def _on_points_edited(self, event: object) -> None:
        # "adding"/"removing"/"changing" announce an edit; only finished edits count.
        action = str(getattr(event, "action", "changed"))
        if action.endswith("ed") and self.state.fits:
            self._mark_stale("Points changed: press Fit to refit.")

    def _mark_stale(self, message: str) -> None:
        self.state.clear()
        self.summary.setText(message)
        for layer in self._overlay_layers():
            layer.metadata["stale"] = True

    # ----------------------------------------------------------------- fitting
    def fit(self) -> bool:
        """Start fitting Gaussians on a worker thread; return False (with a message) if it can't.

        The fit uses the current deformity-elimination setting; the overlay is drawn when
        the fit ends.
        """
        if self.tasks.busy:
            show_info("A fit is already running.")
            return False
        try:
            image, points = self._inputs()
        except ValueError as error:
            report_error(error, "Kernel preview")
            return False
        if len(points) == 0:
            show_warning(f"Points layer {self.points_select.currentText()!r} has no points.")
            return False
        source = (self.image_select.currentText(), self.points_select.currentText())
        if source != self.state.source or self.state.stale:
            self.state.clear()
        deformity = self.deformity.isChecked()
        iterations = self.iterations.value() or None
        folder = cache_dir()
        self.fit_button.setEnabled(False)

        def job(progress, should_stop) -> GaussianFit:
            return cached_fit(
                image,
                points,
                folder,
                deformity_elimination=deformity,
                iterations=iterations,
                device=default_device(),
                progress=progress,
                should_stop=should_stop,
            )

        label = f"Fitting {len(points)} Gaussians ({'DE on' if deformity else 'DE off'})..."
        self.tasks.run(job, lambda outcome: self._on_fitted(outcome, source, deformity), label)
        return True

    def _inputs(self) -> tuple[np.ndarray, np.ndarray]:
        image_layer = self.image_select.layer()
        points_layer = self.points_select.layer()
        if image_layer is None:
            raise ValueError("no Image layer is open: open an image first")
        if points_layer is None:
            raise ValueError("no Points layer is chosen: add one and click the objects")
        image = image_2d(image_layer)
        return image, points_in_image(points_layer, image_layer)

    def _on_fitted(self, outcome: Outcome, source: tuple[str, str], deformity: bool) -> None:
        self.fit_button.setEnabled(True)
        if outcome.cancelled:
            self.summary.setText("Fit cancelled.")
            return
        if outcome.error is not None:
            report_error(outcome.error, "Gaussian fit")
            return
        self.state.fits[deformity] = outcome.value
        self.state.source = source
        self.state.stale = False
        if self.deformity.isChecked() != deformity:
            self._on_deformity_toggled()  # the user toggled during the fit
        else:
            self.update_overlay()

    # ----------------------------------------------------------------- overlay
    def update_overlay(self) -> None:
        """Rebuild the kernel from the current fit; redraw the ellipses and correspondences."""
        deformity = self.deformity.isChecked()
        fit = self.state.fits.get(deformity)
        image_layer = self.image_select.layer()
        if fit is None or image_layer is None:
            return
        try:
            kernel = build_kernel(
                fit, fit.image_shape, self.stride.value(), sigma_range=self.sigma_range()
            )
            index, strength = kernel.correspondence()
        except ValueError as error:
            report_error(error, "Transport kernel")
            return
        colours = annotation_colours(fit.n_points)
        rgba = correspondence_rgba(index, strength, kernel.grid_shape, colours)
        scale, translate = spatial_geometry(image_layer)
        metadata = {
            "deformity_elimination": deformity,
            "stride": int(self.stride.value()),
            "sigma_range": self.sigma_range(),
            "n_points": fit.n_points,
            "psnr": float(fit.psnr),
            "stale": False,
        }
        self._show_correspondence(rgba, scale, translate, metadata)
        self._show_ellipses(fit, colours, scale, translate, metadata)
        self.summary.setText(_describe_fit(fit, deformity, kernel.grid_shape))

    def _layer_names(self) -> tuple[str, str]:
        base = self.state.source[1] if self.state.source else self.points_select.currentText()
        return f"{base} gaussians", f"{base} correspondence"

    def _overlay_layers(self) -> list[napari.layers.Layer]:
        return [self.viewer.layers[n] for n in self._layer_names() if n in self.viewer.layers]

    def _show_correspondence(self, rgba, scale, translate, metadata) -> None:
        grid_scale, grid_translate = stride_geometry(scale, translate, self.stride.value())
        name = self._layer_names()[1]
        if name in self.viewer.layers:
            layer = self.viewer.layers[name]
            layer.data = rgba
            layer.scale, layer.translate = grid_scale, grid_translate
            layer.metadata.update(metadata)
            return
        self.viewer.add_image(
            rgba,
            name=name,
            rgb=True,
            scale=grid_scale,
            translate=grid_translate,
            opacity=0.6,
            blending="translucent",
            metadata=dict(metadata),
        )

    def _show_ellipses(self, fit: GaussianFit, colours, scale, translate, metadata) -> None:
        corners = list(ellipse_corners(fit.points, fit.sigmas, fit.angles, ELLIPSE_SIGMAS))
        name = self._layer_names()[0]
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)  # replacing shapes wholesale is simplest
        self.viewer.add_shapes(
            corners,
            shape_type="ellipse",
            name=name,
            edge_color=np.column_stack([colours, np.ones(len(colours))]),
            face_color="transparent",
            edge_width=1.0,
            scale=scale,
            translate=translate,
            metadata={**metadata, "n_sigma": ELLIPSE_SIGMAS},
        )


def _describe_fit(fit: GaussianFit, deformity: bool, grid_shape: tuple[int, int]) -> str:
    """Return the one-paragraph summary shown under the buttons."""
    elongated = int(np.sum(fit.anisotropy() > 1.5))
    return (
        f"{fit.n_points} Gaussians, PSNR {fit.psnr:.1f} dB, deformity elimination "
        f"{'on' if deformity else 'off'}; {elongated} elongated beyond 1.5. "
        f"Kernel grid {grid_shape[0]} x {grid_shape[1]} cells."
    )


def _spin(box, low: float, high: float, value: float, tip: str):
    """Return ``box`` configured with a range, a value and a tooltip."""
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tip)
    return box
