"""Set-up of one training run: data split, network, loss, data loader, optimiser, resume."""

from __future__ import annotations

import math
import os
import queue
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ..devices import describe_device, resolve_device
from ..errors import GSTError
from . import distributed
from .calibration import reset_output_gain
from .checkpoint import load_checkpoint, read_metadata, unwrap
from .config import TrainConfig
from .ema import WeightAverage
from .events import TrainEvent
from .loader import (
    end_stream,
    in_process,
    is_worker_start_failure,
    make_loader,
    stream,
    unpiped,
)
from .split import hold_out
from .tasks import Task, make_task
from .training_state import load_training_state

# Fit images in worker processes from this many images on (see _prepare_fits).
_PARALLEL_FIT_IMAGES = 12


@dataclass
class Session:
    """Everything one training run works with; mutated as it goes."""

    config: TrainConfig
    task: Task
    model: nn.Module
    loss: nn.Module
    optimiser: torch.optim.Optimizer
    loader: DataLoader
    device: torch.device
    normalisation: object
    train_items: list
    val_items: list
    out_dir: Path
    split_note: str
    # The weight average that is validated and saved (ema_decay: from the start;
    # average_from: created once the run gets there).
    average: WeightAverage | None = None
    # With a loader worker: the batches of the run's epochs as one stream (see batches()),
    # and the epoch it is at.
    _stream: Iterator | None = field(default=None, repr=False)
    _stream_epoch: int = 0
    first_epoch: int = 1
    step: int = 0
    first_step: int = 0
    best_mae: float = math.inf
    stopped: bool = False
    out_of_time: bool = False
    epoch_losses: dict = field(default_factory=dict)
    # When the last validation ended and how long it took (seconds on the run's clock).
    last_validation_end: float = 0.0
    last_validation_s: float = 0.0

    @property
    def device_label(self) -> str:
        """The device in words, with the number of processes when distributed."""
        label = describe_device(self.device)
        size = distributed.world_size()
        return f"{label} x {size} processes" if size > 1 else label

    @property
    def predictive_model(self) -> nn.Module:
        """The weights that are validated, saved and predicted with: the average, if kept."""
        return self.average.model if self.average is not None else unwrap(self.model)

    def raw_weights(self) -> dict[str, torch.Tensor] | None:
        """The training weights to store for resuming, when the checkpoint holds the average."""
        return None if self.average is None else unwrap(self.model).state_dict()

    @property
    def total_steps(self) -> int:
        """Optimiser steps of the whole run (all epochs)."""
        return self.config.epochs * self.steps_per_epoch

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps (batches) of one epoch."""
        return len(self.loader)

    def _end_stream(self) -> None:
        """End the stream of batches and its worker."""
        if self._stream is not None:
            batches, self._stream = self._stream, None
            end_stream(batches)

    def close(self) -> None:
        """End the loader's worker process now; later batches are built in this process."""
        self._end_stream()
        if self.loader.num_workers > 0:
            self.loader = in_process(self.loader)

    def batches(self, epoch: int) -> Iterator[dict]:
        """Yield the batches of ``epoch`` (epochs are asked for in order).

        The sampler tags every index with the epoch (``napari_gst.engine.loader``), so the
        crops, scales and flips are drawn per (seed, epoch, image), also in a loader
        worker's copy of the dataset. With a worker, the epochs are read from one stream
        that runs ahead across epoch ends. An unguarded script never gets a worker
        (``make_loader`` asks ``napari_gst._spawn``); a worker that still dies before its
        first batch (a script read from stdin, which it cannot re-import) makes the
        batches be built here instead.
        """
        if self.loader.num_workers == 0:
            self.loader.sampler.set_epoch(epoch)
            yield from self.loader
            return
        if self._stream is None or self._stream_epoch != epoch:  # new, or left mid-epoch
            self._end_stream()
            self._stream = iter(stream(self.loader, epoch, self.config.epochs))
            self._stream_epoch = epoch
        try:
            first = next(self._stream)
        except RuntimeError as error:
            if not is_worker_start_failure(error):
                raise
            warnings.warn(
                "the data loader's worker process failed to start; building batches in "
                "this process instead (guard your script with `if __name__ == '__main__':`)",
                RuntimeWarning,
                stacklevel=2,
            )
            self.close()
            yield from self.batches(epoch)
            return
        yield unpiped(first)
        for _ in range(self.steps_per_epoch - 1):
            yield unpiped(next(self._stream))
        self._stream_epoch = epoch + 1

    def train_step(self, batch: dict) -> float:
        """Run one optimiser step on a collated batch; return the loss value."""
        images = batch["image"].to(self.device, non_blocking=True)
        with self.forward_precision():
            density = self.model(images)
        loss = self.loss(density.float(), batch["target"])
        if not torch.isfinite(loss):
            raise GSTError(
                f"the {self.config.loss} loss became {loss.item()}: lower the learning rate"
            )
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        return float(loss.detach())

    def forward_precision(self) -> torch.autocast:
        """Return the autocast context of a training forward pass (``config.precision``).

        Only the network runs in bfloat16; its output is cast back, so that the loss (a
        sparse product for GST, iterations for OT) and the weights' update stay float32.
        """
        return torch.autocast(
            device_type=self.device.type,
            dtype=torch.bfloat16,
            enabled=self.config.precision == "bfloat16",
        )

    def update_average(self, progress: float) -> None:
        """Fold the weights after a step into the average, starting a uniform one once
        ``progress`` reaches ``config.average_from``.

        The best model is then chosen among the averages only: a raw model scored before
        the average started would otherwise stay "best" on the noise of a few images.
        """
        if self.average is None:
            start = self.config.average_from
            if start is None or progress < start:
                return
            self.average = WeightAverage(unwrap(self.model), None)
            self.best_mae = math.inf
        self.average.update(unwrap(self.model))

    def metadata(self, *, epoch: int, val_mae: float) -> dict:
        """Return the checkpoint description for the current weights.

        ``val_mae`` is the task's selection metric (MAE for counting, MRE for landmarks);
        it is stored under ``metrics["val_mae"]`` or ``metrics["val_mre"]``.
        """
        from ..models import describe_model

        model = self.predictive_model
        return {
            "model": describe_model(model),
            "task": self.config.task,
            "stride": int(model.stride),
            "normalisation": self.normalisation.to_dict(),
            "loss": self.config.loss,
            "training": self.config.to_dict(),
            "metrics": {
                "epoch": epoch,
                f"val_{self.task.metric.lower()}": val_mae,
                "selection": "validation" if self.val_items else "training",
                "n_train": len(self.train_items),
                "n_val": len(self.val_items),
            },
            "landmarks": self.config.landmarks,
        }


