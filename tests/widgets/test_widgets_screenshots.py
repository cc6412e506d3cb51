"""What the user sees: the kernel overlay and the density layer change the rendered canvas."""

from __future__ import annotations

import numpy as np
import pytest

WAIT_MS = 60_000


def screenshot(viewer, qtbot) -> np.ndarray:
    """Return the rendered canvas at a fixed size (docks and layer lists resize the window)."""
    qtbot.wait(100)  # let Qt finish pending layout and paint events
    return viewer.screenshot(canvas_only=True, size=(300, 300), flash=False)


def changed_pixels(before: np.ndarray, after: np.ndarray) -> float:
    """Return the fraction of canvas pixels whose colour changed."""
    return float(np.mean(np.any(before[..., :3] != after[..., :3], axis=-1)))


@pytest.mark.slow
def test_kernel_overlay_and_density_change_the_canvas(
    make_napari_viewer, dock, tiny_cells, model_folder, qtbot
):
    viewer = make_napari_viewer(show=True)  # a hidden viewer renders black
    image, points = tiny_cells
    viewer.add_image(image, name="cells", colormap="gray")
    viewer.add_points(points, name="cells points", size=2)
    preview = dock(viewer, "Transport kernel preview")
    predictor = dock(viewer, "Prediction")
    viewer.reset_view()
    plain = screenshot(viewer, qtbot)
    assert plain[..., :3].max() > 0  # the image itself is visible

    preview.iterations.setValue(30)
    preview.stride.setValue(4)
    assert preview.fit()
    qtbot.waitUntil(lambda: not preview.tasks.busy, timeout=WAIT_MS)
    with_kernel = screenshot(viewer, qtbot)
    assert changed_pixels(plain, with_kernel) > 0.05

    for name in ("cells points gaussians", "cells points correspondence"):
        viewer.layers[name].visible = False
    assert predictor.load_model(model_folder)
    assert predictor.predict()
    qtbot.waitUntil(lambda: not predictor.tasks.busy, timeout=WAIT_MS)
    with_density = screenshot(viewer, qtbot)
    assert changed_pixels(plain, with_density) > 0.05
