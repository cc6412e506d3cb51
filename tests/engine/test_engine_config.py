"""TrainConfig: JSON round trip and messages that name the bad setting."""

import json

import pytest
import torch

from napari_gst.devices import resolve_device
from napari_gst.engine.config import TrainConfig
from napari_gst.errors import GSTError


def test_config_round_trips_through_json(tmp_path):
    config = TrainConfig(loss="l2", epochs=3, scale_range=(0.8, 1.2), sigma_range=(4, 10))
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config.to_dict()))
    assert TrainConfig.from_json(path) == config


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"loss": "mse"}, "loss"),
        ({"epochs": 0}, "epochs"),
        ({"crops_per_image": 0}, "crops_per_image"),
        ({"crop_size": 1.5}, "crop_size"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"scale_range": (1.2, 0.8)}, "scale_range"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"device": "tpu"}, "device"),
        ({"normalisation": {"method": "zscore"}}, "normalisation method"),
        ({"normalisation": {"gamma": 2}}, "normalisation spec has unknown keys"),
        ({"normalisation": "dtype"}, "normalisation must be a dict"),
        ({"kernel_options": {"gamma": 1}}, "unknown kernel_options gamma"),
        ({"kernel_options": {"beta": 0}}, "beta"),
        ({"kernel_options": {"background": "no"}}, "background"),
        ({"kernel_options": {"crop_mass": "middle"}}, "crop_mass"),
        ({"transpose": "yes"}, "transpose must be true or false"),
        ({"precision": "float16"}, "precision must be one of float32, bfloat16"),
        (
            {"transpose": True, "task": "landmarks", "landmarks": {"names": ["tip"]}},
            "transpose is for counting",
        ),
    ],
)
def test_bad_settings_name_the_setting(settings, named):
    with pytest.raises(GSTError, match=named):
        TrainConfig(**settings)


def test_crops_default_to_the_tasks_own_and_explicit_values_win():
    counting = TrainConfig()
    assert (counting.batch_size, counting.crop_size, counting.crops_per_image) == (16, 64, 4)
    landmarks = TrainConfig(task="landmarks", landmarks={"names": ["tip"]})
    assert (landmarks.batch_size, landmarks.crop_size, landmarks.crops_per_image) == (4, 128, 1)
    explicit = TrainConfig(batch_size=2, crop_size=96, crops_per_image=1)
    assert (explicit.batch_size, explicit.crop_size, explicit.crops_per_image) == (2, 96, 1)
    # A stored config keeps the values it was filled with.
    assert TrainConfig.from_dict(counting.to_dict()) == counting


def test_unknown_settings_are_refused():
    with pytest.raises(GSTError, match="unknown training setting.*colour"):
        TrainConfig.from_dict({"colour": "red"})


def test_auto_device_is_cuda_only_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(GSTError, match="no CUDA"):
            resolve_device("cuda")


def test_normalisation_setting_reaches_the_checkpoint(tmp_path):
    from napari_gst.data import make_cells_dataset
    from napari_gst.engine import load_checkpoint, train

    config = TrainConfig(
        loss="l2",
        epochs=1,
        model_options={"width": 4, "depth": 2},
        stride=2,
        crop_size=32,
        device="cpu",
        max_minutes=None,
        normalisation={"method": "dtype"},
    )
    list(train(config, make_cells_dataset(4, seed=1, shape=(40, 40)), out_dir=tmp_path))
    assert load_checkpoint(tmp_path / "best").normalisation["method"] == "dtype"


def test_kernel_options_reach_the_kernel_builder():
    from napari_gst.engine.tasks import _kernel_kwargs

    config = TrainConfig(
        kernel_options={"beta": 0.005, "background_distance": 2.0}, sigma_range=(3, 9)
    )
    assert _kernel_kwargs(config) == {
        "beta": 0.005,
        "background_distance": 2.0,
        "sigma_range": (3.0, 9.0),
    }


def test_crop_rule_reaches_the_dataset_not_the_kernel_builder(tmp_path):
    from napari_gst.data import Normalisation, make_cells_dataset
    from napari_gst.engine.tasks import CountTask, _kernel_kwargs

    config = TrainConfig(kernel_options={"beta": 0.005, "crop_mass": "centre"})
    assert _kernel_kwargs(config) == {"beta": 0.005}
    items = make_cells_dataset(1, seed=0, shape=(32, 32))
    dataset = CountTask(config).dataset(items, Normalisation(), 4, tmp_path, seed=0)
    assert dataset.crop_mass == "centre" and dataset.kernel_kwargs == {"beta": 0.005}


def test_transpose_reaches_the_dataset(tmp_path):
    from napari_gst.data import Normalisation, make_cells_dataset
    from napari_gst.engine.tasks import CountTask

    items = make_cells_dataset(1, seed=0, shape=(32, 32))
    for loss in ("gst", "l2"):
        config = TrainConfig(loss=loss, transpose=True)
        assert CountTask(config).dataset(items, Normalisation(), 4, tmp_path, seed=0).transpose
    assert not TrainConfig().transpose
