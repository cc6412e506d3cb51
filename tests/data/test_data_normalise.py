"""Normalisation: the same picture gives the same network input whatever its dtype."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_gst.data import Normalisation
from napari_gst.errors import GSTError


@pytest.fixture
def picture() -> np.ndarray:
    """An 8-bit two-channel picture: a bright channel and a dim, noisy one."""
    rng = np.random.default_rng(0)
    bright = rng.integers(20, 250, size=(40, 50))
    dim = rng.integers(0, 9, size=(40, 50))
    return np.dstack([bright, dim]).astype(np.uint8)


@pytest.mark.parametrize("per_channel", [False, True])
def test_uint8_uint16_and_float_copies_agree(picture, per_channel):
    norm = Normalisation(per_channel=per_channel)
    as_uint16 = picture.astype(np.uint16) * 257
    as_float = picture.astype(np.float32) / 255.0

    reference = norm.apply(picture)

    assert reference.dtype == np.float32 and reference.shape == (40, 50, 2)
    np.testing.assert_allclose(norm.apply(as_uint16), reference, atol=1e-5)
    np.testing.assert_allclose(norm.apply(as_float), reference, atol=1e-5)


def test_joint_percentiles_keep_a_dim_channel_dim(picture):
    joint = Normalisation().apply(picture)
    separate = Normalisation(per_channel=True).apply(picture)

    # Sensor noise in the dim channel stays small instead of being stretched to [0, 1].
    assert joint[..., 1].max() < 0.05
    assert separate[..., 1].max() > 0.9


def test_percentiles_map_to_zero_and_one():
    ramp = np.arange(10_000, dtype=np.uint16).reshape(100, 100)

    result = Normalisation(low=1.0, high=99.0).apply(ramp)

    assert np.isclose(np.percentile(result, 1), 0.0, atol=1e-4)
    assert np.isclose(np.percentile(result, 99), 1.0, atol=1e-4)


def test_clip_and_flat_image():
    ramp = np.arange(100, dtype=np.float32).reshape(10, 10)

    clipped = Normalisation(clip=True).apply(ramp)

    assert clipped.min() == 0.0 and clipped.max() == 1.0
    assert np.all(Normalisation().apply(np.full((5, 5), 7, np.uint8)) == 0)


def test_dtype_method_divides_by_dtype_max():
    image = np.array([[0, 65535]], dtype=np.uint16)

    assert Normalisation(method="dtype").apply(image).ravel().tolist() == [0.0, 1.0]


def test_json_round_trip():
    norm = Normalisation(low=2.0, high=99.0, clip=True)

    restored = Normalisation.from_dict(json.loads(json.dumps(norm.to_dict())))

    assert restored == norm


def test_bad_settings_are_named():
    with pytest.raises(GSTError, match="low < high"):
        Normalisation(low=50, high=10)
    with pytest.raises(GSTError, match="method must be one of"):
        Normalisation(method="zscore")
    with pytest.raises(GSTError, match=r"unknown keys \['gain'\]"):
        Normalisation.from_dict({"gain": 2})
    with pytest.raises(GSTError, match="NaN"):
        Normalisation().apply(np.array([[np.nan, 1.0]]))
