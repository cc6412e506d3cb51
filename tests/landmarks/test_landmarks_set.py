"""LandmarkSet: names in channel order, labels by name or index, a JSON form stored with data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_gst.errors import GSTError
from napari_gst.landmarks import LandmarkSet, as_landmark_set


@pytest.fixture
def hand() -> LandmarkSet:
    return LandmarkSet(
        ["wrist", "thumb tip", "index tip"], colours=["#FF0000", "#00ff00", "#0000ff"]
    )


def test_json_round_trip_keeps_names_order_and_colours(hand, tmp_path):
    assert LandmarkSet.from_json(hand.to_json()) == hand
    path = hand.save(tmp_path / "landmarks.json")
    loaded = LandmarkSet.load(path)
    assert loaded.names == ("wrist", "thumb tip", "index tip")
    assert loaded.colours == ("#ff0000", "#00ff00", "#0000ff")
    assert json.loads(path.read_text())["format"] == "napari-gst LandmarkSet"


def test_labels_resolve_by_name_or_zero_based_index(hand):
    assert [hand.index(label) for label in ("index tip", 0, "1", 2.0, " wrist ")] == [2, 0, 1, 2, 0]


def test_names_win_over_indices_for_numbered_sets():
    numbered = LandmarkSet.numbered(3)
    assert numbered.names == ("L1", "L2", "L3")
    digits = LandmarkSet(["1", "2", "3"])
    assert digits.index(1) == 0  # the landmark named "1", not index 1


@pytest.mark.parametrize("label", ["pinky tip", 3, -1, 1.5, None])
def test_unknown_label_is_a_clear_error(hand, label):
    with pytest.raises(GSTError, match="not a landmark of this set"):
        hand.index(label)


def test_default_colours_are_distinct_rgba(hand):
    palette = LandmarkSet(["a", "b", "c", "d"])
    rgba = palette.rgba()
    assert rgba.shape == (4, 4)
    assert len({tuple(row) for row in rgba}) == 4
    np.testing.assert_allclose(hand.rgba()[0], [1, 0, 0, 1])


@pytest.mark.parametrize(
    ("names", "colours", "message"),
    [
        ([], (), "at least one"),
        (["a", "a"], (), "repeated: a"),
        (["a", ""], (), r"names\[1\]"),
        (["a", "b"], ["#000000"], "one colour per landmark"),
        (["a"], ["red"], "#rrggbb"),
    ],
)
def test_invalid_sets_are_refused(names, colours, message):
    with pytest.raises(GSTError, match=message):
        LandmarkSet(names, colours)


def test_load_error_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else", "names": ["a"]}')
    with pytest.raises(GSTError, match="bad.json"):
        LandmarkSet.load(bad)


def test_as_landmark_set_accepts_names_and_dicts(hand):
    assert as_landmark_set(["a", "b"]).names == ("a", "b")
    assert as_landmark_set(hand.to_dict()) == hand
    with pytest.raises(GSTError, match="landmark_set"):
        as_landmark_set(42)
