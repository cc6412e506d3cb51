"""A crop's kernel built from the fit alone equals the whole kernel, padded and cropped."""

from __future__ import annotations

import numpy as np
import pytest

from napari_gst.data.augment import scaled_shape
from napari_gst.data.kernel_padding import pad_kernel
from napari_gst.errors import GSTError
from napari_gst.transport import build_cropped_kernel, build_kernel


def _reference(fit, shape, stride, box, frame_shape, **options):
    """Return the slow path: the whole kernel, padded to the frame, then cropped."""
    min_fraction = options.pop("min_fraction", 0.05)
    kernel = pad_kernel(build_kernel(fit, shape, stride, **options), frame_shape)
    return kernel.crop(*box, min_fraction=min_fraction)


def _assert_same(fast, slow):
    assert fast.grid_shape == slow.grid_shape and fast.image_shape == slow.image_shape
    np.testing.assert_array_equal(fast.ids, slow.ids)
    np.testing.assert_allclose(fast.dense(), slow.dense(), atol=1e-7)
    np.testing.assert_allclose(fast.mass, slow.mass, rtol=1e-12)
    np.testing.assert_allclose(fast.points, slow.points)
    np.testing.assert_allclose(fast.covariances, slow.covariances)
    assert fast.settings == slow.settings


@pytest.mark.parametrize(
    ("box", "stride"),
    [
        ((16, 24, 32, 40), 4),  # inside the image
        ((0, 0, 64, 80), 4),  # the whole image
        ((48, 64, 16, 16), 4),  # the bottom-right corner, where points sit on the edge
        ((8, 16, 32, 48), 8),
        ((2, 3, 20, 30), 1),
    ],
)
def test_cropped_kernel_equals_the_crop_of_the_whole_kernel(crowd_fit, box, stride):
    fast = build_cropped_kernel(crowd_fit, crowd_fit.image_shape, stride, box)

    _assert_same(fast, _reference(crowd_fit, crowd_fit.image_shape, stride, box, (64, 80)))


@pytest.mark.parametrize("box", [(16, 24, 32, 40), (48, 64, 16, 16), (0, 0, 64, 80)])
def test_cropped_kernel_under_the_centre_rule_equals_the_crop_of_the_whole_kernel(crowd_fit, box):
    fast = build_cropped_kernel(crowd_fit, crowd_fit.image_shape, 4, box, crop_mass="centre")
    slow = build_kernel(crowd_fit, crowd_fit.image_shape, 4).crop(*box, crop_mass="centre")

    _assert_same(fast, slow)
    np.testing.assert_array_equal(fast.mass, 1.0)


def test_cropped_kernel_of_a_rescaled_padded_frame(crowd_fit):
    # Training samples: rescale by 0.93, pad to a stride multiple and to the crop, then crop
    # a box that reaches into the padding.
    shape = scaled_shape(crowd_fit.image_shape, 0.93)
    frame = (64, 76)
    box = (32, 44, 32, 32)
    options = {"scale": 0.93, "beta": 0.01, "sigma_range": (3.0, 9.0), "min_fraction": 0.2}

    fast = build_cropped_kernel(crowd_fit, shape, 4, box, frame_shape=frame, **options)

    _assert_same(fast, _reference(crowd_fit, shape, 4, box, frame, **options))
    padding_rows = fast.dense().reshape(8, 8, -1)[-1]  # frame rows 60..63: padding only
    np.testing.assert_array_equal(padding_rows[:, -1], 1.0)


def test_cropped_kernel_wholly_in_the_padding_is_background(crowd_fit):
    fast = build_cropped_kernel(crowd_fit, (64, 80), 4, (64, 0, 16, 16), frame_shape=(80, 80))

    assert fast.n_points == 0
    np.testing.assert_array_equal(fast.dense(), 1.0)


def test_cropped_kernel_flipped_equals_the_whole_kernel_flipped_then_cropped(crowd_fit):
    whole = build_kernel(crowd_fit, crowd_fit.image_shape, 4).flip(0).flip(1)
    # Box (8, 12, 32, 40) of the doubly flipped image is box (24, 28, 32, 40) of the original.
    fast = build_cropped_kernel(crowd_fit, crowd_fit.image_shape, 4, (24, 28, 32, 40))

    _assert_same(fast.flip(0).flip(1), whole.crop(8, 12, 32, 40))


def test_cropped_kernel_refuses_a_box_outside_the_frame(crowd_fit):
    with pytest.raises(GSTError, match="leaves the image"):
        build_cropped_kernel(crowd_fit, (64, 80), 4, (48, 64, 32, 32))
    with pytest.raises(GSTError, match="frame_shape"):
        build_cropped_kernel(crowd_fit, (64, 80), 4, (0, 0, 16, 16), frame_shape=(32, 32))
