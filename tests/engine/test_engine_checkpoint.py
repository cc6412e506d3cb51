"""Checkpoints: round trip, atomic writes, and refusal of corrupt, foreign or other-task files."""

import hashlib
import json

import pytest
import torch

from napari_gst.engine.checkpoint import load_checkpoint, save_checkpoint
from napari_gst.errors import GSTError
from napari_gst.models import build_model, describe_model


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model("unet", 1, 1, stride=4, width=4, depth=2)


@pytest.fixture
def saved(tmp_path, model):
    metadata = {
        "model": describe_model(model),
        "task": "count",
        "stride": 4,
        "normalisation": {"method": "dtype"},
        "metrics": {"val_mae": 1.5},
    }
    return save_checkpoint(tmp_path / "best", model, metadata)


def test_round_trip_restores_identical_outputs(saved, model):
    loaded = load_checkpoint(saved, task="count")
    image = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(image), model.eval()(image))
    assert loaded.stride == 4 and loaded.metadata["metrics"]["val_mae"] == 1.5


def test_training_folder_resolves_to_best(saved):
    assert load_checkpoint(saved.parent).path == saved


def test_writes_leave_no_temporary_files(saved, model):
    save_checkpoint(saved, model, json.loads((saved / "model.json").read_text()))
    assert sorted(p.name for p in saved.iterdir()) == ["model.json", "model.safetensors"]


def test_corrupt_weights_are_refused(saved):
    weights = saved / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(GSTError, match="corrupt"):
        load_checkpoint(saved)


def test_foreign_json_is_refused(saved):
    (saved / "model.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(GSTError, match="not a napari-gst checkpoint"):
        load_checkpoint(saved)


def test_pickle_weights_are_refused_without_unpickling(saved, model):
    # Even with a matching hash, a pickle is never unpickled: safetensors cannot parse it.
    weights = saved / "model.safetensors"
    torch.save(model.state_dict(), weights)
    metadata = json.loads((saved / "model.json").read_text())
    metadata["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    (saved / "model.json").write_text(json.dumps(metadata))
    with pytest.raises(GSTError, match="not a readable safetensors file"):
        load_checkpoint(saved)


def test_invalid_json_is_refused(saved):
    (saved / "model.json").write_text("not json at all")
    with pytest.raises(GSTError, match="not valid JSON"):
        load_checkpoint(saved)


def test_other_task_is_refused(saved):
    with pytest.raises(GSTError, match="task 'count', not 'landmarks'"):
        load_checkpoint(saved, task="landmarks")


def test_missing_folder_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "nowhere")
