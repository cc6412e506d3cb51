"""The landmark kernel-scale schedule: wide kernels first, sigma = stride/2 once narrowed."""

from __future__ import annotations

import numpy as np
import pytest
from landmark_helpers import make_fit

from napari_gst.errors import GSTError
from napari_gst.landmarks.dataset import LandmarkDataset
from napari_gst.landmarks.schedule import SigmaSchedule, default_sigma_schedule


def test_schedule_narrows_geometrically_from_wide_to_tight():
    schedule = SigmaSchedule(wide=(4.0, 16.0), tight=(1.0, 4.0), epochs=10)
    assert schedule.at(0) == pytest.approx((4.0, 16.0))
    assert schedule.at(5) == pytest.approx((2.0, 8.0))  # the geometric midpoint
    assert schedule.at(10) == schedule.at(500) == (1.0, 4.0)
    highs = [schedule.at(epoch)[1] for epoch in range(12)]
    assert all(later <= earlier for earlier, later in zip(highs, highs[1:], strict=False))


def test_default_schedule_is_in_strides():
    schedule = default_sigma_schedule(stride=4, epochs=20)
    assert schedule.at(0) == pytest.approx((6.0, 10.0))
    assert schedule.at(20) == (2.0, 2.0)
    assert SigmaSchedule((6, 10), (4, 4), epochs=0).at(0) == (4.0, 4.0)


def test_on_the_progress_clock_the_schedule_narrows_over_its_share_of_the_run():
    schedule = SigmaSchedule(wide=(4.0, 16.0), tight=(1.0, 4.0), epochs=10, share=0.5)
    assert schedule.at_progress(0.0) == pytest.approx((4.0, 16.0))
    assert schedule.at_progress(0.25) == pytest.approx((2.0, 8.0))  # half of the narrowing
    assert schedule.at_progress(0.5) == schedule.at_progress(1.0) == (1.0, 4.0)
    assert SigmaSchedule((6, 10), (4, 4), epochs=5, share=0).at_progress(0.0) == (4.0, 4.0)


def test_reported_progress_replaces_the_epoch_clock(hands, hand_fits):
    dataset = LandmarkDataset(
        hands.images[:1], hands.landmarks[:1], hands.landmark_set, stride=4,
        fits=hand_fits[:1], sigma_schedule=default_sigma_schedule(4, epochs=100),
    )  # fmt: skip
    dataset.set_epoch(1)
    assert dataset.sigma_range()[1] > 9.0  # 1 of 100 epochs: still wide
    dataset.set_progress(0.5)  # what the engine reports half-way through a run
    assert dataset.sigma_range() == (2.0, 2.0)
    assert dataset[0]["target"][0].n_points == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wide": (0, 4), "tight": (1, 1), "epochs": 3}, "wide"),
        ({"wide": (4, 4), "tight": (2, 1), "epochs": 3}, "tight"),
        ({"wide": (4, 4), "tight": "x", "epochs": 3}, "tight"),
        ({"wide": (4, 4), "tight": (1, 1), "epochs": -1}, "epochs"),
        ({"wide": (4, 4), "tight": (1, 1), "epochs": 2.5}, "epochs"),
        ({"wide": (4, 4), "tight": (1, 1), "epochs": 2, "share": 1.5}, "share"),
    ],
)
def test_bad_schedules_are_named(options, message):
    with pytest.raises(GSTError, match=message):
        SigmaSchedule(**options)


def support_radius(dataset: LandmarkDataset, truth: np.ndarray) -> float:
    """Return the largest distance (px) from landmark 0 of a cell its kernel owns (w > 1/2)."""
    kernel = dataset[0]["target"][0]
    weights = kernel.matrix[:, [0]].toarray().reshape(kernel.grid_shape)
    rows, cols = np.nonzero(weights > 0.5)
    centres = np.stack([rows, cols], axis=1) * dataset.stride + (dataset.stride - 1) / 2
    return float(np.linalg.norm(centres - truth[0], axis=1).max())


def test_default_landmark_kernels_end_within_a_few_strides(hands):
    # Landmark fits are wide (they lie far apart): sigma 20 px here, clamped by the schedule.
    fits = [make_fit(hands.landmarks[0], (64, 64), sigma=20.0)]
    dataset = LandmarkDataset(
        [hands.images[0]], [hands.landmarks[0]], hands.landmark_set, stride=4, fits=fits,
        sigma_schedule=default_sigma_schedule(4, epochs=10),
    )  # fmt: skip
    dataset.train = False  # whole image, no augmentation: the final (tight) clamp
    tight = support_radius(dataset, hands.landmarks[0])
    dataset.train = True
    dataset.set_epoch(0)
    wide = support_radius(dataset, hands.landmarks[0])
    # sigma = stride / 2: the point owns about 3 x 3 cells, not most of the image.
    assert tight <= 2 * dataset.stride < 4 * dataset.stride < wide
    assert dataset.sigma_range() == pytest.approx((6.0, 10.0))


def test_explicit_sigma_range_replaces_the_schedule(hands, hand_fits):
    dataset = LandmarkDataset(
        hands.images[:1], hands.landmarks[:1], hands.landmark_set, stride=4,
        fits=hand_fits[:1], kernel_kwargs={"sigma_range": (2.0, 3.0)},
    )  # fmt: skip
    dataset.set_epoch(0)
    assert dataset.sigma_range() == (2.0, 3.0)


@pytest.mark.parametrize(("sigma_range", "final"), [(None, (2.0, 2.0)), ((3.0, 5.0), (3.0, 5.0))])
def test_landmark_task_narrows_over_half_the_epochs_unless_a_range_is_set(
    hands, tmp_path, sigma_range, final
):
    from napari_gst.data import AnnotatedImage
    from napari_gst.data.normalise import Normalisation
    from napari_gst.engine.config import TrainConfig
    from napari_gst.engine.landmark_task import LandmarkTask

    names = np.asarray(hands.landmark_set.names, dtype=object)
    items = [AnnotatedImage(hands.images[0], hands.landmarks[0], names, "hand")]
    config = TrainConfig(
        task="landmarks", landmarks=hands.landmark_set.to_dict(), epochs=40,
        sigma_range=sigma_range,
    )  # fmt: skip
    dataset = LandmarkTask(config).dataset(items, Normalisation(), 4, tmp_path, seed=0)
    assert dataset.sigma_schedule.epochs == 20
    dataset.set_epoch(20)
    assert dataset.sigma_range() == pytest.approx(final)
