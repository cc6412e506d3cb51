"""The training loader: epoch-tagged sampling, a worker process with the same batches, fallback."""

import subprocess
import sys
import textwrap
import time

import pytest
import torch
from engine_helpers import TINY
from torch.utils.data import RandomSampler

from napari_gst.data import make_cells_dataset
from napari_gst.engine import TrainConfig, load_checkpoint, train
from napari_gst.engine import loader as loader_module
from napari_gst.engine.loader import EpochAware, EpochBatches, EpochSampler, loader_workers
from napari_gst.errors import GSTError


@pytest.fixture(scope="module")
def items():
    return make_cells_dataset(6, seed=3, shape=(48, 48))


def weights(folder):
    return load_checkpoint(folder / "last").model.state_dict()


def test_a_worker_process_trains_the_same_weights_as_the_training_process(items, tmp_path):
    # The GST loss: every batch carries its crops' transport kernels from the worker.
    settings = {**TINY, "loss": "gst", "epochs": 3, "crops_per_image": 2}
    here, worker = tmp_path / "here", tmp_path / "worker"
    list(train(TrainConfig(**settings, loader_workers=0), items, out_dir=here))
    list(train(TrainConfig(**settings, loader_workers=1), items, out_dir=worker))
    for name, tensor in weights(here).items():
        assert torch.equal(tensor, weights(worker)[name]), name


def test_the_sampler_tags_indices_with_the_epoch_and_the_dataset_follows_it():
    class Recorder:
        epoch = 0

        def set_epoch(self, epoch):
            self.epoch = epoch

        def __len__(self):
            return 3

        def __getitem__(self, index):
            return (self.epoch, index)

    sampler = EpochSampler(range(3))
    sampler.set_epoch(4)
    keys = list(sampler)
    assert keys == [(4, 0), (4, 1), (4, 2)] and len(sampler) == 3
    dataset = EpochAware(Recorder())
    assert [dataset[key] for key in keys] == keys
    assert dataset.epoch == 4  # other attributes are the wrapped dataset's


def test_auto_uses_a_worker_only_where_it_pays(monkeypatch):
    class Counting:
        pass

    class Scheduled:
        def set_progress(self, progress):
            pass

    monkeypatch.setattr(loader_module, "available_cores", lambda: 2)
    long_run = TrainConfig(epochs=100)
    assert loader_workers(long_run, Counting(), steps_per_epoch=10) == 1
    assert loader_workers(TrainConfig(epochs=2), Counting(), steps_per_epoch=10) == 0
    assert loader_workers(long_run, Scheduled(), steps_per_epoch=10) == 0
    assert loader_workers(TrainConfig(epochs=2, loader_workers=2), Counting(), 10) == 2
    monkeypatch.setattr(loader_module, "available_cores", lambda: 1)
    assert loader_workers(long_run, Counting(), steps_per_epoch=10) == 0


@pytest.mark.parametrize("value", [-1, "two", True, 1.5])
def test_bad_loader_workers_are_refused_by_name(value):
    with pytest.raises(GSTError, match="loader_workers"):
        TrainConfig(loader_workers=value)


def test_landmark_runs_refuse_a_worker_process():
    landmarks = {"names": ["tip"]}
    with pytest.raises(GSTError, match="loader_workers must be 0"):
        TrainConfig(task="landmarks", landmarks=landmarks, loss="l2", loader_workers=1)
    TrainConfig(task="landmarks", landmarks=landmarks, loss="l2", loader_workers=0)


def test_the_stop_flag_ends_a_run_with_a_worker_within_a_second(items, tmp_path):
    stop_at = {}
    config = TrainConfig(**TINY, loss="l2", epochs=50, loader_workers=1)
    for event in train(config, items, out_dir=tmp_path, should_stop=lambda: "time" in stop_at):
        if event.kind == "epoch_end" and event.epoch == 1:
            stop_at["time"] = time.perf_counter()
        last = event
    assert last.kind == "stopped"
    assert time.perf_counter() - stop_at["time"] < 1.0
    assert load_checkpoint(tmp_path / "last").metadata["metrics"]["epoch"] == 1


def test_a_script_read_from_stdin_falls_back_to_batches_built_in_process(tmp_path):
    # A spawned worker re-imports __main__, which a script on stdin cannot give it.
    script = textwrap.dedent(
        f"""
        from napari_gst.data import make_cells_dataset
        from napari_gst.engine import TrainConfig, train
        settings = {TINY!r}
        config = TrainConfig(**settings, loss="l2", epochs=2, loader_workers=1)
        events = list(train(config, make_cells_dataset(6, seed=3, shape=(48, 48)),
                            out_dir={str(tmp_path)!r}))
        print("LAST", events[-1].kind, events[-1].step)
        """
    )
    done = subprocess.run(
        [sys.executable, "-"], input=script, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "LAST done 4" in done.stdout
    assert "worker process failed to start" in done.stderr


def test_one_stream_of_epochs_gives_each_epoch_s_batches_in_order():
    def sampler():
        return EpochSampler(RandomSampler(range(5), generator=torch.Generator().manual_seed(7)))

    per_epoch, epochs = [], sampler()
    for epoch in (2, 3, 4):
        epochs.set_epoch(epoch)
        keys = list(epochs)
        per_epoch += [keys[0:2], keys[2:4], keys[4:5]]  # the last batch of an epoch is short
    streamed = EpochBatches(sampler(), batch_size=2, first=2, last=4)
    assert list(streamed) == per_epoch and len(streamed) == 9
    assert {key[0] for batch in per_epoch[3:6] for key in batch} == {3}
