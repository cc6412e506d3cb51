"""Count calibration: the saved model's training total is right; training sees the raw density."""

import numpy as np
import pytest
import torch
from engine_helpers import TINY_L2
from safetensors.torch import load_file, save_file

from napari_gst.data import make_cells_dataset
from napari_gst.data.normalise import Normalisation
from napari_gst.engine import TrainConfig, load_checkpoint, train
from napari_gst.engine.calibration import (
    UNCALIBRATED,
    CountGains,
    count_gain,
    gains_from_counts,
    image_counts,
    output_gain,
    ring_counts,
)
from napari_gst.engine.split import hold_out
from napari_gst.errors import GSTError
from napari_gst.models import build_model

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def items():
    return make_cells_dataset(6, seed=3, shape=(48, 48))


def test_gain_makes_the_total_of_the_images_right(items):
    model = build_model("unet", 1, stride=2, width=4, depth=2)
    gain = count_gain(model, items, CPU, Normalisation())

    with output_gain(model, gain):
        predicted, annotated = image_counts(model, items, CPU, Normalisation())

    assert predicted.sum() == pytest.approx(annotated.sum(), rel=1e-5)
    assert float(model.output_gain) == 1.0  # restored after the block
    assert gain.edge == 1.0  # 6 small images hold too few dots in the edge ring


def test_gain_is_measured_on_the_raw_density_whatever_the_current_gain(items):
    model = build_model("unet", 1, stride=2, width=4, depth=2)
    raw = count_gain(model, items, CPU, Normalisation())
    model.output_gain.fill_(3.0)
    model.edge_gain.fill_(0.5)

    assert count_gain(model, items, CPU, Normalisation()) == raw


def test_gain_needs_images():
    model = build_model("unet", 1, stride=2, width=4, depth=2)
    with pytest.raises(GSTError, match="at least one annotated image"):
        count_gain(model, [], CPU, Normalisation())


def test_trained_counting_model_is_saved_calibrated(items, tmp_path):
    config = TrainConfig(**TINY_L2, epochs=2)
    list(train(config, items, out_dir=tmp_path))
    checkpoint = load_checkpoint(tmp_path / "best")
    gain = checkpoint.metadata["metrics"]["count_gain"]
    train_items, _, _ = hold_out(items, config.val_fraction, config.min_val_images, config.seed)

    assert float(checkpoint.model.output_gain) == pytest.approx(gain) and gain != 1.0
    predicted, annotated = image_counts(checkpoint.model, train_items, CPU, Normalisation())
    assert predicted.sum() == pytest.approx(annotated.sum(), rel=1e-4)


def test_calibrate_false_saves_the_raw_model(items, tmp_path):
    list(train(TrainConfig(**TINY_L2, epochs=1, calibrate=False), items, out_dir=tmp_path))
    checkpoint = load_checkpoint(tmp_path / "best")

    assert float(checkpoint.model.output_gain) == 1.0
    assert "count_gain" not in checkpoint.metadata["metrics"]


def test_resumed_training_starts_from_the_raw_density(items, tmp_path, monkeypatch):
    list(train(TrainConfig(**TINY_L2, epochs=1), items, out_dir=tmp_path))
    gains_seen = []
    import napari_gst.engine.session as session_module

    original = session_module.Session.train_step

    def spy(self, batch):
        gains_seen.append(float(self.model.output_gain))
        return original(self, batch)

    monkeypatch.setattr(session_module.Session, "train_step", spy)
    list(train(TrainConfig(**TINY_L2, epochs=2), items, out_dir=tmp_path, resume=tmp_path))

    assert gains_seen and set(gains_seen) == {1.0}


def test_checkpoint_without_an_output_gain_loads_with_gain_one(items, tmp_path):
    # Models saved before calibration existed have no output_gain tensor.
    list(train(TrainConfig(**TINY_L2, epochs=1), items, out_dir=tmp_path))
    weights = tmp_path / "best" / "model.safetensors"
    tensors = load_file(str(weights))
    del tensors["output_gain"], tensors["edge_gain"]
    save_file(tensors, str(weights))
    import hashlib
    import json

    metadata_path = tmp_path / "best" / "model.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    metadata_path.write_text(json.dumps(metadata))

    model = load_checkpoint(tmp_path / "best").model
    assert float(model.output_gain) == 1.0 and float(model.edge_gain) == 1.0