def _channels(items: Sequence) -> int:
    """Return the number of image channels shared by all items, or raise naming the odd one."""
    counts = {
        int(np.asarray(item.image).shape[2]) if np.ndim(item.image) == 3 else 1: item.name
        for item in items
    }
    if len(counts) != 1:
        raise GSTError(
            f"images have different numbers of channels: {sorted(counts)} "
            f"(e.g. {', '.join(counts.values())})"
        )
    return next(iter(counts))


def _build_model(
    config: TrainConfig, task: Task, in_channels: int, resume: Path | None
) -> nn.Module:
    """Return the network: rebuilt with its weights when resuming, else freshly initialised."""
    if resume is not None:
        model = load_checkpoint(
            resume / "last" if (resume / "last").is_dir() else resume, task=config.task
        ).model
        reset_output_gain(model)  # the checkpoint is calibrated; training is not
        return model
    from ..models import build_model

    options = dict(config.model_options)
    if config.stride is not None:
        options["stride"] = config.stride
    return build_model(config.model, in_channels, task.out_channels(), **options)


def _dataset(
    task: Task,
    items: list,
    normalisation: object,
    stride: int,
    cache_dir: Path,
    stop: Callable[[], bool],
) -> Iterator[TrainEvent]:
    """Return the task's augmented training dataset; fits its Gaussians first, yielding progress."""
    seed = task.config.seed + distributed.rank()
    dataset = task.dataset(items, normalisation, stride, cache_dir, seed)
    if task.needs_fits():
        yield from _prepare_fits(dataset, len(items), stop)
    return dataset


def _prepare_fits(dataset, total: int, stop: Callable[[], bool]) -> Iterator[TrainEvent]:
    """Run ``dataset.prepare`` in a thread, yielding a "fitting" event per finished image."""
    # prepare() blocks (and may use worker processes); a thread lets this generator report
    # progress meanwhile, and the stop flag is passed through so it ends within a second.
    updates: queue.Queue[int] = queue.Queue()
    # Worker processes pay a torch import each (seconds): worth it only for many images.
    cores = (os.cpu_count() or 1) // distributed.world_size()
    workers = max(1, min(4, cores)) if total >= _PARALLEL_FIT_IMAGES else 1
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        job = pool.submit(
            dataset.prepare,
            workers=workers,
            progress=lambda done, _total: updates.put(done),
            should_stop=stop,
        )
        yield TrainEvent(kind="fitting", step=0, total_steps=total, message="fitting Gaussians")
        while not job.done() or not updates.empty():
            try:
                done = updates.get(timeout=0.5)
            except queue.Empty:
                continue
            yield TrainEvent(
                kind="fitting",
                step=done,
                total_steps=total,
                elapsed_s=time.perf_counter() - start,
                message=f"fitted {done} of {total} images",
            )
        job.result()  # re-raises Cancelled or a fit error here, in the caller's thread


