"""Reading images and point annotations from the file formats users bring."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import scipy.io
import tifffile

from napari_gst.data import read_image, read_image_or_stack, read_points, write_points_csv
from napari_gst.errors import GSTError


@pytest.fixture
def rgb() -> np.ndarray:
    """A small RGB picture with distinct channels."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(12, 15, 3), dtype=np.uint8)


def test_png_rgb_and_grey_round_trip(tmp_path, rgb):
    iio.imwrite(tmp_path / "rgb.png", rgb)
    iio.imwrite(tmp_path / "grey.png", rgb[..., 0])

    assert np.array_equal(read_image(tmp_path / "rgb.png"), rgb)
    grey = read_image(tmp_path / "grey.png")
    assert grey.shape == (12, 15) and grey.dtype == np.uint8


def test_constant_alpha_is_dropped_but_varying_alpha_kept(tmp_path, rgb):
    opaque = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    varying = opaque.copy()
    varying[0, 0, 3] = 10
    iio.imwrite(tmp_path / "opaque.png", opaque)
    iio.imwrite(tmp_path / "varying.png", varying)

    assert read_image(tmp_path / "opaque.png").shape == (12, 15, 3)
    assert read_image(tmp_path / "varying.png").shape == (12, 15, 4)


def test_16bit_png_keeps_its_dtype(tmp_path):
    image = (np.arange(12 * 15, dtype=np.uint16).reshape(12, 15) * 300).astype(np.uint16)
    iio.imwrite(tmp_path / "deep.png", image)

    read = read_image(tmp_path / "deep.png")

    assert read.dtype == np.uint16 and np.array_equal(read, image)


def test_float_and_channel_first_tiff(tmp_path):
    stack = np.random.default_rng(1).random((2, 20, 30)).astype(np.float32)
    tifffile.imwrite(tmp_path / "channels.tif", stack)

    image = read_image(tmp_path / "channels.tif")

    assert image.shape == (20, 30, 2) and image.dtype == np.float32
    assert np.array_equal(image[..., 1], stack[1])


def test_jpeg_and_bmp_read(tmp_path, rgb):
    iio.imwrite(tmp_path / "photo.jpg", rgb)
    iio.imwrite(tmp_path / "old.bmp", rgb)

    assert read_image(tmp_path / "photo.jpg").shape == (12, 15, 3)
    assert np.array_equal(read_image(tmp_path / "old.bmp"), rgb)


def test_unreadable_or_missing_image_names_the_file(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")

    with pytest.raises(GSTError, match="broken.png"):
        read_image(broken)
    with pytest.raises(GSTError, match="missing.png does not exist"):
        read_image(tmp_path / "missing.png")


def test_volume_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "volume.tif", np.zeros((20, 16, 16), np.uint8))

    with pytest.raises(
        GSTError, match=r"volume.tif has shape \(20, 16, 16\), a stack of 20 planes"
    ):
        read_image(tmp_path / "volume.tif")


@pytest.mark.parametrize(
    ("stored", "channels", "read"),
    [
        ((20, 16, 16), 1, (20, 16, 16)),  # a grey stack that read_image refuses
        ((3, 40, 60), 1, (3, 40, 60)),  # three grey planes, not three channels
        ((3, 40, 60), 3, (40, 60, 3)),  # a channel-first image for an RGB network
        ((40, 60, 3), 3, (40, 60, 3)),
        ((40, 60), 1, (40, 60)),
        ((1, 40, 60), 1, (40, 60)),
        ((4, 40, 60, 3), 3, (4, 40, 60, 3)),  # a stack of RGB planes
        ((4, 3, 40, 60), 3, (4, 40, 60, 3)),  # ... stored channel-first
    ],
)
def test_prediction_reads_multi_page_tiffs_as_stacks(tmp_path, stored, channels, read):
    data = np.arange(np.prod(stored), dtype=np.uint16).reshape(stored)
    tifffile.imwrite(tmp_path / "file.tif", data)
    assert read_image_or_stack(tmp_path / "file.tif", channels).shape == read


def test_stack_reading_names_a_missing_or_broken_file(tmp_path):
    with pytest.raises(GSTError, match="none.tif does not exist"):
        read_image_or_stack(tmp_path / "none.tif")
    (tmp_path / "bad.tif").write_bytes(b"not a tiff")
    with pytest.raises(GSTError, match="cannot read image .*bad.tif"):
        read_image_or_stack(tmp_path / "bad.tif")


@pytest.mark.parametrize(
    ("header", "rows", "expected"),
    [
        ("y,x", ["1.5,2", "3,4"], [[1.5, 2], [3, 4]]),
        ("x,y", ["2,1.5", "4,3"], [[1.5, 2], [3, 4]]),
        ("row,col", ["1.5,2", "3,4"], [[1.5, 2], [3, 4]]),
        ("index,axis-0,axis-1", ["0,1.5,2", "1,3,4"], [[1.5, 2], [3, 4]]),
        (" Y , X ", ["1.5, 2", "3, 4"], [[1.5, 2], [3, 4]]),
    ],
)
def test_csv_column_conventions(tmp_path, header, rows, expected):
    path = tmp_path / "points.csv"
    path.write_text("\n".join([header, *rows]) + "\n")

    point_set = read_points(path)

    assert np.array_equal(point_set.points, expected)
    assert point_set.labels is None


