"""``train``: the training loop as a generator of progress events, with stop flag and resume."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import Cancelled, GSTError
from . import distributed
from .calibration import CountGains, output_gain
from .checkpoint import save_checkpoint
from .config import TrainConfig
from .events import TrainEvent
from .session import Session, open_session
from .training_state import save_training_state

# An event per optimiser step would flood a widget on fast GPUs; steps closer together than
# this are merged (the last step of an epoch is always reported).
_STEP_EVENT_INTERVAL_S = 0.2
# A warm-up (config.warmup_fraction) starts at this share of the peak learning rate.
_WARMUP_START = 0.04
# val_every="auto": training time between validations, as a multiple of the last one's cost
# (19: validation takes about a twentieth of the run; at a tenth, VGG cells spent ~10 % of a
# 14-minute run validating and calibrating, and still validated every 5 seconds).
_AUTO_VALIDATION_RATIO = 19.0
# The learning rate follows the clock only where the time budget will end the run: the
# clock's share leads the steps' whenever a run is slow for a while (start-up, validations),
# and following it there made two runs with one seed end apart (VGG cells: own-image MAE
# 2.04 against 2.94; bench-accuracy.md, "Cells cut by the image's edge"). The pace that
# decides it skips the first steps (worker start-up, first validation) and needs some more;
# "binds" means a projected end past this share of the budget.
_PACE_SKIP_STEPS = 20
_PACE_MIN_STEPS = 100
_BINDING_SHARE = 0.95


class _Clock:
    """Elapsed time, the time budget, and ETA estimates of one run."""

    def __init__(self, max_minutes: float | None) -> None:
        self.start = time.perf_counter()
        self.budget_s = None if max_minutes is None else 60.0 * max_minutes
        self.time_led = False  # set once the budget is seen to bind; never unset
        self._pace_from: tuple[int, float] | None = None  # (step, elapsed) pace is timed from

    def budget_binds(self, steps_done: int, steps_left: int) -> bool:
        """Return whether the time budget, not the step count, will end the run.

        Judged from the pace of the steps after the first :data:`_PACE_SKIP_STEPS` (which
        carry start-up costs) once :data:`_PACE_MIN_STEPS` more have run; until then, and
        for every run that ends well inside its budget, the schedule follows the steps alone,
        so two runs with one seed train alike. Once set, it stays set.
        """
        if self.time_led or self.budget_s is None:
            return self.time_led
        if steps_done == _PACE_SKIP_STEPS:
            self._pace_from = (steps_done, self.elapsed)
        if self._pace_from is None or steps_done < _PACE_SKIP_STEPS + _PACE_MIN_STEPS:
            return False
        first_step, first_time = self._pace_from
        pace = (self.elapsed - first_time) / (steps_done - first_step)
        self.time_led = self.elapsed + pace * steps_left > _BINDING_SHARE * self.budget_s
        return self.time_led

    @property
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.start

    def out_of_time(self) -> bool:
        """Return True once the time budget is spent."""
        return self.budget_s is not None and self.elapsed >= self.budget_s

    def eta(self, done: int, total: int) -> float | None:
        """Return the estimated seconds left after ``done`` of ``total`` steps."""
        if done <= 0:
            return None
        left = self.elapsed / done * max(total - done, 0)
        if self.budget_s is not None:
            left = min(left, max(self.budget_s - self.elapsed, 0.0))
        return left


def _learning_rate(config: TrainConfig, progress: float) -> float:
    """Return the learning rate at ``progress`` in [0, 1]: linear warm-up, then cosine decay
    to ``config.lr_floor`` times the peak."""
    # Progress is the step fraction, or the time fraction where the budget binds
    # (``_progress``), so a run cut short by max_minutes still anneals before it ends.
    progress, peak, warmup = min(progress, 1.0), config.learning_rate, config.warmup_fraction
    if progress < warmup:
        return peak * (_WARMUP_START + (1 - _WARMUP_START) * progress / warmup)
    floor = config.lr_floor * peak
    annealed = (progress - warmup) / (1 - warmup)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * annealed))


def _progress(session: Session, clock: _Clock) -> float:
    """Return the share of the run done: the step fraction, or the time fraction if larger
    once the time budget is seen to bind (``_Clock.budget_binds``)."""
    progress = max(session.step / session.total_steps, 0.0)
    steps_done = session.step - session.first_step
    if clock.budget_binds(steps_done, session.total_steps - session.step):
        progress = max(progress, clock.elapsed / clock.budget_s)
    return progress


def _seed(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators."""
    import random

    random.seed(seed)
    # Code outside the engine may still draw from numpy's legacy global generator.
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)


def _event(session: Session, clock: _Clock, kind: str, **values) -> TrainEvent:
    """Return an event stamped with elapsed time and device."""
    return TrainEvent(
        kind=kind,
        elapsed_s=clock.elapsed,
        device=session.device_label,
        metric=session.task.metric,
        **values,
    )


