"""Landmark task through the engine: train, checkpoint, predict, evaluate, and clear refusals."""

import numpy as np
import pytest

from napari_gst.data import AnnotatedImage
from napari_gst.engine import TrainConfig, evaluate, load_checkpoint, predict, train
from napari_gst.errors import GSTError
from napari_gst.landmarks import HAND_LANDMARKS, LandmarkSet, make_hand_landmarks

TINY = {
    "model_options": {"width": 4, "depth": 2},
    "stride": 4,
    "batch_size": 4,
    "crop_size": 48,
    "device": "cpu",
    "max_minutes": None,
    "fit_options": {"iterations": 10},
    "min_val_images": 2,
    "val_fraction": 0.25,
}


def labelled_items(count: int, seed: int) -> list[AnnotatedImage]:
    """Synthetic hands as the engine reads them: every point labelled with its landmark."""
    data = make_hand_landmarks(count, shape=(64, 64), seed=seed)
    labels = np.asarray(data.landmark_set.names, dtype=object)
    return [
        AnnotatedImage(image, landmarks, labels, f"hand_{index}")
        for index, (image, landmarks) in enumerate(zip(data.images, data.landmarks, strict=True))
    ]


def landmark_config(**settings) -> TrainConfig:
    return TrainConfig(task="landmarks", landmarks=HAND_LANDMARKS.to_dict(), **{**TINY, **settings})


@pytest.fixture(scope="module")
def items():
    return labelled_items(8, seed=2)


@pytest.fixture(scope="module")
def trained(items, tmp_path_factory):
    """A model folder after two GST epochs, and the events of the run."""
    out_dir = tmp_path_factory.mktemp("landmarks")
    events = list(train(landmark_config(epochs=2), items, out_dir=out_dir))
    return out_dir, events


def test_training_selects_on_mre_and_stores_the_landmark_set(trained):
    out_dir, events = trained
    ends = [event for event in events if event.kind == "epoch_end"]
    assert [event.epoch for event in ends] == [1, 2]
    assert all(event.metric == "MRE" and event.val_mae > 0 for event in ends)
    assert ends[0].preview.shape == (16, 16)  # the summed landmark densities of a 64 px image
    assert events[-1].kind == "done" and "MRE" in events[-1].message
    checkpoint = load_checkpoint(out_dir, task="landmarks")
    assert checkpoint.landmark_set == HAND_LANDMARKS
    assert checkpoint.metadata["model"]["out_channels"] == 7
    assert checkpoint.metadata["metrics"]["val_mre"] == pytest.approx(
        min(event.val_mae for event in ends)
    )


def test_predict_returns_named_landmarks_and_one_density_per_landmark(trained, items):
    result = predict(trained[0], items[0].image)
    assert result.points.shape == (7, 2) and result.density.shape == (7, 16, 16)
    assert result.landmark_set.names == HAND_LANDMARKS.names
    data, layer = result.to_layer()
    assert len(data) == len(layer["features"]["label"]) == len(layer["face_color"])
    assert set(layer["features"]["label"]) <= set(HAND_LANDMARKS.names)


def test_a_stack_gives_landmarks_per_plane(trained, items):
    stack = np.stack([items[0].image, items[1].image])
    result = predict(trained[0], stack)
    assert result.is_stack and result.points.shape == (2, 7, 2)
    data, _ = result.to_layer()
    assert data.shape[1] == 3 and set(data[:, 0]) <= {0.0, 1.0}


def test_evaluate_reports_mre_sdr_and_per_landmark_errors(trained, items):
    scores = evaluate(trained[0], items[:3], pixel_size=0.1, radii=[1.0, 2.0])
    assert scores["task"] == "landmarks" and scores["unit"] == "mm"
    assert scores["n_evaluated"] == 21 and scores["landmarks"] == list(HAND_LANDMARKS.names)
    assert set(scores["sdr"]) == {"1.0", "2.0"} and scores["mre"] > 0
    assert [image["name"] for image in scores["images"]] == ["hand_0", "hand_1", "hand_2"]


def test_heatmap_baseline_trains_through_the_same_task(items, tmp_path):
    events = list(train(landmark_config(loss="l2", epochs=1), items, out_dir=tmp_path))
    assert events[-1].kind == "done"
    assert load_checkpoint(tmp_path).metadata["loss"] == "l2"


def test_a_landmark_model_is_refused_where_a_counting_one_is_expected(trained, items):
    with pytest.raises(GSTError, match="task 'landmarks', not 'count'"):
        predict(trained[0], items[0].image, task="count")
    with pytest.raises(GSTError, match="task 'landmarks', not 'count'"):
        evaluate(load_checkpoint(trained[0]), items[:1], task="count")


def test_resuming_with_other_landmarks_is_refused(trained, items, tmp_path):
    other = LandmarkSet(tuple(f"p{i}" for i in range(7)))
    config = TrainConfig(task="landmarks", landmarks=other.to_dict(), **{**TINY, "epochs": 3})
    relabelled = [
        AnnotatedImage(i.image, i.points, np.asarray(other.names, dtype=object), i.name)
        for i in items
    ]
    with pytest.raises(GSTError, match="trained for landmarks"):
        list(train(config, relabelled, out_dir=tmp_path, resume=trained[0]))


def test_a_wrong_label_is_named_before_any_fit(items, tmp_path):
    labels = np.asarray(HAND_LANDMARKS.names, dtype=object).copy()
    labels[2] = "elbow"
    bad = AnnotatedImage(items[0].image, items[0].points, labels, "bad_hand")
    with pytest.raises(GSTError, match="bad_hand.*'elbow'"):
        list(train(landmark_config(epochs=1), [*items[1:], bad], out_dir=tmp_path))
    assert not (tmp_path / "fits").exists()


def test_unlabelled_points_are_refused(items, tmp_path):
    plain = AnnotatedImage(items[0].image, items[0].points, None, "plain")
    with pytest.raises(GSTError, match="plain: points have no labels"):
        list(train(landmark_config(epochs=1), [plain], out_dir=tmp_path))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"landmarks": None}, "needs landmarks"),
        ({"loss": "bayesian"}, "loss \\(for landmarks\\)"),
        ({"flip": True}, "needs flip_map"),
        ({"flip_map": {"wrist": "nose"}}, "'nose'"),
    ],
)
def test_landmark_settings_are_checked(settings, message):
    values = {"task": "landmarks", "landmarks": HAND_LANDMARKS.to_dict(), **settings}
    with pytest.raises(GSTError, match=message):
        TrainConfig(**values)


def test_flips_default_off_for_landmarks_and_on_for_counting():
    assert landmark_config().flip is False
    assert landmark_config(flip_map={}).flip is True
    assert TrainConfig().flip is True
    with pytest.raises(GSTError, match="task 'landmarks'"):
        TrainConfig(landmarks=HAND_LANDMARKS.to_dict())
