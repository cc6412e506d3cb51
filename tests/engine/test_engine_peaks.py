"""Points from density maps: one per unit of mass, placed in its basin, in image pixels."""

import numpy as np
import pytest
from skimage.feature import peak_local_max

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


def test_points_get_sub_cell_positions_at_stride():
    density = np.zeros((6, 6))
    density[2, 2], density[2, 3] = 0.6, 0.4  # mass centre at cell col 2.4
    (point,) = count_guided_peaks(density, stride=8, count=1, sharpness=1.0)
    assert point == pytest.approx([2 * 8 + 3.5, 2.4 * 8 + 3.5])
    # The default weighs cells by density squared: the brighter cell pulls harder.
    (point,) = count_guided_peaks(density, stride=8, count=1)
    assert point[1] == pytest.approx((2 + 0.16 / 0.52) * 8 + 3.5)


def test_touching_objects_under_one_peak_get_a_point_each():
    centres = [(20, 17), (20, 23)]  # 6 px apart, sigma 3.5: one merged maximum
    density = blobs((40, 40), centres, sigma=3.5)
    assert len(peak_local_max(density, min_distance=1, exclude_border=False)) == 1
    points = count_guided_peaks(density, stride=1)
    assert len(points) == 2
    found = sorted(points.tolist(), key=lambda point: point[1])
    assert np.allclose(found, centres, atol=1.5)


def test_the_peaks_method_gives_one_refined_point_per_maximum():
    centres = [(20, 17), (20, 23)]
    density = blobs((40, 40), centres, sigma=3.5)  # one merged maximum
    (point,) = count_guided_peaks(density, stride=1, method="peaks")
    assert point == pytest.approx([20, 20], abs=0.5)
    density = np.zeros((6, 6))
    density[2, 2], density[2, 3] = 0.6, 0.4
    (point,) = count_guided_peaks(density, stride=8, count=1, method="peaks")
    assert point == pytest.approx([2 * 8 + 3.5, 2.4 * 8 + 3.5])


def test_the_count_is_shared_among_basins_by_mass():
    # A pair of merged objects, a single one, and a faint bump worth a fifth of an object.
    density = blobs((60, 60), [(15, 13), (15, 18), (45, 45)], sigma=2.0)
    density += 0.2 * blobs((60, 60), [(45, 10)], sigma=2.0)
    points = count_guided_peaks(density, stride=1)
    assert len(points) == round(density.sum()) == 3
    assert np.sum(points[:, 1] < 25) == 2  # both merged objects, nothing on the faint bump
    assert np.sum(np.hypot(points[:, 0] - 45, points[:, 1] - 45) < 2) == 1


def test_peaks_reject_bad_density():
    with pytest.raises(ValueError, match="density"):
        count_guided_peaks(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="method must be one of basins, peaks"):
        count_guided_peaks(np.ones((4, 4)), method="blobs")
    with pytest.raises(ValueError, match="sharpness"):
        count_guided_peaks(np.ones((4, 4)), sharpness=0)