def _run_epoch(
    session: Session, clock: _Clock, epoch: int, stop: Callable[[], bool]
) -> Iterator[TrainEvent]:
    """Train one epoch, yielding step events; sets ``session.stopped``/``out_of_time``."""
    model, config = session.model, session.config
    model.train()
    totals: dict[str, float] = {}
    steps, last_report = 0, 0.0
    # Datasets whose targets change over the run (the landmark kernel schedule) follow the
    # learning rate's clock: each batch is built at the progress its step's rate uses.
    set_progress = getattr(session.loader.dataset, "set_progress", None)
    if set_progress is not None:
        set_progress(_progress(session, clock))
    for batch in session.batches(epoch):
        if distributed.any_rank(stop(), session.device):
            session.stopped = True
            return
        if distributed.any_rank(clock.out_of_time(), session.device):
            session.out_of_time = True
            break
        progress = _progress(session, clock)
        for group in session.optimiser.param_groups:
            group["lr"] = _learning_rate(config, progress)
        loss = session.train_step(batch)
        session.update_average(progress)
        steps += 1
        session.step += 1
        if set_progress is not None:
            set_progress(_progress(session, clock))  # for the next batch
        totals["loss"] = totals.get("loss", 0.0) + loss
        now = clock.elapsed
        if now - last_report >= _STEP_EVENT_INTERVAL_S or steps == session.steps_per_epoch:
            last_report = now
            yield _event(
                session,
                clock,
                "step",
                epoch=epoch,
                step=session.step,
                total_steps=session.total_steps,
                losses={key: value / steps for key, value in totals.items()},
                eta_s=clock.eta(
                    session.step - session.first_step, session.total_steps - session.first_step
                ),
            )
    session.epoch_losses = {key: value / max(steps, 1) for key, value in totals.items()}


def _validate(session: Session, gain: CountGains | None) -> float:
    """Return the task's selection metric (MAE, MRE) on the validation (else training) images.

    Validation images are scored with the training images' ``gain``; without them, the
    training images are scored by ``Task.score_training`` (each counted with the gain of
    the others: a gain measured on the images it scores would flatter them).
    """
    model, device, normalisation = session.predictive_model, session.device, session.normalisation
    if not session.val_items:
        return session.task.score_training(model, session.train_items, device, normalisation)
    with output_gain(model, gain):
        return session.task.score(model, session.val_items, device, normalisation)


def _preview(session: Session) -> np.ndarray:
    """Return the predicted (h, w) density of the first validation (or training) image."""
    item = (session.val_items or session.train_items)[0]
    return session.task.preview(
        session.predictive_model, item, session.device, session.normalisation
    )


def _save(
    session: Session, epoch: int, val_mae: float, gain: CountGains | None, time_led: bool
) -> list[str]:
    """Write ``last`` (+ training state) and, if improved, ``best``; return the folders.

    The metrics say whether the clock led the learning rate so far ("schedule": "clock")
    or the steps alone did ("steps": a run that another with its seed repeats exactly).
    """
    metadata = session.metadata(epoch=epoch, val_mae=val_mae)
    if gain is not None:
        metadata["metrics"]["count_gain"] = gain.count
        metadata["metrics"]["edge_gain"] = gain.edge
    metadata["metrics"]["schedule"] = "clock" if time_led else "steps"
    model = session.predictive_model
    written = [str(save_checkpoint(session.out_dir / "last", model, metadata))]
    improved = val_mae < session.best_mae
    if improved:
        session.best_mae = val_mae
        written.append(str(save_checkpoint(session.out_dir / "best", model, metadata)))
    progress = {"epoch": epoch, "step": session.step, "best_mae": session.best_mae}
    if session.average is not None:
        progress["average_updates"] = session.average.updates
    save_training_state(
        session.out_dir / "last", session.optimiser, progress, session.raw_weights()
    )
    return written


def _should_validate(session: Session, clock: _Clock, epoch: int, last: bool) -> bool:
    """Return whether to validate and checkpoint after ``epoch`` (see ``val_every``)."""
    every = session.config.val_every
    if last or epoch == session.first_epoch:
        return True
    if every == "auto":
        since = clock.elapsed - session.last_validation_end
        return since >= _AUTO_VALIDATION_RATIO * session.last_validation_s
    return epoch % every == 0


def _wants_preview(epoch: int, preview_every: int, last: bool) -> bool:
    """Return whether the end of ``epoch`` carries a preview (see ``train``)."""
    return preview_every > 0 and (last or epoch % preview_every == 0)


