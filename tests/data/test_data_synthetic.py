"""The synthetic cells sample: deterministic, with exact centres inside the image."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.data import make_cells, make_cells_dataset
from napari_gst.errors import GSTError


def test_same_seed_same_image_other_seed_other_image():
    image, points = make_cells(seed=3)
    again, again_points = make_cells(seed=3)
    other, _ = make_cells(seed=4)

    assert np.array_equal(image, again) and np.array_equal(points, again_points)
    assert not np.array_equal(image, other)


def test_requested_count_shape_and_range():
    image, points = make_cells((96, 130), n_cells=40, seed=0)

    assert image.shape == (96, 130) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert points.shape == (40, 2)
    assert np.all(points >= 0) and np.all(points <= [95, 129])


def test_default_count_is_in_the_range_of_real_cell_images():
    counts = [len(make_cells(seed=seed)[1]) for seed in range(4)]

    assert all(60 <= count <= 180 for count in counts)
    assert len(set(counts)) > 1


def test_cells_are_brighter_than_the_background():
    image, points = make_cells(n_cells=50, seed=1)
    rows, cols = np.round(points).astype(int).T

    assert image[rows, cols].mean() > 2 * np.median(image)


def test_some_cells_touch():
    _, points = make_cells(n_cells=120, seed=2, radius=(5.0, 6.0))
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(distances, np.inf)

    # Touching: closer than two radii (10..12 px); none coincide.
    assert np.sum(distances.min(axis=1) < 10) >= 10
    assert distances.min() > 2.5


def test_dataset_is_deterministic_and_named():
    items = make_cells_dataset(3, seed=5, shape=(64, 64), n_cells=10)
    again = make_cells_dataset(3, seed=5, shape=(64, 64), n_cells=10)

    assert [item.name for item in items] == ["synthetic_000", "synthetic_001", "synthetic_002"]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(items, again, strict=True))
    assert not np.array_equal(items[0].image, items[1].image)
    assert [item.count for item in items] == [10, 10, 10]


def test_bad_arguments_are_named():
    with pytest.raises(GSTError, match="n_cells must be"):
        make_cells(n_cells=-1)
    with pytest.raises(GSTError, match="radius must be a range"):
        make_cells(radius=(5.0, 2.0))
    with pytest.raises(ValueError, match="shape must be positive"):
        make_cells(shape=(0, 10))
