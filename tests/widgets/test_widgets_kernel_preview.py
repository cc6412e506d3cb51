"""Transport kernel preview: fit Gaussians to clicked points, show ellipses and correspondences."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.transport import default_sigma_range

WAIT_MS = 60_000


@pytest.fixture
def preview(viewer, dock, tiny_cells):
    """The kernel preview docked next to an image with its points, set to fit quickly."""
    image, points = tiny_cells
    viewer.add_image(image, name="cells", scale=(0.5, 0.5), translate=(10.0, 20.0))
    viewer.add_points(points, name="cells points", scale=(0.5, 0.5), translate=(10.0, 20.0))
    widget = dock(viewer, "Transport kernel preview")
    widget.iterations.setValue(30)
    widget.stride.setValue(4)
    return widget


def fit_and_wait(widget, qtbot) -> None:
    assert widget.fit()
    qtbot.waitUntil(lambda: not widget.tasks.busy, timeout=WAIT_MS)


@pytest.mark.slow
def test_fit_adds_ellipses_and_a_stride_resolution_correspondence_map(preview, viewer, qtbot):
    fit_and_wait(preview, qtbot)

    shapes = viewer.layers["cells points gaussians"]
    assert len(shapes.data) == 4
    assert set(shapes.shape_type) == {"ellipse"}
    np.testing.assert_allclose(shapes.scale, (0.5, 0.5))
    np.testing.assert_allclose(shapes.translate, (10.0, 20.0))

    correspondence = viewer.layers["cells points correspondence"]
    assert correspondence.data.shape == (12, 12, 4)  # ceil(48 / 4) cells, RGBA
    # A cell of 4 x 4 pixels at scale 0.5 is 2 world units; its centre sits at pixel 1.5.
    np.testing.assert_allclose(correspondence.scale, (2.0, 2.0))
    np.testing.assert_allclose(correspondence.translate, (10.75, 20.75))
    alpha = correspondence.data[..., 3]
    assert alpha.max() > 0.5 and alpha.min() == 0.0  # strong cells near cells, blank background
    assert correspondence.metadata["deformity_elimination"] is True


def test_changing_the_stride_rebuilds_the_overlay_without_refitting(preview, viewer, qtbot):
    fit_and_wait(preview, qtbot)
    fit = preview.state.fits[True]

    preview.stride.setValue(8)

    assert preview.state.fits[True] is fit
    assert viewer.layers["cells points correspondence"].data.shape == (6, 6, 4)
    assert preview.sigma_range() == (5.0, 20.0)
    preview.stride.setValue(1)  # the boxes show 0.625 x stride exactly, as training uses it
    assert preview.sigma_range() == default_sigma_range(1) == (0.625, 2.5)


@pytest.mark.slow
def test_deformity_elimination_off_refits_and_shows_the_raw_gaussians(preview, viewer, qtbot):
    fit_and_wait(preview, qtbot)

    preview.deformity.setChecked(False)
    qtbot.waitUntil(lambda: False in preview.state.fits and not preview.tasks.busy, timeout=WAIT_MS)

    assert viewer.layers["cells points correspondence"].metadata["deformity_elimination"] is False
    assert preview.state.fits[False].settings["deformity_elimination"] is False
    assert preview.state.fits[True].anisotropy().max() <= 1.5 + 1e-6


def test_editing_points_marks_the_fit_stale(preview, viewer, qtbot):
    fit_and_wait(preview, qtbot)

    viewer.layers["cells points"].add([[5.0, 5.0]])

    assert preview.state.stale and not preview.state.fits
    assert viewer.layers["cells points correspondence"].metadata["stale"] is True
    assert "press Fit" in preview.summary.text()


def test_cancel_stops_the_fit_and_keeps_the_widget_usable(viewer, dock, qtbot):
    image = np.random.default_rng(0).random((96, 96))
    viewer.add_image(image, name="noise")
    viewer.add_points(np.random.default_rng(1).uniform(5, 90, (30, 2)), name="clicks")
    widget = dock(viewer, "Transport kernel preview")
    widget.iterations.setValue(100000)

    assert widget.fit()
    widget.tasks.cancel()
    qtbot.waitUntil(lambda: not widget.tasks.busy, timeout=WAIT_MS)

    assert widget.summary.text() == "Fit cancelled."
    assert widget.fit_button.isEnabled() and not widget.state.fits


def test_missing_points_layer_is_reported_not_raised(viewer, dock, tiny_cells, notifications):
    viewer.add_image(tiny_cells[0], name="cells")
    widget = dock(viewer, "Transport kernel preview")

    assert widget.fit() is False
    [(severity, message)] = notifications
    assert severity == "error" and "no Points layer" in message
    assert widget.fit_button.isEnabled() and not widget.tasks.busy


def test_points_of_another_dimensionality_are_reported(viewer, dock, tiny_cells, notifications):
    viewer.add_image(tiny_cells[0], name="cells")
    viewer.add_points(np.array([[0.0, 3.0, 4.0]]), name="3d points")
    widget = dock(viewer, "Transport kernel preview")

    assert widget.fit() is False
    [(severity, message)] = notifications
    assert severity == "error" and "3D points" in message and "2D" in message


def test_closing_the_dock_leaves_the_viewer_working(viewer, dock, tiny_cells, qtbot):
    widget = dock(viewer, "Transport kernel preview")
    viewer.window.remove_dock_widget(widget)
    widget.deleteLater()
    qtbot.wait(50)  # let Qt delete the widget

    viewer.add_image(tiny_cells[0], name="after closing")
    viewer.layers["after closing"].name = "renamed"

    assert "renamed" in viewer.layers
