"""train(): events, stop flag, checkpoints, resume, seeds, and every loss through the loop."""

import time

import numpy as np
import pytest
import torch
from engine_helpers import TINY
from safetensors.numpy import load_file

from napari_gst.data import make_cells_dataset
from napari_gst.engine import TrainConfig, load_checkpoint, train
from napari_gst.errors import GSTError


@pytest.fixture(scope="module")
def items():
    return make_cells_dataset(6, seed=3, shape=(48, 48))


def run(config, items, out_dir, **kwargs):
    return list(train(config, items, out_dir=out_dir, **kwargs))


def test_events_follow_the_documented_order(items, tmp_path):
    events = run(TrainConfig(**TINY, loss="l2", epochs=2), items, tmp_path)
    kinds = [event.kind for event in events]
    assert kinds[0] == "epoch_start" and kinds[-1] == "done"
    assert kinds.count("epoch_end") == 2 and "step" in kinds and "checkpoint" in kinds
    written = {event.path for event in events if event.kind == "checkpoint"}
    assert written == {str(tmp_path / "best"), str(tmp_path / "last")}
    ends = [event for event in events if event.kind == "epoch_end"]
    assert all(event.val_mae is not None and event.preview.shape == (24, 24) for event in ends)
    assert events[-1].device.startswith("cpu")
    assert load_checkpoint(tmp_path, task="count").metadata["metrics"]["epoch"] in (1, 2)


def test_previews_come_every_preview_every_epochs_and_after_the_last(items, tmp_path):
    def previewed(every, epochs=5):
        events = run(TrainConfig(**TINY, loss="l2", epochs=epochs), items, tmp_path / str(every),
                     preview_every=every)  # fmt: skip
        return [e.epoch for e in events if e.kind == "epoch_end" and e.preview is not None]

    assert previewed(1) == [1, 2, 3, 4, 5]
    assert previewed(2) == [2, 4, 5]  # and the last epoch, whatever its number
    assert previewed(0) == []  # callers that show none skip the forward pass


@pytest.mark.parametrize("every", [-1, 1.5, True, "2"])
def test_a_bad_preview_interval_is_refused_by_name(items, tmp_path, every):
    with pytest.raises(GSTError, match="preview_every"):
        run(TrainConfig(**TINY, loss="l2", epochs=1), items, tmp_path, preview_every=every)


def test_crops_per_image_draws_each_image_that_many_times_per_epoch(items, tmp_path):
    def steps(crops):
        config = TrainConfig(**{**TINY, "crops_per_image": crops}, loss="l2", epochs=1)
        events = run(config, items, tmp_path / str(crops))
        return events[-1].total_steps, events[-1].step

    (planned_one, done_one), (planned_three, done_three) = steps(1), steps(3)
    # 6 images, 3 held out for validation: 3 crops in batches of 2 -> 2 steps; 9 -> 5 steps.
    assert (planned_one, done_one) == (2, 2)
    assert (planned_three, done_three) == (5, 5)


def test_repeated_images_are_fresh_random_draws_with_the_datasets_methods():
    from napari_gst.data import DensityDataset
    from napari_gst.engine.loader import RepeatedImages

    images = make_cells_dataset(2, seed=1, shape=(64, 64))
    dataset = DensityDataset(images, crop_size=32, stride=2, use_kernel=False, seed=0)
    repeated = RepeatedImages(dataset, 3)
    assert len(repeated) == 6 and repeated.in_channels == dataset.in_channels
    crops = [repeated[index]["image"] for index in (0, 2, 4)]  # image 0, three times
    assert not torch.equal(crops[0], crops[1]) and not torch.equal(crops[1], crops[2])
    repeated.set_epoch(5)
    assert dataset.epoch == 5


