"""Take the user guide's screenshots: each step of the plugin on the synthetic cells sample.

Run under a virtual display (a hidden viewer renders black, and offscreen Qt has no OpenGL)::

    xvfb-run -a python scripts/make_screenshots.py [--out docs/images] [--epochs 8]

Every picture is a real screenshot of napari with the plugin's docks; the script drives the
widgets through the same public methods the buttons call.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import napari
import numpy as np
import torch

from napari_gst.data import make_cells

WINDOW_SIZE = (1400, 900)


def wait_for(widget, timeout_s: float = 1800.0) -> None:
    """Process Qt events until ``widget``'s job is over (the worker reports in the GUI thread)."""
    from qtpy.QtWidgets import QApplication

    start = time.monotonic()
    while widget.tasks.busy:
        QApplication.processEvents()
        time.sleep(0.02)
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"{type(widget).__name__} did not finish in {timeout_s} s")


def settle(viewer: napari.Viewer, seconds: float = 0.3) -> None:
    """Let Qt lay out and paint before a screenshot."""
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def shoot(viewer: napari.Viewer, out: Path, name: str) -> None:
    """Save a screenshot of the whole window (canvas and docks) as ``out/name``."""
    settle(viewer)
    path = out / name
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    print(f"wrote {path}")


def camera(viewer: napari.Viewer):
    """Return the viewer's camera (``viewer.scene.camera`` from napari 0.9 on)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera


def close_docks(viewer: napari.Viewer) -> None:
    """Remove every dock widget so the next step has the room."""
    for name in list(viewer.window.dock_widgets):
        viewer.window.remove_dock_widget(viewer.window.dock_widgets[name])


def step_sample_and_points(viewer: napari.Viewer, out: Path) -> None:
    """Open the sample, then show the Points layer in 'add' mode (where the user clicks)."""
    viewer.open_sample("napari-gst", "cells")
    viewer.reset_view()
    shoot(viewer, out, "01-sample.png")
    points = viewer.layers["cells points"]
    viewer.layers.selection.active = points
    points.mode = "add"
    # Zoom in on a corner so single clicked points are visible.
    camera(viewer).center = (64, 64)
    camera(viewer).zoom = camera(viewer).zoom * 1.8
    shoot(viewer, out, "02-points.png")
    points.mode = "pan_zoom"


def step_kernel(viewer: napari.Viewer, out: Path, iterations: int) -> None:
    """Fit with and without deformity elimination; screenshot both where they differ most."""
    _, preview = viewer.window.add_plugin_dock_widget("napari-gst", "Transport kernel preview")
    preview.iterations.setValue(iterations)
    preview.stride.setValue(4)
    preview.fit()
    wait_for(preview)
    preview.deformity.setChecked(False)
    wait_for(preview)
    # Centre the view on the most elongated Gaussian of the fit without DE: that is where
    # the two overlays differ.
    raw = preview.state.fits[False]
    # Keep the view inside the image (a point by the border would show half a black canvas).
    centre = np.clip(raw.points[int(raw.anisotropy().argmax())], 48, 256 - 48)
    viewer.layers["cells points"].visible = False
    viewer.reset_view()
    camera(viewer).center = tuple(float(v) for v in centre)
    camera(viewer).zoom = camera(viewer).zoom * 3.0
    viewer.layers.selection.active = viewer.layers["cells"]
    shoot(viewer, out, "04-kernel-no-de.png")
    preview.deformity.setChecked(True)
    wait_for(preview)
    viewer.layers.selection.active = viewer.layers["cells"]
    shoot(viewer, out, "03-kernel-de.png")
    for name in ("cells points gaussians", "cells points correspondence"):
        viewer.layers[name].visible = False
    viewer.layers["cells points"].visible = True
    close_docks(viewer)


def step_training(
    viewer: napari.Viewer, out: Path, epochs: int, fit_iterations: int, run_dir: Path
) -> None:
    """Train on the sample pair for a few epochs; screenshot the curves and the preview."""
    _, trainer = viewer.window.add_plugin_dock_widget("napari-gst", "Training")
    trainer.pairs.add_current_layers()
    trainer.epochs.setValue(epochs)
    trainer.fit_iterations.setValue(fit_iterations)
    trainer.preview_every.setValue(10)
    trainer.output_dir.setText(str(run_dir))
    trainer.start()
    wait_for(trainer)
    viewer.reset_view()
    shoot(viewer, out, "05-training.png")
    viewer.layers["training preview"].visible = False
    close_docks(viewer)


def step_prediction(viewer: napari.Viewer, out: Path) -> None:
    """Count a new synthetic image with the model just trained; screenshot the result."""
    image, _ = make_cells((256, 256), seed=21)
    for layer in list(viewer.layers):
        layer.visible = False
    viewer.add_image(image, name="new cells", colormap="gray")
    _, predictor = viewer.window.add_plugin_dock_widget("napari-gst", "Prediction")
    predictor.image_select.setCurrentText("new cells")
    predictor.predict()
    wait_for(predictor)
    viewer.reset_view()
    shoot(viewer, out, "06-prediction.png")


def main(argv: list[str] | None = None) -> None:
    """Parse the options and take every screenshot in order."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--fit-iterations", type=int, default=150)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)

    viewer = napari.Viewer(show=True)
    viewer.window.resize(*WINDOW_SIZE)
    with tempfile.TemporaryDirectory() as run_dir:
        step_sample_and_points(viewer, args.out)
        step_kernel(viewer, args.out, args.fit_iterations)
        step_training(viewer, args.out, args.epochs, args.fit_iterations, Path(run_dir) / "run")
        step_prediction(viewer, args.out)
    viewer.close()


if __name__ == "__main__":
    main()
