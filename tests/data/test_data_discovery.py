"""Finding annotated images in a folder, for each naming convention, and loading them."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import scipy.io

from napari_gst.data import discover_dataset, load_dataset, read_image, read_points
from napari_gst.errors import GSTError


def _image(path, shape=(16, 20)):
    iio.imwrite(path, np.full(shape, 100, np.uint8))


def _dots(path, points, shape=(16, 20)):
    dots = np.zeros((*shape, 3), np.uint8)
    for row, col in points:
        dots[row, col] = (255, 0, 0)
    iio.imwrite(path, dots)


def test_vgg_cells_naming(tmp_path):
    for index in (1, 2, 10):
        _image(tmp_path / f"{index:03d}cell.png")
        _dots(tmp_path / f"{index:03d}dots.png", [(index, 2)])

    entries = discover_dataset(tmp_path)

    assert [name for _, _, name in entries] == ["001cell", "002cell", "010cell"]
    assert entries[0][1].name == "001dots.png"


def test_numbered_dots_naming_and_natural_order(tmp_path):
    for index in (2, 10):
        _image(tmp_path / f"slide_{index}.png")
        _dots(tmp_path / f"slide_dots_{index}.png", [(1, 1)])
    _image(tmp_path / "unlabelled_7.png")

    entries = discover_dataset(tmp_path, format="dots")

    assert [(image.name, dots.name) for image, dots, _ in entries] == [
        ("slide_2.png", "slide_dots_2.png"),
        ("slide_10.png", "slide_dots_10.png"),
    ]


def test_same_stem_csv(tmp_path):
    _image(tmp_path / "a.png")
    (tmp_path / "a.csv").write_text("y,x\n3,4\n")
    _image(tmp_path / "b.tif")

    items = load_dataset(tmp_path)

    assert [item.name for item in items] == ["a"]
    assert items[0].points.tolist() == [[3, 4]]


def test_shanghaitech_layout(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "ground-truth").mkdir()
    iio.imwrite(tmp_path / "images" / "IMG_1.jpg", np.zeros((16, 20, 3), np.uint8))
    info = np.empty((1, 1), dtype=object)
    struct = np.zeros((1, 1), dtype=[("location", "O"), ("number", "O")])
    struct[0, 0]["location"] = np.array([[5.0, 2.0]])  # x, y
    info[0, 0] = struct
    scipy.io.savemat(tmp_path / "ground-truth" / "GT_IMG_1.mat", {"image_info": info})

    items = load_dataset(tmp_path)

    assert items[0].name == "IMG_1"
    assert items[0].points.tolist() == [[2.0, 5.0]]


def test_load_dataset_reports_progress(tmp_path):
    for index in (1, 2):
        _image(tmp_path / f"{index:03d}cell.png")
        _dots(tmp_path / f"{index:03d}dots.png", [(3, 3), (4, 9)])
    calls = []

    items = load_dataset(tmp_path, progress=lambda done, total: calls.append((done, total)))

    assert [item.count for item in items] == [2, 2]
    assert calls == [(1, 2), (2, 2)]


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(GSTError, match="nowhere does not exist"):
        discover_dataset(tmp_path / "nowhere")


def test_folder_without_annotations_says_what_was_looked_for(tmp_path):
    _image(tmp_path / "lonely.png")

    with pytest.raises(GSTError, match=r"no annotated images found .*001cell.png \+ 001dots.png"):
        discover_dataset(tmp_path)


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(GSTError, match="format must be 'auto' or one of"):
        discover_dataset(tmp_path, format="coco")


def test_dot_image_of_another_size_names_the_file(tmp_path):
    _image(tmp_path / "001cell.png", shape=(16, 20))
    _dots(tmp_path / "001dots.png", [(1, 1)], shape=(16, 21))

    with pytest.raises(GSTError, match="001dots.png is 16 x 21 pixels but the image is 16 x 20"):
        load_dataset(tmp_path)


def test_csv_points_outside_the_image_name_the_file(tmp_path):
    _image(tmp_path / "a.png")
    (tmp_path / "a.csv").write_text("y,x\n3,4\n30,4\n")

    with pytest.raises(GSTError, match=r"a.csv lie outside the image of shape 16 x 20"):
        load_dataset(tmp_path)


def test_unreadable_image_is_named(tmp_path):
    (tmp_path / "a.png").write_bytes(b"garbage")
    (tmp_path / "a.csv").write_text("y,x\n3,4\n")

    with pytest.raises(GSTError, match="cannot read image .*a.png"):
        load_dataset(tmp_path)


def test_two_real_vgg_cells_images(vgg_cells_dir):
    entries = discover_dataset(vgg_cells_dir)
    assert len(entries) == 200

    for image_path, dots_path, name in entries[:2]:
        image = read_image(image_path)
        points = read_points(dots_path, image.shape[:2]).points
        assert image.shape == (256, 256, 3) and name.endswith("cell")
        # The VGG cells images hold 74 to 317 cells, one red pixel each.
        assert 74 <= len(points) <= 317