def test_stop_flag_ends_within_a_second_and_keeps_the_checkpoint(items, tmp_path):
    stop_at = {}

    def should_stop():
        return "time" in stop_at

    config = TrainConfig(**TINY, loss="l2", epochs=50)
    for event in train(config, items, out_dir=tmp_path, should_stop=should_stop):
        if event.kind == "epoch_end" and event.epoch == 1:
            stop_at["time"] = time.perf_counter()
        last = event
    assert last.kind == "stopped" and last.epoch == 2
    assert time.perf_counter() - stop_at["time"] < 1.0
    kept = load_checkpoint(tmp_path / "last")
    assert kept.metadata["metrics"]["epoch"] == 1


def test_resume_continues_after_the_last_epoch(items, tmp_path):
    run(TrainConfig(**TINY, loss="l2", epochs=1), items, tmp_path / "first")
    events = run(
        TrainConfig(**TINY, loss="l2", epochs=3),
        items,
        tmp_path / "second",
        resume=tmp_path / "first",
    )
    starts = [event.epoch for event in events if event.kind == "epoch_start"]
    assert starts == [2, 3]
    steps = [event.step for event in events if event.kind == "step"]
    assert steps[0] > 1  # step numbering continues from the first run


def test_same_seed_gives_the_same_weights(items, tmp_path):
    for name in ("a", "b"):
        run(TrainConfig(**TINY, loss="l2", epochs=1, seed=7), items, tmp_path / name)
    first = load_file(str(tmp_path / "a" / "last" / "model.safetensors"))
    second = load_file(str(tmp_path / "b" / "last" / "model.safetensors"))
    assert all(np.array_equal(first[key], second[key]) for key in first)


def test_a_time_budget_that_does_not_bind_keeps_runs_reproducible(items, tmp_path):
    # The learning rate follows the clock only once the budget is seen to end the run; a
    # budget far above the run's length must not make two same-seed runs differ.
    for name in ("a", "b"):
        config = TrainConfig(**{**TINY, "max_minutes": 30.0}, loss="l2", epochs=3, seed=7)
        run(config, items, tmp_path / name)
    first = load_file(str(tmp_path / "a" / "last" / "model.safetensors"))
    second = load_file(str(tmp_path / "b" / "last" / "model.safetensors"))
    assert all(np.array_equal(first[key], second[key]) for key in first)
    assert load_checkpoint(tmp_path / "a" / "last").metadata["metrics"]["schedule"] == "steps"


def test_checkpoints_say_when_the_clock_led_the_schedule(items, tmp_path, monkeypatch):
    from napari_gst.engine import training

    def binds(self, steps_done, steps_left):
        self.time_led = True
        return True

    monkeypatch.setattr(training._Clock, "budget_binds", binds)
    config = TrainConfig(**{**TINY, "max_minutes": 30.0}, loss="l2", epochs=1)
    run(config, items, tmp_path)
    assert load_checkpoint(tmp_path / "last").metadata["metrics"]["schedule"] == "clock"


def test_the_clock_leads_the_schedule_only_once_the_budget_binds(monkeypatch):
    from napari_gst.engine import training

    clock = training._Clock(max_minutes=1.0)  # 60 s
    now = {"t": 0.0}
    monkeypatch.setattr(training._Clock, "elapsed", property(lambda self: now["t"]))
    # Slow start-up steps are skipped; then 0.1 s a step with 200 steps left: ends at ~33 s.
    for step in range(0, 200):
        now["t"] = 5.0 + 0.1 * step
        assert not clock.budget_binds(step, 300 - step)
    # The pace drops to 1 s a step: the projected end passes 95 % of the budget.
    now["t"] += 30.0
    assert clock.budget_binds(230, 70)
    now["t"] = 0.0
    assert clock.budget_binds(231, 69)  # once led by the clock, always
    assert not training._Clock(max_minutes=None).budget_binds(500, 10)


@pytest.mark.parametrize("loss", ["gst", "bayesian", "ot", "l2"])
def test_each_loss_trains_through_the_loop(items, tmp_path, loss):
    config = TrainConfig(
        **TINY,
        loss=loss,
        epochs=1,
        fit_options={"iterations": 10},
        cache_dir=str(tmp_path.parent / "shared-fits"),
    )
    events = run(config, items[:3], tmp_path)
    losses = [event.losses["loss"] for event in events if event.kind == "step"]
    assert losses and all(np.isfinite(losses))
    assert events[-1].kind == "done"


