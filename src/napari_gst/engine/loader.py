"""The training data loader: repeated random crops, and a worker process that builds them.

Building a batch (crops, rescale, flips and each crop's transport kernel) takes a good part
of a step on one CPU thread (VGG cells, 16 crops of 64 px: 29 ms, next to the network's 45-50).
A loader worker on a second core builds the next batches while the network trains on this
one. It learns the epoch from the sampler, which hands it ``(epoch, index)`` pairs, so its
crops are the ones the training process would have drawn itself: a run gives the same
weights with or without a worker. The training loop reads the whole run as one stream of
batches (:func:`stream`), so the worker builds the next epoch's first batches while this
epoch's last ones train, instead of the loop waiting for a batch at every epoch's start.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Sampler

from .._spawn import spawn_reruns_main
from . import distributed
from .config import TrainConfig

# Starting a worker costs a few seconds (it imports torch); it pays that back after about
# this many optimiser steps (it saves a batch's build time, ~20 ms, per step).
MIN_STEPS_FOR_WORKER = 300
_SPAWN = multiprocessing.get_context("spawn")


class _Wrapper(Dataset):
    """A dataset around ``dataset`` that forwards the attributes it does not define.

    The training loop looks up ``set_epoch``, ``set_progress`` and ``in_channels`` on
    whatever dataset the loader holds.
    """

    def __init__(self, dataset) -> None:
        self.dataset = dataset

    def __getattr__(self, name: str):
        """Forward everything else (set_epoch, in_channels, ...) to the wrapped dataset."""
        if name == "dataset":  # not yet set (e.g. while unpickling)
            raise AttributeError(name)
        return getattr(self.dataset, name)


class RepeatedImages(_Wrapper):
    """Each image of ``dataset`` ``times`` times per epoch, so an epoch draws that many crops.

    Attributes the training loop looks up (``set_epoch``, ``set_progress``) are the wrapped
    dataset's; its random plans differ between repeats because each draw advances a counter.
    """

    def __init__(self, dataset, times: int) -> None:
        super().__init__(dataset)
        self.times = int(times)

    def __len__(self) -> int:
        """Return images x repeats."""
        return len(self.dataset) * self.times

    def __getitem__(self, index: int):
        """Return a fresh random draw of image ``index`` modulo the number of images."""
        return self.dataset[index % len(self.dataset)]


class EpochSampler(Sampler):
    """Yields ``(epoch, index)``: the wrapped sampler's indices tagged with the current epoch.

    A loader worker holds its own copy of the dataset, which ``set_epoch`` in the
    training process does not reach; the tag carries the epoch to it with every index.
    """

    def __init__(self, sampler: Sampler) -> None:
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Tag the following indices with ``epoch`` (and reshuffle a DistributedSampler)."""
        self.epoch = int(epoch)
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(epoch)

    def __iter__(self):
        """Yield ``(epoch, index)`` for each index of the wrapped sampler."""
        epoch = self.epoch
        return ((epoch, index) for index in self.sampler)

    def __len__(self) -> int:
        """Return the wrapped sampler's length."""
        return len(self.sampler)


