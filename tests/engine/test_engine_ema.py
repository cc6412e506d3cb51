"""Weight averaging (``ema_decay``, ``average_from``): the average is validated, saved, resumed."""

import json

import numpy as np
import pytest
import torch
from engine_helpers import TINY_L2
from safetensors.numpy import load_file
from torch import nn

from napari_gst.data import make_cells_dataset
from napari_gst.engine import TrainConfig, train
from napari_gst.engine.ema import WeightAverage
from napari_gst.engine.training_state import load_training_state
from napari_gst.errors import GSTError


@pytest.fixture(scope="module")
def items():
    return make_cells_dataset(6, seed=3, shape=(48, 48))


def test_average_warms_up_then_follows_the_long_run_decay():
    model = nn.Linear(2, 1)
    average = WeightAverage(model, decay=0.99)
    assert average.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    with torch.no_grad():
        model.weight.fill_(1.0)
    before = average.model.weight.clone()
    average.update(model)
    # The first update moves 90 % of the way to the new weights.
    assert torch.allclose(average.model.weight, before + 0.9 * (1.0 - before))
    average.updates = 10_000
    assert average.current_decay() == pytest.approx(0.99)
    assert not any(p.requires_grad for p in average.model.parameters())


def test_integer_buffers_are_copied_not_averaged():
    model = nn.BatchNorm2d(2)
    average = WeightAverage(model, decay=0.9)
    model.num_batches_tracked += 5
    average.update(model)
    assert int(average.model.num_batches_tracked) == 5


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, True])
def test_bad_decay_is_refused(decay):
    with pytest.raises(GSTError, match="ema_decay"):
        TrainConfig(ema_decay=decay)


def test_checkpoints_hold_the_average_and_the_state_the_raw_weights(items, tmp_path):
    list(train(TrainConfig(**TINY_L2, epochs=2, ema_decay=0.9), items, out_dir=tmp_path))
    saved = load_file(str(tmp_path / "last" / "model.safetensors"))
    raw = load_file(str(tmp_path / "last" / "training_state.safetensors"))
    raw = {
        key[len("weights/") :]: value for key, value in raw.items() if key.startswith("weights/")
    }
    assert set(raw) == set(saved)
    # After a few steps the average lags the training weights: they must differ.
    assert any(not np.array_equal(saved[key], raw[key]) for key in saved)
    progress = load_training_state(tmp_path / "last")
    assert progress["average_updates"] == progress["step"] > 0


def test_resume_continues_from_the_raw_weights_and_the_average(items, tmp_path):
    first = tmp_path / "first"
    list(train(TrainConfig(**TINY_L2, epochs=1, ema_decay=0.9), items, out_dir=first))
    events = list(
        train(
            TrainConfig(**TINY_L2, epochs=2, ema_decay=0.9),
            items,
            out_dir=tmp_path / "second",
            resume=first,
        )
    )
    assert [e.epoch for e in events if e.kind == "epoch_start"] == [2]
    progress = load_training_state(tmp_path / "second" / "last")
    assert progress["average_updates"] == progress["step"]
    assert progress["step"] > load_training_state(first / "last")["step"]


def test_without_averaging_no_raw_weights_are_stored(items, tmp_path):
    list(train(TrainConfig(**TINY_L2, epochs=1), items, out_dir=tmp_path))
    state = load_file(str(tmp_path / "last" / "training_state.safetensors"))
    assert not any(key.startswith("weights/") for key in state)


def test_stored_raw_weights_are_loaded_into_the_model(tmp_path):
    from napari_gst.engine.training_state import save_training_state

    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    optimiser = torch.optim.AdamW(source.parameters())
    save_training_state(tmp_path, optimiser, {"epoch": 1}, source.state_dict())
    load_training_state(tmp_path, torch.optim.AdamW(target.parameters()), target)
    assert torch.equal(target.weight, source.weight) and torch.equal(target.bias, source.bias)
    with pytest.raises(GSTError, match="do not fit"):
        load_training_state(tmp_path, None, nn.Linear(4, 2))