def _shared_fit_dataset(task, items, normalisation, model, out_dir, stop) -> Iterator[TrainEvent]:
    """Return the training dataset; in a distributed run rank 0 fits, the others read its cache."""
    # Fits are cached under the model folder by default: resumed runs, other processes of a
    # distributed run and later runs on the same images reuse them.
    config = task.config
    cache_dir = Path(config.cache_dir) if config.cache_dir else Path(out_dir) / "fits"
    if distributed.rank() != 0:
        distributed.barrier()  # wait until rank 0 has fitted
    dataset = yield from _dataset(task, items, normalisation, int(model.stride), cache_dir, stop)
    if distributed.rank() == 0:
        distributed.barrier()
    return dataset


def _resume_progress(session: Session, resume: Path) -> None:
    """Load optimiser state, epoch and best metric from ``resume``'s ``last`` folder."""
    folder = resume / "last" if (resume / "last").is_dir() else resume
    # The checkpoint's weights (already in the model and, with ema_decay, the average) are
    # the average when one was kept; the raw training weights come from the training state.
    stored = load_training_state(folder)
    # ("ema_updates": states written before uniform averages existed.)
    updates = int(stored.get("average_updates", stored.get("ema_updates", 0)))
    if session.average is None and session.config.average_from is not None and updates > 0:
        session.average = WeightAverage(unwrap(session.model), None, updates)
    progress = load_training_state(folder, session.optimiser, unwrap(session.model))
    if session.average is not None:
        session.average.updates = updates
    session.first_epoch = int(progress["epoch"]) + 1
    session.step = session.first_step = int(progress["step"])
    session.best_mae = float(progress.get("best_mae", math.inf))


def _check_precision(precision: str, device: torch.device) -> None:
    """Raise a GSTError when ``device`` cannot train in ``precision``."""
    if precision == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        name = describe_device(device)
        raise GSTError(f"precision 'bfloat16' needs a GPU that supports it; {name} does not")


def open_session(
    config: TrainConfig,
    train_items: Sequence,
    val_items: Sequence | None,
    out_dir: str | Path,
    resume: str | Path | None,
    stop: Callable[[], bool],
) -> Iterator[TrainEvent]:
    """Prepare a run (yielding "fitting" events while targets are built); return its Session."""
    if len(train_items) == 0:
        raise GSTError("no training images: the dataset is empty")
    task = make_task(config)
    # Refuse wrongly labelled images and foreign model folders before any work.
    task.check_items([*train_items, *(val_items or [])])
    resume = Path(resume) if resume is not None else None
    if resume is not None:
        task.check_resume(*reversed(read_metadata(resume, task=config.task)))
    device = resolve_device(config.device)
    distributed.init_from_environment(device)
    device = distributed.local_device(device)
    _check_precision(config.precision, device)
    if val_items:
        train_list, val_list, note = list(train_items), list(val_items), "given validation set"
    else:
        train_list, val_list, note = hold_out(
            train_items, config.val_fraction, config.min_val_images, config.seed
        )
    normalisation = config.make_normalisation()
    model = _build_model(config, task, _channels(train_list), resume).to(device)
    dataset = yield from _shared_fit_dataset(task, train_list, normalisation, model, out_dir, stop)
    # fused: one kernel for all the parameters (1 ms a step instead of 4 on VGG cells' U-Net).
    optimiser = torch.optim.AdamW(
        model.parameters(),
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        fused=device.type in ("cpu", "cuda"),
    )
    session = Session(
        config=config,
        task=task,
        model=distributed.wrap(model, device),
        loss=task.loss(),
        optimiser=optimiser,
        loader=make_loader(dataset, config, task.collate()),
        device=device,
        normalisation=normalisation,
        train_items=train_list,
        val_items=val_list,
        out_dir=Path(out_dir),
        split_note=note,
        average=None if config.ema_decay is None else WeightAverage(model, config.ema_decay),
    )
    if resume is not None:
        _resume_progress(session, resume)
    return session