class EpochBatches(Sampler):
    """The batches of epochs ``first`` to ``last`` in order, each a list of ``(epoch, index)``.

    Each epoch is cut into ``batch_size`` slices as a per-epoch loader over ``sampler``
    would cut it (the last one shorter), so a stream of them gives the same batches.
    """

    def __init__(self, sampler: EpochSampler, batch_size: int, first: int, last: int) -> None:
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.first, self.last = int(first), int(last)

    def __iter__(self):
        """Yield each epoch's batches, setting the sampler's epoch as each epoch begins."""
        for epoch in range(self.first, self.last + 1):
            self.sampler.set_epoch(epoch)
            keys = list(self.sampler)
            for start in range(0, len(keys), self.batch_size):
                yield keys[start : start + self.batch_size]

    def __len__(self) -> int:
        """Return the batches of all the epochs."""
        per_epoch = -(-len(self.sampler) // self.batch_size)
        return max(self.last - self.first + 1, 0) * per_epoch


class EpochAware(_Wrapper):
    """Reads ``dataset[index]`` after ``dataset.set_epoch(epoch)`` for an ``(epoch, index)``."""

    def __len__(self) -> int:
        """Return the wrapped dataset's length."""
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        """Return the wrapped dataset's sample ``index`` as drawn in ``epoch``."""
        epoch, index = key
        set_epoch = getattr(self.dataset, "set_epoch", None)
        if set_epoch is not None and getattr(self.dataset, "epoch", None) != epoch:
            set_epoch(epoch)
        return self.dataset[index]


def available_cores() -> int:
    """Return the CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def loader_workers(config: TrainConfig, dataset, steps_per_epoch: int) -> int:
    """Return the number of loader worker processes for a run (``config.loader_workers``).

    "auto" gives one worker when it can pay: a second core to run on (per process, when
    distributed), at least ``MIN_STEPS_FOR_WORKER`` planned steps, and a dataset whose
    samples depend on nothing but the epoch (the landmark kernel schedule follows the
    run's progress step by step, which a worker's copy would not see).
    """
    if config.loader_workers != "auto":
        return int(config.loader_workers)
    if hasattr(dataset, "set_progress"):
        return 0
    if available_cores() // distributed.world_size() < 2:
        return 0
    return 1 if config.epochs * steps_per_epoch >= MIN_STEPS_FOR_WORKER else 0


def make_loader(dataset, config: TrainConfig, collate, workers: int | None = None) -> DataLoader:
    """Return the shuffling loader of a run (a DistributedSampler when data-parallel).

    ``workers`` overrides ``loader_workers(config, ...)`` (0 builds batches in this process).
    With workers, it describes the run's batches and :func:`stream` reads them.
    """
    if config.crops_per_image > 1:
        dataset = RepeatedImages(dataset, config.crops_per_image)
    if distributed.is_distributed():
        sampler = DistributedSampler(dataset, shuffle=True, seed=config.seed)
    else:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(config.seed))
    sampler = EpochSampler(sampler)
    if workers is None:
        steps = -(-len(sampler) // config.batch_size)
        workers = loader_workers(config, dataset, steps)
    if workers > 0 and spawn_reruns_main():
        warnings.warn(
            "not starting a data loader worker: it would run this script's training again "
            "(guard your script with `if __name__ == '__main__':`); building batches in "
            "this process instead",
            RuntimeWarning,
            stacklevel=2,
        )
        workers = 0
    # spawn, not fork: forking a process that already runs torch threads (or a Qt event
    # loop, in napari) can deadlock.
    extra = {}
    if workers > 0:
        extra = {"multiprocessing_context": _SPAWN}
    return DataLoader(
        EpochAware(dataset),
        batch_size=config.batch_size,
        sampler=sampler,
        collate_fn=collate,
        num_workers=workers,
        drop_last=False,
        **extra,
    )


@dataclass(frozen=True)
class PipedArray:
    """A batch tensor on its way from a loader worker, as a numpy array."""

    array: np.ndarray


class PipedCollate:
    """``collate`` for a loader worker: the batch's tensors leave it as numpy arrays.

    A worker hands a torch tensor over as a shared-memory file descriptor, which the
    training process fetches from a thread of the worker; that thread waits for the
    worker's GIL, up to 5 ms a tensor while the worker builds the next batch (VGG cells:
    10 of a step's 60 ms went to waiting). An array travels inside the message itself.
    """

    def __init__(self, collate) -> None:
        self.collate = collate

    def __call__(self, samples: list) -> dict:
        """Return the collated batch with each tensor value as a :class:`PipedArray`."""
        batch = self.collate(samples)
        return {
            key: PipedArray(value.numpy()) if isinstance(value, torch.Tensor) else value
            for key, value in batch.items()
        }


def unpiped(batch: dict) -> dict:
    """Return a batch from :class:`PipedCollate` with its tensors back (no copy)."""
    return {
        key: torch.from_numpy(value.array) if isinstance(value, PipedArray) else value
        for key, value in batch.items()
    }


def stream(loader: DataLoader, first: int, last: int) -> DataLoader:
    """Return a loader whose one pass gives ``loader``'s batches of epochs ``first``..``last``.

    It has ``loader``'s dataset and workers; a worker thus runs ahead across epoch ends (a
    per-epoch loader starts every epoch with no batch ready). Its batches are
    :class:`PipedCollate`'s: pass each through :func:`unpiped`.
    """
    extra = {}
    if loader.num_workers > 0:
        extra = {"multiprocessing_context": loader.multiprocessing_context}
    return DataLoader(
        loader.dataset,
        batch_sampler=EpochBatches(loader.sampler, loader.batch_size, first, last),
        collate_fn=PipedCollate(loader.collate_fn),
        num_workers=loader.num_workers,
        **extra,
    )


def in_process(loader: DataLoader) -> DataLoader:
    """Return ``loader`` rebuilt to make its batches in this process (same sampler, data)."""
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=loader.sampler,
        collate_fn=loader.collate_fn,
        num_workers=0,
        drop_last=loader.drop_last,
    )


def end_stream(batches) -> None:
    """End the worker of a :func:`stream` iterator now, not when it is garbage-collected.

    A worker that dies on its way out (the loader reports it "killed by signal") is
    ignored: its unread batches are not needed.
    """
    try:
        batches._shutdown_workers()
    except RuntimeError as error:
        if not is_worker_start_failure(error) and "killed by signal" not in str(error):
            raise


def is_worker_start_failure(error: BaseException) -> bool:
    """Return whether ``error`` says a loader worker died (rather than a sample failing)."""
    return isinstance(error, RuntimeError) and "exited unexpectedly" in str(error)