def test_a_uniform_average_is_the_mean_of_the_updates():
    model = nn.Linear(2, 1)
    average = WeightAverage(model, decay=None)
    seen = []
    for value in (1.0, 2.0, 6.0):
        with torch.no_grad():
            model.weight.fill_(value)
        average.update(model)
        seen.append(value)
    assert torch.allclose(average.model.weight, torch.full((1, 2), float(np.mean(seen))))
    assert average.updates == 3


@pytest.mark.parametrize("start", [1.0, -0.1, True, "half"])
def test_bad_average_start_is_refused(start):
    with pytest.raises(GSTError, match="average_from"):
        TrainConfig(average_from=start)


def test_both_averages_at_once_are_refused():
    with pytest.raises(GSTError, match="set one of them"):
        TrainConfig(ema_decay=0.99, average_from=0.5)


def test_the_uniform_average_starts_at_its_share_and_the_best_is_an_average(items, tmp_path):
    # 3 training images, batch 2: 2 steps an epoch, 8 in all; the average takes steps 5-8.
    config = TrainConfig(**TINY_L2, epochs=4, val_every=1, average_from=0.5)
    list(train(config, items, out_dir=tmp_path))
    progress = load_training_state(tmp_path / "last")
    assert progress["step"] == 8 and progress["average_updates"] == 4
    saved = load_file(str(tmp_path / "last" / "model.safetensors"))
    state = load_file(str(tmp_path / "last" / "training_state.safetensors"))
    assert any(not np.array_equal(saved[key], state["weights/" + key]) for key in saved)
    best = json.loads((tmp_path / "best" / "model.json").read_text())
    assert best["metrics"]["epoch"] >= 3  # chosen among the averages (epochs 3-4)


def test_resume_continues_a_uniform_average(items, tmp_path):
    first = tmp_path / "first"
    config = {**TINY_L2, "average_from": 0.0}
    list(train(TrainConfig(**config, epochs=1), items, out_dir=first))
    assert load_training_state(first / "last")["average_updates"] == 2
    list(train(TrainConfig(**config, epochs=2), items, out_dir=tmp_path / "second", resume=first))
    progress = load_training_state(tmp_path / "second" / "last")
    assert progress["average_updates"] == progress["step"] == 4


def test_a_run_stopped_before_the_average_starts_saves_the_raw_weights(items, tmp_path):
    list(train(TrainConfig(**TINY_L2, epochs=2, average_from=0.9), items, out_dir=tmp_path))
    state = load_file(str(tmp_path / "last" / "training_state.safetensors"))
    # 4 steps, the last at progress 0.75 < 0.9: no average, so no raw weights stored apart.
    assert not any(key.startswith("weights/") for key in state)


def test_averaging_leaves_the_training_weights_as_they_were(items, tmp_path):
    from napari_gst.models import EDGE_GAIN, OUTPUT_GAIN

    list(train(TrainConfig(**TINY_L2, epochs=2), items, out_dir=tmp_path / "plain"))
    list(train(TrainConfig(**TINY_L2, epochs=2, average_from=0.3), items, out_dir=tmp_path / "avg"))
    plain = load_file(str(tmp_path / "plain" / "last" / "model.safetensors"))
    state = load_file(str(tmp_path / "avg" / "last" / "training_state.safetensors"))
    for key, value in plain.items():
        if key not in (OUTPUT_GAIN, EDGE_GAIN):  # the saved model is calibrated, training not
            np.testing.assert_array_equal(state["weights/" + key], value)


def test_resume_from_a_state_saved_before_the_edge_gain(items, tmp_path):
    # Raw weights stored by a run before the edge_gain buffer existed still load.
    from safetensors.numpy import save_file

    first = tmp_path / "first"
    config = {**TINY_L2, "average_from": 0.0}
    list(train(TrainConfig(**config, epochs=1), items, out_dir=first))
    path = first / "last" / "training_state.safetensors"
    state = load_file(str(path))
    del state["weights/edge_gain"], state["weights/output_gain"]
    save_file(state, str(path))

    list(train(TrainConfig(**config, epochs=2), items, out_dir=tmp_path / "second", resume=first))
    assert load_training_state(tmp_path / "second" / "last")["step"] == 4