def test_csv_labels_integer_and_text(tmp_path):
    (tmp_path / "numbers.csv").write_text("y,x,label\n1,2,3\n4,5,1\n")
    (tmp_path / "names.csv").write_text("y,x,label\n1,2,nucleus\n4,5,mitosis\n")

    assert read_points(tmp_path / "numbers.csv").labels.tolist() == [3, 1]
    assert read_points(tmp_path / "names.csv").labels.tolist() == ["nucleus", "mitosis"]


def test_napari_3d_export_needs_permission_to_drop_axes(tmp_path):
    path = tmp_path / "stack.csv"
    path.write_text("index,axis-0,axis-1,axis-2\n0,5,1,2\n1,6,3,4\n")

    with pytest.raises(GSTError, match="3-D points"):
        read_points(path)
    assert read_points(path, leading_axes="drop").points.tolist() == [[1, 2], [3, 4]]


def test_csv_errors_name_file_and_problem(tmp_path):
    (tmp_path / "columns.csv").write_text("a,b\n1,2\n")
    (tmp_path / "text.csv").write_text("y,x\n1,two\n")
    (tmp_path / "empty.csv").write_text("")

    with pytest.raises(GSTError, match="columns.csv has columns a, b; expected"):
        read_points(tmp_path / "columns.csv")
    with pytest.raises(GSTError, match="text.csv, line 2"):
        read_points(tmp_path / "text.csv")
    with pytest.raises(GSTError, match="empty.csv is empty"):
        read_points(tmp_path / "empty.csv")


def test_header_only_csv_is_zero_points(tmp_path):
    (tmp_path / "none.csv").write_text("y,x\n")

    assert read_points(tmp_path / "none.csv").points.shape == (0, 2)


def test_write_then_read_csv_is_exact(tmp_path):
    points = np.array([[0.1, 2.0 / 3.0], [10.25, 3.5]])

    path = write_points_csv(tmp_path / "out.csv", points, labels=["a", "b"])

    assert path.read_text().splitlines()[0] == "index,axis-0,axis-1,label"
    read = read_points(path)
    assert np.array_equal(read.points, points)
    assert read.labels.tolist() == ["a", "b"]


def test_write_refuses_labels_of_wrong_length(tmp_path):
    with pytest.raises(GSTError, match="labels has 1 entries but points has 2"):
        write_points_csv(tmp_path / "out.csv", [[1, 2], [3, 4]], labels=[1])


def test_dot_image_gives_one_point_per_marked_pixel(tmp_path):
    dots = np.zeros((20, 30, 3), np.uint8)
    dots[3, 4] = (255, 0, 0)
    dots[10, 25] = (255, 0, 0)
    iio.imwrite(tmp_path / "001dots.png", dots)

    point_set = read_points(tmp_path / "001dots.png", image_shape=(20, 30))

    assert point_set.points.tolist() == [[3, 4], [10, 25]]


def test_dot_image_of_wrong_size_is_refused(tmp_path):
    iio.imwrite(tmp_path / "dots.png", np.zeros((20, 30), np.uint8))

    with pytest.raises(GSTError, match=r"dots.png is 20 x 30 pixels but the image is 20 x 31"):
        read_points(tmp_path / "dots.png", image_shape=(20, 31))


def _save_shanghaitech(path, xy):
    """Write ``xy`` with ShanghaiTech's nesting: image_info{1,1}.location."""
    info = np.empty((1, 1), dtype=object)
    struct = np.zeros((1, 1), dtype=[("location", "O"), ("number", "O")])
    struct[0, 0]["location"] = np.asarray(xy, dtype=np.float64)
    struct[0, 0]["number"] = np.array([[len(xy)]])
    info[0, 0] = struct
    scipy.io.savemat(path, {"image_info": info})


def test_shanghaitech_mat_swaps_x_y_to_row_col(tmp_path):
    _save_shanghaitech(tmp_path / "GT_IMG_1.mat", [[10.5, 20.0], [30.0, 5.0]])

    points = read_points(tmp_path / "GT_IMG_1.mat", image_shape=(40, 50)).points

    assert points.tolist() == [[20.0, 10.5], [5.0, 30.0]]


def test_qnrf_style_annpoints(tmp_path):
    scipy.io.savemat(tmp_path / "img_0001_ann.mat", {"annPoints": np.array([[3.0, 7.0]])})

    assert read_points(tmp_path / "img_0001_ann.mat").points.tolist() == [[7.0, 3.0]]


def test_mat_without_points_lists_what_it_found(tmp_path):
    scipy.io.savemat(tmp_path / "other.mat", {"something": np.zeros(3)})

    with pytest.raises(GSTError, match="other.mat has no point array.*found something"):
        read_points(tmp_path / "other.mat")


def test_points_outside_image_name_the_file_or_follow_the_policy(tmp_path):
    (tmp_path / "far.csv").write_text("y,x\n1,1\n25,3\n")

    with pytest.raises(GSTError, match="far.csv"):
        read_points(tmp_path / "far.csv", image_shape=(20, 20))
    assert read_points(tmp_path / "far.csv", (20, 20), outside="drop").points.tolist() == [[1, 1]]
    clipped = read_points(tmp_path / "far.csv", (20, 20), outside="clip").points
    assert clipped.tolist() == [[1, 1], [19.5, 3]]


def test_unknown_suffix_is_refused(tmp_path):
    (tmp_path / "points.json").write_text("[]")

    with pytest.raises(GSTError, match="unknown suffix '.json'"):
        read_points(tmp_path / "points.json")
