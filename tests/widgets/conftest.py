"""Fixtures for the widget tests: a napari viewer, a tiny annotated image, dock helpers."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.data import make_cells
from napari_gst.engine import save_checkpoint
from napari_gst.models import build_model, describe_model


@pytest.fixture
def viewer(make_napari_viewer):
    """A hidden napari viewer (the npe2 plugin is discovered from its entry point)."""
    return make_napari_viewer()


@pytest.fixture
def tiny_cells() -> tuple[np.ndarray, np.ndarray]:
    """A 48 x 48 synthetic cells image with its 4 cell centres: fits and trains in seconds."""
    return make_cells((48, 48), n_cells=4, seed=3)


@pytest.fixture
def model_folder(tmp_path):
    """An (untrained) stride-4 U-Net saved as a checkpoint folder, as training writes it."""
    import torch

    torch.manual_seed(0)
    model = build_model("unet", 1, 1, stride=4, width=8, depth=2)
    metadata = {"model": describe_model(model), "task": "count", "stride": model.stride}
    return save_checkpoint(tmp_path / "model", model, metadata)


def open_dock(viewer, display_name: str):
    """Open one of our widgets the way a user does (Plugins menu) and return it."""
    _, widget = viewer.window.add_plugin_dock_widget("napari-gst", display_name)
    return widget


@pytest.fixture
def dock():
    """The :func:`open_dock` helper, as a fixture."""
    return open_dock


@pytest.fixture
def notifications():
    """The (severity, message) of every napari notification shown during the test."""
    from napari.utils.notifications import notification_manager

    shown: list[tuple[str, str]] = []

    def record(event) -> None:
        shown.append((str(event.severity), str(event.message)))

    notification_manager.notification_ready.connect(record)
    yield shown
    notification_manager.notification_ready.disconnect(record)


@pytest.fixture(autouse=True, scope="session")
def _fit_cache(tmp_path_factory):
    """Keep Gaussian fits in a per-session folder: hermetic, and shared between tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield
