"""DensityDataset: samples whose image and transport kernel share one exact geometry."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import napari_gst.splat
from napari_gst.data import (
    DensityDataset,
    collate_samples,
    discover_dataset,
    make_cells_dataset,
    precompute_fits,
    read_image,
    read_points,
)
from napari_gst.data.annotations import AnnotatedImage
from napari_gst.data.kernel_padding import pad_kernel
from napari_gst.errors import GSTError

# A few iterations are enough for geometry tests: the fit's quality is not what they check.
FAST_FIT = {"iterations": 3}


@pytest.fixture(scope="module")
def items() -> list[AnnotatedImage]:
    """Two small synthetic images (odd sizes, so padding matters) with 8 cells each."""
    return make_cells_dataset(2, seed=1, shape=(45, 38), n_cells=8)


@pytest.fixture
def fit_calls(monkeypatch) -> list[int]:
    """Counts calls to the Gaussian fit (the dataset and the cache both call it)."""
    calls: list[int] = []
    original = napari_gst.splat.fit_gaussians

    def counting(image, points, **kwargs):
        calls.append(len(points))
        return original(image, points, **kwargs)

    monkeypatch.setattr(napari_gst.splat, "fit_gaussians", counting)
    return calls


def test_training_crop_is_stride_aligned_and_kernel_matches(items):
    dataset = DensityDataset(
        items, stride=4, crop_size=(24, 32), scale_range=(0.8, 1.2), fit_kwargs=FAST_FIT
    )

    for draw in range(4):
        sample = dataset[draw % 2]
        kernel = sample["target"]
        assert sample["image"].shape == (1, 24, 32) and sample["image"].dtype == torch.float32
        assert kernel.image_shape == (24, 32) and kernel.grid_shape == (6, 8)
        assert kernel.matrix.shape[0] == 6 * 8  # one kernel row per density cell
        np.testing.assert_allclose(kernel.matrix.sum(axis=1), 1.0, atol=1e-5)
        assert sample["count"] == pytest.approx(float(kernel.mass.sum()))
        assert 0.0 <= sample["count"] <= 8.0


@pytest.mark.parametrize("crop_mass", ["fraction", "centre"])
def test_training_kernels_equal_the_whole_kernel_padded_flipped_and_cropped(items, crop_mass):
    # Samples build only their crop's cells; the slow path (whole rescaled kernel, padded,
    # flipped, cropped) must give the same kernel for every plan: crops reaching into the
    # padding, both flips, rescales; under either rule for the masses at the crop's edge.
    dataset = DensityDataset(
        items, stride=4, crop_size=(24, 32), scale_range=(0.8, 1.2), vertical_flip=True,
        fit_kwargs=FAST_FIT, crop_mass=crop_mass,
    )  # fmt: skip
    for draw in range(12):
        index = draw % 2
        plan = dataset._plan(index, items[index].shape)
        fast = dataset._target(index, plan)
        slow = pad_kernel(dataset._scaled_kernel(index, plan.scale), plan.padded_shape)
        for axis in plan.flips:
            slow = slow.flip(axis)
        slow = slow.crop(*plan.crop, crop_mass=crop_mass)
        np.testing.assert_array_equal(fast.ids, slow.ids)
        np.testing.assert_allclose(fast.dense(), slow.dense(), atol=1e-7)
        np.testing.assert_allclose(fast.mass, slow.mass, rtol=1e-10)
        np.testing.assert_allclose(fast.points, slow.points, atol=1e-9)


def test_centre_rule_counts_a_crop_as_the_point_targets_do(items):
    # With crop_mass="centre" a GST sample's target mass is the number of dots inside the
    # crop, as for the baselines' point targets of the same plan; "fraction" gives dots cut
    # by the crop's edge a part of their unit.
    def dataset(**options):
        return DensityDataset(
            items, stride=4, crop_size=(24, 24), scale_range=(0.9, 1.1), vertical_flip=True,
            fit_kwargs=FAST_FIT, seed=3, **options,
        )  # fmt: skip

    centre, points, fraction = (
        dataset(crop_mass="centre"), dataset(use_kernel=False), dataset()
    )  # fmt: skip
    cut = 0
    for draw in range(16):
        index = draw % 2
        counted, expected = centre[index], points[index]
        assert counted["count"] == expected["count"]
        assert float(counted["count"]).is_integer()
        np.testing.assert_array_equal(counted["target"].mass, 1.0)
        cut += not float(fraction[index]["count"]).is_integer()
    assert cut > 0  # the plans do cut dots, so the two rules were compared where they differ


def test_dataset_refuses_an_unknown_crop_rule(items):
    with pytest.raises(GSTError, match="crop_mass must be one of"):
        DensityDataset(items, stride=4, crop_size=24, crop_mass="middle")


def test_samples_do_not_share_memory_with_the_cached_images(items):
    dataset = DensityDataset(items, stride=1, crop_size=None, flip=False, use_kernel=False)
    first = dataset[0]["image"]
    first += 100.0  # a caller may write into its sample

    assert float(dataset[0]["image"].max()) < 100.0


def test_evaluation_sample_is_the_whole_padded_image(items):
    dataset = DensityDataset(items, stride=8, train=False, fit_kwargs=FAST_FIT)

    sample = dataset[0]

    assert sample["image"].shape == (1, 48, 40)
    assert sample["target"].grid_shape == (6, 5)
    assert sample["count"] == pytest.approx(8.0)
    assert sample["name"] == "synthetic_000"
    # Padding is zeros at the bottom/right, the image itself is untouched.
    assert torch.all(sample["image"][:, 45:, :] == 0) and torch.all(sample["image"][:, :, 38:] == 0)
    torch.testing.assert_close(dataset[0]["image"], sample["image"])


def test_crop_larger_than_image_pads_and_sends_padding_to_background(items):
    dataset = DensityDataset(items, stride=4, crop_size=64, flip=False, fit_kwargs=FAST_FIT)

    sample = dataset[0]
    kernel = sample["target"]

    assert sample["image"].shape == (1, 64, 64)
    assert sample["count"] == pytest.approx(8.0)
    background = kernel.dense()[:, -1].reshape(16, 16)
    assert np.all(background[12:, :] == 1.0) and np.all(background[:, 10:] == 1.0)


def test_flip_mirrors_image_points_and_kernel(items):
    plain = DensityDataset(items, stride=4, flip=False, fit_kwargs=FAST_FIT)
    flipping = DensityDataset(items, stride=4, flip=True, fit_kwargs=FAST_FIT)
    flipping._fits = plain._fits  # same fits: only the flip differs

    for _draw in range(16):
        reference, sample = plain[0], flipping[0]
        if not torch.equal(reference["image"], sample["image"]):
            break
    else:
        pytest.fail("no flipped sample in 16 draws")

    torch.testing.assert_close(sample["image"], torch.flip(reference["image"], dims=(2,)))
    width = reference["target"].image_shape[1]
    mirrored = reference["target"].points.copy()
    mirrored[:, 1] = width - 1 - mirrored[:, 1]
    np.testing.assert_allclose(sample["target"].points, mirrored)
    grid = reference["target"].grid_shape
    np.testing.assert_allclose(
        sample["target"].dense()[:, -1].reshape(grid),
        np.flip(reference["target"].dense()[:, -1].reshape(grid), axis=1),
    )


def test_augmentation_is_reproducible_per_seed(items):
    def draws(seed):
        dataset = DensityDataset(
            items, stride=4, crop_size=16, scale_range=(0.8, 1.2), seed=seed, fit_kwargs=FAST_FIT
        )
        return [dataset[0]["image"] for _ in range(3)]

    first, again, other = draws(0), draws(0), draws(1)

    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))
    assert not torch.equal(first[0], first[1])  # each draw is a new crop


def test_fits_are_computed_once_in_memory(items, fit_calls):
    dataset = DensityDataset(items, stride=4, crop_size=16, fit_kwargs=FAST_FIT)

    for _ in range(3):
        dataset[0], dataset[1]

    assert len(fit_calls) == 2


def test_second_run_reads_the_disk_cache(items, fit_calls, tmp_path):
    progress = []
    first = DensityDataset(items, stride=4, cache_dir=tmp_path, fit_kwargs=FAST_FIT)
    first.prepare(progress=lambda done, total: progress.append((done, total)))
    second = DensityDataset(items, stride=4, cache_dir=tmp_path, fit_kwargs=FAST_FIT)

    second.prepare()
    second[0], second[1]

    assert len(fit_calls) == 2  # the first run only
    assert len(list(tmp_path.glob("fit-*.npz"))) == 2
    assert progress == [(1, 2), (2, 2)]


def test_prepare_stops_when_asked(items):
    dataset = DensityDataset(items, stride=4, fit_kwargs=FAST_FIT)

    from napari_gst.errors import Cancelled

    with pytest.raises(Cancelled):
        dataset.prepare(should_stop=lambda: True)


def test_collate_stacks_images_and_keeps_targets(items):
    dataset = DensityDataset(items, stride=4, crop_size=16, fit_kwargs=FAST_FIT)

    batch = collate_samples([dataset[0], dataset[1]])

    assert batch["image"].shape == (2, 1, 16, 16)
    assert len(batch["target"]) == 2 and batch["name"] == ["synthetic_000", "synthetic_001"]
    assert batch["count"].shape == (2,)


def test_collate_refuses_mixed_sizes(items):
    small = make_cells_dataset(1, seed=2, shape=(20, 20), n_cells=3)
    dataset = DensityDataset([items[0], small[0]], stride=4, train=False, fit_kwargs=FAST_FIT)

    with pytest.raises(GSTError, match="different image shapes"):
        collate_samples([dataset[0], dataset[1]])


def test_bad_settings_are_named(items):
    with pytest.raises(GSTError, match=r"crop_size must be positive multiples of the stride \(8\)"):
        DensityDataset(items, stride=8, crop_size=20)
    with pytest.raises(GSTError, match="scale_range must satisfy"):
        DensityDataset(items, stride=8, scale_range=(1.2, 0.8))
    rgb = AnnotatedImage(np.zeros((10, 10, 3)), np.zeros((0, 2)), None, "rgb")
    with pytest.raises(GSTError, match=r"mix images with \[1, 3\] channels"):
        DensityDataset([items[0], rgb], stride=4)
    outside = AnnotatedImage(np.zeros((10, 10)), np.array([[30.0, 1.0]]), None, "bad")
    with pytest.raises(ValueError, match="points of 'bad'"):
        DensityDataset([outside], stride=4)


def test_image_without_points_is_all_background():
    empty = AnnotatedImage(np.random.default_rng(0).random((16, 16)), np.zeros((0, 2)), None, "e")
    dataset = DensityDataset([empty], stride=4, train=False, fit_kwargs=FAST_FIT)

    sample = dataset[0]

    assert sample["count"] == 0.0
    np.testing.assert_allclose(sample["target"].dense(), 1.0)


def test_point_targets_follow_the_same_geometry_without_fitting(items, fit_calls):
    dataset = DensityDataset(
        items, stride=4, crop_size=24, scale_range=(0.9, 1.1), use_kernel=False, seed=3
    )

    dataset.prepare()
    samples = [dataset[index % 2] for index in range(6)]

    assert fit_calls == []
    for sample in samples:
        target = sample["target"]
        assert sample["image"].shape == (1, 24, 24)
        assert target.image_shape == (24, 24) and target.grid_shape == (6, 6)
        assert sample["count"] == target.n_points
        assert np.all((target.points >= -0.5) & (target.points <= 23.5))


def test_point_target_flip_matches_the_image(items):
    plain = DensityDataset(items, stride=4, flip=False, use_kernel=False)
    flipping = DensityDataset(items, stride=4, flip=True, use_kernel=False)

    pairs = [(plain[1], flipping[1]) for _ in range(16)]
    flipped = [(a, b) for a, b in pairs if not torch.equal(a["image"], b["image"])]

    assert flipped, "no flipped sample in 16 draws"
    reference, sample = flipped[0]
    width = reference["image"].shape[2]
    np.testing.assert_allclose(
        sample["target"].points[:, 1], width - 1 - reference["target"].points[:, 1]
    )
    # The brightest pixel near each point moves with it: the image really is mirrored.
    rows, cols = np.round(sample["target"].points).astype(int).T
    assert sample["image"][0, rows, cols].mean() > sample["image"].mean()


def test_two_real_vgg_cells_images_as_samples(vgg_cells_dir):
    entries = discover_dataset(vgg_cells_dir)[:2]
    items = []
    for image_path, dots_path, name in entries:
        image = read_image(image_path)
        points = read_points(dots_path, image.shape[:2]).points
        items.append(AnnotatedImage(image, points, None, name))
    dataset = DensityDataset(items, stride=8, crop_size=128, fit_kwargs={"iterations": 2})

    sample = dataset[1]

    assert sample["image"].shape == (3, 128, 128) and sample["target"].grid_shape == (16, 16)
    assert 0 < sample["count"] <= items[1].count
    # Joint percentile normalisation: the blue cells span [0, ~1], the noisy red stays low.
    assert sample["image"][2].max() > 0.8 and sample["image"][0].max() < 0.1


@pytest.mark.slow
def test_parallel_fits_equal_sequential_fits(items, tmp_path):
    progress = []
    parallel = precompute_fits(
        items,
        cache_dir=tmp_path,
        fit_kwargs=FAST_FIT,
        workers=2,
        progress=lambda done, total: progress.append(total),
    )
    here = precompute_fits(items, fit_kwargs=FAST_FIT)

    assert progress == [2, 2]
    for a, b in zip(parallel, here, strict=True):
        np.testing.assert_allclose(a.sigmas, b.sigmas, rtol=1e-4)
    assert len(list(tmp_path.glob("fit-*.npz"))) == 2


def test_image_crop_equals_the_whole_image_padded_flipped_and_cropped():
    # apply_to_image moves only the crop's pixels; the slow path pads, flips and crops all.
    from napari_gst.data.augment import apply_to_image, random_plan

    image = torch.rand(2, 45, 38)
    rng = np.random.default_rng(3)
    for _ in range(40):
        plan = random_plan(rng, (45, 38), 4, (24, 32), (0.8, 1.2), (0, 1))
        if plan.scale > 1.0 and (int(45 * plan.scale) == 45 or int(38 * plan.scale) == 38):
            continue  # torch copies an axis whose size does not change instead of resampling
        rescaled = apply_to_image(image, replace(plan, crop=None, flips=()))
        slow = torch.flip(rescaled, dims=tuple(axis + 1 for axis in plan.flips))
        top, left, height, width = plan.crop
        expected = slow[:, top : top + height, left : left + width]

        torch.testing.assert_close(apply_to_image(image, plan), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("scale", [0.5, 0.75, 0.9, 0.97, 1.1, 1.25, 2.0])
def test_resized_window_equals_the_window_of_the_resized_image(scale):
    from napari_gst.data.resize import resize_region

    image = torch.rand(3, 45, 38)
    whole = torch.nn.functional.interpolate(
        image[None], scale_factor=scale, mode="bilinear", recompute_scale_factor=False,
        antialias=scale < 1, align_corners=False,
    )[0]  # fmt: skip
    height, width = whole.shape[1:]
    for rows, cols in [
        ((0, height), (0, width)),
        ((3, 20), (5, width)),
        ((height - 7, height), (0, 9)),
    ]:
        window = resize_region(image, scale, rows, cols)
        expected = whole[:, rows[0] : rows[1], cols[0] : cols[1]]
        torch.testing.assert_close(window, expected, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="leaves the image"):
        resize_region(image, scale, (0, height + 1), (0, 4))


@pytest.mark.parametrize("use_kernel", [True, False])
def test_transpose_swaps_rows_and_columns_of_image_and_target(items, use_kernel):
    options = {"stride": 4, "crop_size": 24, "flip": False, "use_kernel": use_kernel}
    plain = DensityDataset(items, **options, fit_kwargs=FAST_FIT)
    swapping = DensityDataset(items, **options, transpose=True, fit_kwargs=FAST_FIT)
    swapping._fits = plain._fits  # same fits: only the transpose differs

    # The transpose is drawn after the crop, so both datasets draw the same crops.
    pairs = [(plain[0], swapping[0]) for _ in range(16)]
    swapped = [(a, b) for a, b in pairs if not torch.equal(a["image"], b["image"])]
    assert swapped and len(swapped) < len(pairs), "16 draws should hold both states"
    for reference, sample in swapped:
        torch.testing.assert_close(sample["image"], reference["image"].transpose(1, 2))
        np.testing.assert_allclose(sample["target"].points, reference["target"].points[:, ::-1])
        assert sample["count"] == pytest.approx(reference["count"])
    if use_kernel:
        reference, sample = swapped[0]
        grid = reference["target"].dense().reshape(*reference["target"].grid_shape, -1)
        np.testing.assert_array_equal(
            sample["target"].dense(), grid.transpose(1, 0, 2).reshape(grid.shape[0] ** 2, -1)
        )


@pytest.mark.parametrize("crop_size", [None, (24, 32)])
def test_transpose_needs_a_square_crop(items, crop_size):
    with pytest.raises(GSTError, match="transpose needs a square crop_size"):
        DensityDataset(items, stride=4, crop_size=crop_size, transpose=True)