def test_bfloat16_runs_the_networks_forward_pass_only_in_bfloat16(items, tmp_path):
    # The output is bfloat16 inside the autocast (so it engaged), the loss and the saved
    # weights stay float32, and the run's weights differ from a float32 run's.
    from napari_gst.engine.session import open_session

    for name, precision in (("half", "bfloat16"), ("full", "float32")):
        config = TrainConfig(**TINY, loss="l2", epochs=2, seed=5, precision=precision)
        events = run(config, items, tmp_path / name)
        losses = [event.losses["loss"] for event in events if event.kind == "step"]
        assert losses and all(np.isfinite(losses))
    half = load_file(str(tmp_path / "half" / "last" / "model.safetensors"))
    full = load_file(str(tmp_path / "full" / "last" / "model.safetensors"))
    assert all(value.dtype == np.float32 for value in half.values())
    assert any(not np.array_equal(half[key], full[key]) for key in half)

    config = TrainConfig(**TINY, loss="l2", epochs=1, precision="bfloat16")
    opening = open_session(config, items, None, tmp_path / "s", None, lambda: False)
    try:
        while True:
            next(opening)
    except StopIteration as done:
        session = done.value
    try:
        images = next(iter(session.batches(1)))["image"]
        with session.forward_precision():
            assert session.model(images).dtype == torch.bfloat16
        assert session.model(images).dtype == torch.float32
        assert np.isfinite(session.train_step(next(iter(session.batches(1)))))
    finally:
        session.close()


def test_bfloat16_on_a_gpu_without_it_is_refused_by_name(monkeypatch):
    from napari_gst.engine import session

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    monkeypatch.setattr(session, "describe_device", lambda device: "cuda:0 (Old GPU)")
    with pytest.raises(GSTError, match="precision 'bfloat16'.*cuda:0 \\(Old GPU\\) does not"):
        session._check_precision("bfloat16", torch.device("cuda"))
    session._check_precision("float32", torch.device("cuda"))  # float32 runs anywhere
    session._check_precision("bfloat16", torch.device("cpu"))  # autocast on any CPU


def test_empty_training_set_is_refused(tmp_path):
    with pytest.raises(GSTError, match="empty"):
        run(TrainConfig(**TINY), [], tmp_path)


def test_resume_refuses_a_foreign_folder(items, tmp_path):
    (tmp_path / "model.json").write_text('{"format": "other"}')
    with pytest.raises(GSTError, match="not a napari-gst checkpoint"):
        run(TrainConfig(**TINY, loss="l2"), items, tmp_path / "out", resume=tmp_path)


def test_auto_validation_keeps_validation_to_a_twentieth_of_the_run(items, tmp_path, monkeypatch):
    import napari_gst.engine.training as training_module

    original = training_module._validate

    def slow_validation(session, gain):
        time.sleep(0.3)  # far longer than a tiny epoch
        return original(session, gain)

    monkeypatch.setattr(training_module, "_validate", slow_validation)
    config = TrainConfig(**{**TINY, "val_every": "auto"}, loss="l2", epochs=5)
    events = run(config, items, tmp_path)
    validated = [e.epoch for e in events if e.kind == "epoch_end" and e.val_mae is not None]

    assert validated == [1, 5]  # the first and the last; the rest would cost too much


def test_explicit_validation_interval_also_validates_the_first_and_last_epoch(items, tmp_path):
    config = TrainConfig(**{**TINY, "val_every": 2}, loss="l2", epochs=5)
    events = run(config, items, tmp_path)
    validated = [e.epoch for e in events if e.kind == "epoch_end" and e.val_mae is not None]

    assert validated == [1, 2, 4, 5]


@pytest.mark.parametrize("value", [0, "sometimes", 1.5, True])
def test_a_bad_validation_interval_is_named(value):
    with pytest.raises(GSTError, match='val_every must be a positive integer or "auto"'):
        TrainConfig(val_every=value)
