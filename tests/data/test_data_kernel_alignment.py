"""The transport kernel of an augmented sample lines up with the sample's image and points.

GST only works if every kernel column sits where its cell is in the (rescaled, padded,
flipped, cropped) image the network sees; a misaligned kernel would hurt GST but not the
point-based baselines. These tests follow random training samples through the whole
DensityDataset path with a real Gaussian fit.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.data import AnnotatedImage, DensityDataset
from napari_gst.transport.geometry import cell_centres

STRIDE = 4
BLOB_SIGMA = 1.5


@pytest.fixture(scope="module")
def blob_item() -> AnnotatedImage:
    """An image with one small round blob per point, points on a jittered 24 px grid."""
    rng = np.random.default_rng(3)
    grid = np.stack(np.meshgrid(np.arange(14, 140, 24), np.arange(14, 180, 24), indexing="ij"), -1)
    points = grid.reshape(-1, 2) + rng.uniform(-5, 5, (grid.size // 2, 2))
    rows, cols = np.mgrid[:150, :190]
    image = np.zeros((150, 190))
    for row, col in points:
        image += np.exp(-((rows - row) ** 2 + (cols - col) ** 2) / (2 * BLOB_SIGMA**2))
    return AnnotatedImage(image.astype(np.float32), points, None, "blobs")


@pytest.fixture(scope="module")
def samples(blob_item) -> list[dict]:
    """Twenty-four augmented samples (rescale 0.75-1.25, crops, both flips) with GST kernels and
    the point targets of the same draws."""
    options = dict(
        stride=STRIDE,
        crop_size=96,
        scale_range=(0.75, 1.25),
        flip=True,
        vertical_flip=True,
        seed=7,
        fit_kwargs={"iterations": 20},
    )
    with_kernel = DensityDataset([blob_item], use_kernel=True, **options)
    with_points = DensityDataset([blob_item], use_kernel=False, **options)
    with_kernel.prepare()
    drawn = []
    for epoch in range(24):
        with_kernel.set_epoch(epoch)
        with_points.set_epoch(epoch)
        drawn.append({**with_kernel[0], "points": with_points[0]["target"]})
    return drawn


def _blob_centre(image: np.ndarray, row: float, col: float, half: int = 4) -> np.ndarray | None:
    """Return the intensity centroid of the window around (row, col), None near the edge."""
    r0, c0 = round(row), round(col)
    if not (half <= r0 < image.shape[0] - half and half <= c0 < image.shape[1] - half):
        return None
    window = image[r0 - half : r0 + half + 1, c0 - half : c0 + half + 1]
    offsets = np.arange(-half, half + 1)
    total = window.sum()
    return np.array(
        [r0 + (window.sum(1) * offsets).sum() / total, c0 + (window.sum(0) * offsets).sum() / total]
    )


def test_kernel_grid_is_the_density_grid_of_the_crop(samples):
    for sample in samples:
        height, width = sample["image"].shape[1:]
        assert sample["target"].grid_shape == (height // STRIDE, width // STRIDE)
        assert sample["target"].image_shape == (height, width)


def test_kernel_points_sit_on_the_blobs_of_the_augmented_image(samples):
    # The image went through torch's resize/flip/crop, the kernel through build_kernel's scale,
    # row permutations and row selections: they must agree to a fraction of a pixel.
    errors = []
    for sample in samples:
        image = sample["image"].numpy()[0]
        for row, col in sample["target"].points:
            centre = _blob_centre(image, row, col)
            if centre is not None:
                errors.append(np.hypot(*(centre - (row, col))))
    assert len(errors) > 100
    assert np.max(errors) < 0.5


def test_each_kernel_column_is_centred_on_its_point(samples):
    # Neighbours are >= 14 px apart, so each column's posterior mass is nearly symmetric
    # around its point: its mass-weighted cell centroid must be within one stride of it.
    offsets = []
    for sample in samples:
        kernel = sample["target"]
        rows, cols = kernel.grid_shape
        centre_r = np.repeat(cell_centres(rows, STRIDE), cols)
        centre_c = np.tile(cell_centres(cols, STRIDE), rows)
        columns = kernel.dense()[:, :-1]
        weight = columns.sum(axis=0)
        whole = kernel.mass > 0.99  # points a crop edge does not cut
        centroid = np.stack([centre_r @ columns, centre_c @ columns], 1) / weight[:, None]
        offsets.extend(np.hypot(*(centroid[whole] - kernel.points[whole]).T))
    assert len(offsets) > 100
    assert np.median(offsets) < 0.5 * STRIDE
    assert np.max(offsets) < STRIDE


def test_flips_mirror_kernel_and_image_alike(samples):
    flipped = [s for s in samples if s["target"].points.size and s["points"].n_points]
    # Every draw has both flip states somewhere in the 24 samples: the blob test above
    # covered them; here the kernel's points must also equal the point target's.
    for sample in flipped:
        whole = sample["target"].points[sample["target"].mass > 0.99]
        distance = np.min(
            np.linalg.norm(whole[:, None, :] - sample["points"].points[None, :, :], axis=2), axis=1
        )
        assert np.all(distance < 1e-6)


def test_kernel_target_mass_matches_the_point_target(samples):
    # The kernel splits points cut by the crop edge by their Gaussian fraction, the point
    # target keeps or drops them whole: totals differ by at most the points near an edge.
    for sample in samples:
        kernel, points = sample["target"], sample["points"]
        height, width = kernel.image_shape
        reach = 3.0 * np.sqrt(kernel.covariances[:, [0, 1], [0, 1]]).max() + 1.0
        near_edge = np.sum(
            (points.points.min(axis=1) < reach)
            | (points.points[:, 0] > height - reach)
            | (points.points[:, 1] > width - reach)
        ) + np.sum(kernel.mass < 0.99)
        assert abs(kernel.mass.sum() - points.mass.sum()) <= near_edge
        assert abs(sample["count"] - kernel.mass.sum()) < 1e-9
