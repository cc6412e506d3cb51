"""Weight averaging (``ema_decay``): the average is what is validated, saved and resumed."""

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
    assert progress["ema_updates"] == progress["step"] > 0


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
    assert progress["ema_updates"] == progress["step"]
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