def _finish_epoch(
    session: Session, clock: _Clock, epoch: int, preview_every: int
) -> Iterator[TrainEvent]:
    """Validate, checkpoint (rank 0 only) and report the end of an epoch."""
    last = epoch == session.config.epochs or session.out_of_time
    val_mae = None
    if distributed.rank() == 0 and _should_validate(session, clock, epoch, last):
        started = clock.elapsed
        # Counting models are validated and saved calibrated (engine/calibration.py); the
        # gain is undone afterwards, so training always sees the raw density.
        model = session.predictive_model
        gain = session.task.calibration(
            model, session.train_items, session.device, session.normalisation
        )
        val_mae = _validate(session, gain)
        with output_gain(model, gain):
            written = _save(session, epoch, val_mae, gain, clock.time_led)
        session.last_validation_end = clock.elapsed
        session.last_validation_s = session.last_validation_end - started
        for folder in written:
            yield _event(
                session,
                clock,
                "checkpoint",
                epoch=epoch,
                step=session.step,
                val_mae=val_mae,
                message=f"wrote {folder}",
                path=folder,
            )
    distributed.barrier()
    yield _event(
        session,
        clock,
        "epoch_end",
        epoch=epoch,
        step=session.step,
        total_steps=session.total_steps,
        losses=dict(session.epoch_losses),
        val_mae=val_mae,
        eta_s=clock.eta(
            session.step - session.first_step, session.total_steps - session.first_step
        ),
        preview=(
            _preview(session)
            if distributed.rank() == 0 and _wants_preview(epoch, preview_every, last)
            else None
        ),
    )


def train(
    config: TrainConfig,
    train_items: Sequence,
    val_items: Sequence | None = None,
    *,
    out_dir: str | Path,
    resume: str | Path | None = None,
    should_stop: Callable[[], bool] | None = None,
    preview_every: int = 1,
) -> Iterator[TrainEvent]:
    """Train a counting or landmark network, yielding progress events into ``out_dir``.

    Parameters
    ----------
    config : the training settings (``config.task`` picks counting or landmarks).
    train_items : annotated images (``napari_gst.data.AnnotatedImage``); for landmarks each
        point is labelled with its landmark's name or index.
    val_items : validation images; None holds out ``config.val_fraction`` of the training
        images (or, with too few images, selects the best model by training MAE).
    out_dir : model folder: ``best/`` (lowest validation MAE, or MRE for landmarks) and
        ``last/`` (latest epoch, with the optimiser state for ``resume``).
    resume : a model folder written by an earlier run: continue after its last epoch.
    should_stop : polled between steps (at least once a second); True ends the run with a
        "stopped" event and leaves the checkpoints of the last finished epoch in place.
    preview_every : "epoch_end" events carry a ``preview`` density every this many epochs
        and after the last one (0: never). A preview is a forward pass over a whole image:
        on VGG cells, previews at every epoch cost 4 % of the training time, so callers
        that show none (the CLI, benchmarks) pass 0.

    Yields
    ------
    TrainEvent
        "fitting" while Gaussian fits are prepared, then per epoch "epoch_start", "step"...,
        "checkpoint", "epoch_end" (with ``val_mae``, the task's selection metric named by
        ``metric``, and a ``preview`` density), and finally
        "done" or "stopped".

    Examples
    --------
    >>> for event in train(TrainConfig(epochs=5), items, out_dir="runs/cells"):  # doctest: +SKIP
    ...     print(event.kind, event.epoch, event.losses)
    """
    if isinstance(preview_every, bool) or not isinstance(preview_every, int) or preview_every < 0:
        raise GSTError(
            f"preview_every must be an integer >= 0 (0: no previews), got {preview_every!r}"
        )
    stop = should_stop or (lambda: False)
    _seed(config.seed)
    try:
        session = yield from open_session(config, train_items, val_items, out_dir, resume, stop)
    except Cancelled:
        yield TrainEvent(kind="stopped", message="stopped while fitting Gaussians")
        return
    # max_minutes budgets the training itself: the Gaussian fits before it are a one-off
    # cost (cached for later runs), reported by the "fitting" events.
    try:
        yield from _run_epochs(session, _Clock(config.max_minutes), stop, preview_every)
    finally:
        session.close()


def _run_epochs(
    session: Session, clock: _Clock, stop: Callable[[], bool], preview_every: int
) -> Iterator[TrainEvent]:
    """Run the epochs of a prepared session; end with a "done" or "stopped" event."""
    epoch = session.first_epoch - 1
    for epoch in range(session.first_epoch, session.config.epochs + 1):
        yield _event(
            session,
            clock,
            "epoch_start",
            epoch=epoch,
            step=session.step,
            total_steps=session.total_steps,
        )
        yield from _run_epoch(session, clock, epoch, stop)
        if session.stopped:
            message = f"stopped; checkpoints of epoch {epoch - 1} kept in {session.out_dir}"
            yield _event(session, clock, "stopped", epoch=epoch, step=session.step, message=message)
            return
        yield from _finish_epoch(session, clock, epoch, preview_every)
        if session.out_of_time:
            break
    if not math.isfinite(session.best_mae) and distributed.rank() == 0:
        raise GSTError("training ended before any epoch finished: raise epochs or max_minutes")
    yield _event(
        session,
        clock,
        "done",
        epoch=epoch,
        step=session.step,
        total_steps=session.total_steps,
        val_mae=session.best_mae,
        message=(
            f"best validation {session.task.metric} {session.best_mae:.3f}; "
            f"model in {session.out_dir}"
        ),
    )
