"""The npe2 manifest and its thin hooks: reader, writer, sample data."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from npe2 import PluginManifest

from napari_gst._reader import get_reader
from napari_gst._sample_data import make_sample_cells
from napari_gst._writer import write_points


def test_manifest_loads_with_widgets_sample_reader_writer_menus_settings():
    manifest = PluginManifest.from_distribution("napari-gst")
    contributions = manifest.contributions
    assert {w.display_name for w in contributions.widgets} == {
        "Transport kernel preview",
        "Training",
        "Prediction",
    }
    assert [s.key for s in contributions.sample_data] == ["cells"]
    assert contributions.readers and contributions.writers
    assert "napari/layers/annotate" in contributions.menus
    assert "napari/layers/measure" in contributions.menus
    properties = contributions.configurations["compute"].properties
    assert set(properties) == {"device", "cache_dir"}


def test_npe2_validate_passes():
    result = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari-gst"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_every_python_name_in_the_manifest_imports():
    # In-process, like `npe2 validate --imports`, without paying for a second interpreter.
    PluginManifest.from_distribution("napari-gst").validate_imports()


def test_sample_cells_gives_an_image_and_its_points():
    (image, image_kwargs, image_type), (points, points_kwargs, points_type) = make_sample_cells()
    assert (image_type, points_type) == ("image", "points")
    assert image.shape == (256, 256)
    assert points.ndim == 2 and points.shape[1] == 2 and len(points) > 20
    assert points_kwargs["metadata"]["count"] == len(points)
    assert np.all((points >= 0) & (points < 256))


def test_points_written_as_csv_read_back_through_the_reader(tmp_path):
    points = np.array([[10.5, 20.25], [3.0, 4.0]])
    [written] = write_points(str(tmp_path / "cells.csv"), points, {"name": "cells"})
    reader = get_reader(written)
    assert reader is not None
    [(data, kwargs, layer_type)] = reader(written)
    assert layer_type == "points"
    np.testing.assert_array_equal(data, points)
    assert kwargs["name"] == "cells"


def test_writer_keeps_labels_from_the_layer_features(tmp_path):
    points = np.array([[1.0, 2.0], [3.0, 4.0]])
    attributes = {"name": "p", "features": {"label": np.array([2, 5])}}
    [written] = write_points(str(tmp_path / "labelled.csv"), points, attributes)
    [(_, kwargs, _)] = get_reader(written)(written)
    np.testing.assert_array_equal(kwargs["features"]["label"], [2, 5])


def test_writer_refuses_3d_points_with_a_message(tmp_path):
    with pytest.raises(ValueError, match="2D"):
        write_points(str(tmp_path / "stack.csv"), np.zeros((3, 3)), {"name": "stack"})


def test_dot_image_read_as_points(tmp_path):
    imageio = pytest.importorskip("imageio.v3")
    dots = np.zeros((16, 16, 3), dtype=np.uint8)
    dots[2, 3, 0] = 255
    dots[10, 12, 0] = 255
    path = tmp_path / "001dots.png"
    imageio.imwrite(path, dots)
    [(data, kwargs, _)] = get_reader(str(path))(str(path))
    np.testing.assert_array_equal(data, [[2.0, 3.0], [10.0, 12.0]])
    assert kwargs["metadata"]["count"] == 2


def test_reader_declines_files_it_does_not_own(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("name,value\na,1\n")
    assert get_reader(str(table)) is None
    assert get_reader(str(tmp_path / "photo.png")) is None


def test_real_vgg_dot_annotation_is_read(vgg_cells_dir):
    path = str(vgg_cells_dir / "001dots.png")
    [(data, kwargs, _)] = get_reader(path)(path)
    assert data.shape[1] == 2 and 50 < len(data) < 400
    assert kwargs["name"] == "001dots"
