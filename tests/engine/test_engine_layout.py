"""The layout training runs in: channels-last on a CPU, the same arithmetic, plain weights."""

import pytest
import torch
from engine_helpers import TINY_L2
from safetensors.torch import load_file

from napari_gst.data import make_cells_dataset
from napari_gst.engine import TrainConfig, load_checkpoint, train
from napari_gst.engine.checkpoint import WEIGHTS
from napari_gst.engine.session import Session, memory_format
from napari_gst.errors import GSTError

_TRAIN_STEP = Session.train_step


@pytest.fixture(scope="module")
def items():
    return make_cells_dataset(5, seed=4, shape=(48, 48))


def test_channels_last_is_the_cpu_default_and_can_be_turned_off():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert memory_format(TrainConfig(), cpu) == torch.channels_last
    assert memory_format(TrainConfig(), cuda) == torch.contiguous_format
    assert memory_format(TrainConfig(channels_last=False), cpu) == torch.contiguous_format
    assert memory_format(TrainConfig(channels_last=True), cuda) == torch.channels_last


@pytest.mark.parametrize("value", ["yes", 1])
def test_a_bad_channels_last_is_refused_by_name(value):
    with pytest.raises(GSTError, match="channels_last"):
        TrainConfig(channels_last=value)


def _train_recording_layouts(monkeypatch, items, folder, **settings) -> set:
    """Train; return what (batch layout, conv weights channels-last) each step saw."""
    seen = set()

    def recording(session, batch):
        conv = next(p for p in session.model.parameters() if p.dim() == 4)
        seen.add((session.memory_format, conv.is_contiguous(memory_format=torch.channels_last)))
        return _TRAIN_STEP(session, batch)

    monkeypatch.setattr(Session, "train_step", recording)
    config = TrainConfig(**TINY_L2, epochs=3, loader_workers=0, **settings)
    list(train(config, items, out_dir=folder))
    return seen


def test_channels_last_trains_the_same_model_and_saves_plain_weights(monkeypatch, items, tmp_path):
    plain, last = tmp_path / "plain", tmp_path / "last"
    plain_seen = _train_recording_layouts(monkeypatch, items, plain, channels_last=False)
    last_seen = _train_recording_layouts(monkeypatch, items, last)
    assert plain_seen == {(torch.contiguous_format, False)}
    assert last_seen == {(torch.channels_last, True)}
    # The same float32 arithmetic in another order: the weights agree to rounding.
    plain_weights = load_checkpoint(plain / "last").model.state_dict()
    last_weights = load_checkpoint(last / "last").model.state_dict()
    for name, tensor in plain_weights.items():
        torch.testing.assert_close(last_weights[name], tensor, rtol=1e-3, atol=1e-4)
    # Stored in the plain layout, so any reader gets ordinary tensors.
    for tensor in load_file(str(last / "last" / WEIGHTS)).values():
        assert tensor.is_contiguous()