def test_calibrate_must_be_a_bool():
    with pytest.raises(GSTError, match="calibrate must be true or false"):
        TrainConfig(calibrate="yes")
    assert np.isfinite(TrainConfig().learning_rate)


def test_without_held_out_images_the_selection_score_is_not_the_gain_fitted_to_them(tmp_path):
    # One image: a gain measured on it makes its own count exact, so a calibrated score
    # would be 0 at every epoch and select nothing. The score is taken raw instead.
    from engine_helpers import TINY

    from napari_gst.data import make_cells_dataset
    from napari_gst.engine import TrainConfig, load_checkpoint, train

    items = make_cells_dataset(1, seed=5, shape=(48, 48))
    config = TrainConfig(**{**TINY, "loss": "l2", "epochs": 2, "calibrate": True})
    events = list(train(config, items, out_dir=tmp_path))
    scores = [event.val_mae for event in events if event.kind == "epoch_end"]
    assert all(score > 1e-3 for score in scores)
    saved = load_checkpoint(tmp_path / "best")
    assert saved.metadata["metrics"]["count_gain"] != 1.0  # the model is still saved calibrated


def test_leave_one_out_errors_count_each_image_with_the_others_gain():
    from napari_gst.engine.calibration import leave_one_out_errors

    predicted = np.array([90.0, 45.0, 20.0])
    annotated = np.array([100.0, 50.0, 20.0])
    errors = leave_one_out_errors(predicted, annotated)

    # Image 0 with the gain of images 1-2: 70 / 65.
    assert errors[0] == pytest.approx(abs(90.0 * 70.0 / 65.0 - 100.0))
    assert errors[2] == pytest.approx(abs(20.0 * 150.0 / 135.0 - 20.0))
    # One image has no others: its raw error.
    assert leave_one_out_errors(predicted[:1], annotated[:1]) == pytest.approx([10.0])
    # Others that predict nothing leave the gain at 1 instead of dividing by zero.
    assert leave_one_out_errors(np.array([5.0, 0.0]), np.array([4.0, 3.0]))[0] == 1.0


def test_without_held_out_images_each_training_image_is_scored_with_the_others_gain(tmp_path):
    # Raw training counts carry the bias the gain removes; it drifts over a run, and a raw
    # score picked early epochs on VGG cells (bench-accuracy.md). The score is now each
    # image counted with the gain of the other images.
    from engine_helpers import TINY

    from napari_gst.engine.calibration import leave_one_out_errors

    items = make_cells_dataset(4, seed=5, shape=(48, 48))
    config = TrainConfig(**{**TINY, "loss": "l2", "epochs": 1, "val_fraction": 0.0})
    events = list(train(config, items, out_dir=tmp_path))
    score = [event.val_mae for event in events if event.kind == "epoch_end"][-1]

    saved = load_checkpoint(tmp_path / "best")
    assert saved.metadata["metrics"]["selection"] == "training"
    model, normalisation = saved.model, Normalisation.from_dict(saved.normalisation)
    with output_gain(model, UNCALIBRATED):
        predicted, annotated = image_counts(model, items, CPU, normalisation)
    expected = leave_one_out_errors(predicted, annotated).mean()
    assert score == pytest.approx(expected, rel=1e-4)
    assert score != pytest.approx(np.abs(predicted - annotated).mean(), rel=1e-3)


def _edge_items(n_images: int = 4) -> list:
    """Images of 64 x 64 px with 12 dots in the outermost 2 px (stride 2) and 20 inside."""
    from napari_gst.data.annotations import AnnotatedImage

    rng = np.random.default_rng(0)
    along = np.linspace(6.0, 57.0, 3)
    edge = np.concatenate(
        [np.c_[np.full(3, 0.6), along], np.c_[np.full(3, 63.2), along],
         np.c_[along, np.full(3, 1.1)], np.c_[along, np.full(3, 62.9)]]
    )  # fmt: skip
    items = []
    for index in range(n_images):
        inside = rng.uniform(8.0, 56.0, size=(20, 2))
        image = rng.uniform(0.0, 1.0, size=(64, 64)).astype(np.float32)
        items.append(AnnotatedImage(image, np.r_[edge, inside], None, f"edge_{index}"))
    return items


