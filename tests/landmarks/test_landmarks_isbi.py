"""ISBI 2015 cephalometric layout: bmp images + per-image x,y text files matched by stem."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.io import imsave

from napari_gst.errors import GSTError
from napari_gst.landmarks import (
    ISBI_2015_LANDMARKS,
    read_isbi2015,
    read_landmark_folder,
    read_xy_landmarks,
)


def write_isbi(root, stems, extra_lines=("1", "", "3")):
    images = root / "RawImage" / "TrainingData"
    notes = root / "AnnotationsByMD" / "400_senior"
    images.mkdir(parents=True)
    notes.mkdir(parents=True)
    truth = {}
    for offset, stem in enumerate(stems):
        imsave(images / f"{stem}.bmp", np.full((40, 30), 10 * offset, dtype=np.uint8))
        xy = np.stack([np.arange(19) + offset, np.arange(19) * 2.0], -1)  # (x, y) = (col, row)
        lines = [f"{x:g},{y:g}" for x, y in xy] + list(extra_lines)
        (notes / f"{stem}.txt").write_text("\n".join(lines) + "\n")
        truth[stem] = xy[:, ::-1]
    return truth


def test_reads_isbi_layout_as_row_col_with_names_and_pixel_size(tmp_path):
    truth = write_isbi(tmp_path, ["001", "002"])
    records, landmark_set, pixel_size = read_isbi2015(tmp_path)
    assert landmark_set == ISBI_2015_LANDMARKS and len(landmark_set) == 19
    assert pixel_size == 0.1
    assert [record.name for record in records] == ["001", "002"]
    np.testing.assert_array_equal(records[1].landmarks, truth["002"])
    assert records[1].read_image().shape == (40, 30)


def test_images_without_annotation_are_skipped(tmp_path):
    write_isbi(tmp_path, ["001"])
    imsave(tmp_path / "RawImage" / "TrainingData" / "002.bmp", np.zeros((4, 4), np.uint8))
    records = read_landmark_folder(
        tmp_path / "RawImage" / "TrainingData", tmp_path / "AnnotationsByMD" / "400_senior"
    )
    assert [record.name for record in records] == ["001"]


def test_short_annotation_file_names_the_file(tmp_path):
    path = tmp_path / "005.txt"
    path.write_text("1,2\n3,4\nlabel\n")
    with pytest.raises(GSTError, match=r"005\.txt: expected 19 'x,y' landmark lines, found 2"):
        read_xy_landmarks(path)


def test_general_pattern_with_any_count_and_separators(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("# header\n1.5, 2.5\n3 4\n5;6\n")
    np.testing.assert_array_equal(read_xy_landmarks(path, None), [[2.5, 1.5], [4, 3], [6, 5]])


def test_missing_folders_are_named(tmp_path):
    with pytest.raises(GSTError, match="image_dir"):
        read_landmark_folder(tmp_path / "nope", tmp_path)
    (tmp_path / "img").mkdir()
    with pytest.raises(GSTError, match="no image in"):
        read_landmark_folder(tmp_path / "img", tmp_path)
