"""Points from density maps: count-guided peaks in image pixel coordinates."""

import numpy as np
import pytest

from napari_gst.engine.peaks import cells_to_pixels, count_guided_peaks


def blobs(shape, centres, sigma=1.5):
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    density = np.zeros(shape)
    for row, col in centres:
        blob = np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * sigma**2))
        density += blob / blob.sum()
    return density


def test_peaks_find_each_object_once():
    centres = [(10, 10), (10, 30), (30, 20)]
    points = count_guided_peaks(blobs((40, 40), centres), stride=1)
    assert len(points) == 3
    assert sorted(map(tuple, np.round(points).astype(int).tolist())) == sorted(centres)


def test_count_caps_the_number_of_peaks():
    density = blobs((40, 40), [(10, 10), (10, 30), (30, 20)])
    assert len(count_guided_peaks(density, stride=1, count=2)) == 2
    assert len(count_guided_peaks(density, stride=1, count=0.4)) == 0


def test_cell_centres_map_to_image_pixels():
    # Cell (r, c) at stride 8 covers pixels 8r..8r+7: its centre is pixel 8r + 3.5.
    assert cells_to_pixels(np.array([[0, 0], [2, 1]]), 8).tolist() == [[3.5, 3.5], [19.5, 11.5]]


def test_refinement_gives_sub_cell_positions_at_stride():
    density = np.zeros((6, 6))
    density[2, 2], density[2, 3] = 0.6, 0.4  # mass centre at cell col 2.4
    (point,) = count_guided_peaks(density, stride=8, count=1)
    assert point == pytest.approx([2 * 8 + 3.5, 2.4 * 8 + 3.5])


def test_peaks_reject_bad_density():
    with pytest.raises(ValueError, match="density"):
        count_guided_peaks(np.zeros((2, 2, 2)))