def test_edge_ring_gets_a_gain_of_its_own_when_it_holds_enough_dots():
    items = _edge_items()  # 48 dots in the ring over the 4 images: enough
    model = build_model("unet", 1, stride=2, width=4, depth=2)
    with torch.no_grad():  # a flat density of softplus(-3) = 0.049 a cell
        model.head.weight.zero_()
        model.head.bias.fill_(-3.0)
    predicted, annotated = ring_counts(model, items, CPU, Normalisation())
    assert annotated.sum(axis=0).tolist() == [80.0, 48.0]

    gains = count_gain(model, items, CPU, Normalisation())
    assert gains.count == pytest.approx(80.0 / predicted[:, 0].sum(), rel=1e-6)
    assert gains.count * gains.edge == pytest.approx(48.0 / predicted[:, 1].sum(), rel=1e-6)
    with output_gain(model, gains):
        calibrated, truth = ring_counts(model, items, CPU, Normalisation())
        counted, _ = image_counts(model, items, CPU, Normalisation())
    # The forward applies the count gain; the edge gain comes on top of it, in image_counts.
    assert calibrated[:, 0].sum() == pytest.approx(80.0, rel=1e-5)
    assert counted.sum() == pytest.approx(truth.sum(), rel=1e-5)
    assert float(model.edge_gain) == 1.0  # restored after the block


def test_gains_from_counts_fall_back_to_one_gain_and_stay_in_bounds():
    # 29 dots in the ring: too few for an edge gain, one gain of the whole images.
    assert gains_from_counts([[90.0, 5.0]], [[100.0, 29.0]]) == CountGains(129.0 / 95.0)
    edge = gains_from_counts([[90.0, 20.0]], [[100.0, 30.0]])
    assert edge.count == pytest.approx(100.0 / 90.0) and edge.count * edge.edge == 1.5
    assert gains_from_counts([[0.0, 0.0]], [[10.0, 40.0]]) == UNCALIBRATED
    assert gains_from_counts([[1.0, 1.0]], [[100.0, 40.0]]).count == 5.0  # upper bound


def test_leave_one_out_errors_of_ring_counts_use_the_others_two_gains():
    from napari_gst.engine.calibration import leave_one_out_errors

    predicted = np.array([[90.0, 10.0], [45.0, 20.0], [50.0, 15.0]])
    annotated = np.array([[100.0, 15.0], [50.0, 30.0], [52.0, 20.0]])

    errors = leave_one_out_errors(predicted, annotated)

    gains = gains_from_counts(predicted[1:], annotated[1:])
    assert gains.edge != 1.0
    expected = gains.count * (90.0 + gains.edge * 10.0)
    assert errors[0] == pytest.approx(abs(expected - 115.0))


def test_predict_applies_the_edge_gain_to_the_whole_images_outermost_cells():
    import copy

    from napari_gst.engine import predict

    model = build_model("unet", 1, stride=2, width=4, depth=2)
    reference_model = copy.deepcopy(model)
    model.edge_gain.fill_(2.0)
    image = np.random.default_rng(1).uniform(0, 1, size=(96, 80)).astype(np.float32)
    for options in ({}, {"augment": True}, {"tile_size": 64, "overlap": 16}):
        reference = predict(reference_model, image, device="cpu", **options)
        edged = predict(model, image, device="cpu", **options)
        ring = np.zeros(edged.density.shape, dtype=bool)
        ring[[0, -1], :] = ring[:, [0, -1]] = True
        np.testing.assert_allclose(edged.density[ring], 2.0 * reference.density[ring], rtol=1e-5)
        np.testing.assert_allclose(edged.density[~ring], reference.density[~ring], rtol=1e-5)
        assert edged.count == pytest.approx(reference.count + reference.density[ring].sum())


def test_trained_model_saves_both_gains(tmp_path):
    config = TrainConfig(**TINY_L2, epochs=1, val_fraction=0.0)
    list(train(config, _edge_items(), out_dir=tmp_path))
    checkpoint = load_checkpoint(tmp_path / "last")
    metrics = checkpoint.metadata["metrics"]

    assert float(checkpoint.model.output_gain) == pytest.approx(metrics["count_gain"])
    assert float(checkpoint.model.edge_gain) == pytest.approx(metrics["edge_gain"])
    assert metrics["edge_gain"] != 1.0  # 48 dots in the edge ring
