"""Gaussian fits of many images, up front: cached on disk, optionally in parallel processes."""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from .._spawn import spawn_reruns_main
from ..errors import Cancelled, GSTError
from ..splat import GaussianFit
from .annotations import AnnotatedImage
from .normalise import Normalisation

# The Gaussians are fitted to each image stretched by its own percentiles, whatever the
# network's normalisation: the fit describes where the image's mass lies, not its absolute
# brightness, and a change of the network's normalisation must not invalidate cached fits.
FIT_NORMALISATION = Normalisation()

# While waiting for worker processes, look at the stop flag at least this often (seconds).
_POLL_SECONDS = 0.5


def fit_image(
    image: np.ndarray,
    points: np.ndarray,
    cache_dir: str | os.PathLike | None = None,
    fit_kwargs: dict | None = None,
) -> GaussianFit:
    """Return the Gaussian fit of a normalised image: from ``cache_dir`` when cached there.

    Without ``cache_dir`` the fit is computed (callers keep it in memory).
    """
    from ..splat import fit_gaussians
    from ..transport import cached_fit

    kwargs = dict(fit_kwargs or {})
    if cache_dir is not None:
        return cached_fit(image, points, cache_dir, **kwargs)
    return fit_gaussians(image, points, **kwargs)


def fit_input(image: np.ndarray, normalisation: Normalisation) -> np.ndarray:
    """Return the image the Gaussians are fitted to: normalised as for the network, in [0, 1].

    Fitting the network's view of the image makes the fit independent of the file's dtype
    and exposure; clipping keeps the rare pixels above the high percentile from dominating
    the L1 fit.
    """
    return np.clip(normalisation.apply(image), 0.0, 1.0)


def precompute_fits(
    items: Sequence[AnnotatedImage],
    *,
    normalisation: Normalisation | None = None,
    cache_dir: str | os.PathLike | None = None,
    fit_kwargs: dict | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[GaussianFit]:
    """Return the Gaussian fit of every item, in order, computing only those not cached.

    Parameters
    ----------
    items : annotated images (raw; each is normalised with ``normalisation`` first).
    normalisation : default :class:`Normalisation` ().
    cache_dir : fits are read from / written to this folder (``transport.cached_fit``);
        None fits everything (results are only returned).
    fit_kwargs : options of ``napari_gst.splat.fit_gaussians``.
    workers : processes to fit in parallel (each uses one torch thread); 1 fits here.
    progress : called as ``progress(done, total)`` after each image.
    should_stop : polled between images (and every 0.5 s while workers run); returning
        True raises :class:`napari_gst.errors.Cancelled`.
    """
    normalisation = normalisation or Normalisation()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise GSTError(f"workers must be a positive integer, got {workers!r}")
    jobs = [(fit_input(item.image, normalisation), item.points) for item in items]
    cache = str(Path(cache_dir).expanduser()) if cache_dir is not None else None
    if workers > 1 and len(jobs) > 1 and spawn_reruns_main():
        warnings.warn(
            "fitting in this process: worker processes would run this script again "
            "(guard your script with `if __name__ == '__main__':`)",
            RuntimeWarning,
            stacklevel=2,
        )
        workers = 1
    if workers == 1 or len(jobs) <= 1:
        return _fit_here(jobs, cache, fit_kwargs, progress, should_stop)
    try:
        return _fit_in_processes(jobs, cache, fit_kwargs, workers, progress, should_stop)
    except BrokenProcessPool:
        # Spawned workers re-import __main__: a script read from stdin kills them (an
        # unguarded script file was caught above). Fit here instead (cached fits are reused).
        warnings.warn(
            "parallel Gaussian fitting failed to start worker processes; fitting in this "
            "process instead (guard your script with `if __name__ == '__main__':`)",
            RuntimeWarning,
            stacklevel=2,
        )
        return _fit_here(jobs, cache, fit_kwargs, progress, should_stop)


def _fit_here(jobs, cache, fit_kwargs, progress, should_stop) -> list[GaussianFit]:
    """Return the fits of ``jobs`` computed one after another in this process."""
    fits = []
    for done, (image, points) in enumerate(jobs, start=1):
        if should_stop is not None and should_stop():
            raise Cancelled("Gaussian fitting was stopped")
        kwargs = {**(fit_kwargs or {}), "should_stop": should_stop}
        fits.append(fit_image(image, points, cache, kwargs))
        if progress is not None:
            progress(done, len(jobs))
    return fits


def _worker_setup() -> None:
    """Give each worker one torch thread, so N workers use N cores rather than N x all."""
    import torch

    torch.set_num_threads(1)


def _fit_in_processes(jobs, cache, fit_kwargs, workers, progress, should_stop):
    """Return the fits of ``jobs`` computed by ``workers`` spawned processes, in job order."""
    # spawn, not fork: forking a process that already runs torch threads can deadlock.
    context = multiprocessing.get_context("spawn")
    fits: list[GaussianFit | None] = [None] * len(jobs)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_setup) as pool:
        pending: dict[Future, int] = {
            pool.submit(fit_image, image, points, cache, fit_kwargs): index
            for index, (image, points) in enumerate(jobs)
        }
        done_count = 0
        while pending:
            if should_stop is not None and should_stop():
                for future in pending:
                    future.cancel()
                raise Cancelled("Gaussian fitting was stopped")
            finished, _ = wait(pending, timeout=_POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                fits[pending.pop(future)] = future.result()
                done_count += 1
                if progress is not None:
                    progress(done_count, len(jobs))
    return fits  # type: ignore[return-value]


class FittedImages:
    """``prepare`` and ``fit`` for torch datasets whose samples need each image's Gaussian fit.

    Mixed into ``DensityDataset`` and ``LandmarkDataset``; expects the attributes ``items``,
    ``cache_dir``, ``fit_kwargs``, a ``_fits`` dict and ``_needs_fits()``. Images are fitted
    as :data:`FIT_NORMALISATION` scales them, independent of the network's normalisation.
    """

    def prepare(
        self,
        *,
        workers: int = 1,
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        """Compute every image's Gaussian fit now (no-op when no sample needs one)."""
        if not self._needs_fits():
            return
        missing = [index for index in range(len(self.items)) if index not in self._fits]
        fits = precompute_fits(
            [self.items[index] for index in missing],
            normalisation=FIT_NORMALISATION,
            cache_dir=self.cache_dir,
            fit_kwargs=self.fit_kwargs,
            workers=workers,
            progress=progress,
            should_stop=should_stop,
        )
        self._fits.update(zip(missing, fits, strict=True))

    def fit(self, index: int) -> GaussianFit:
        """Return the Gaussian fit of image ``index`` (computed or read from cache once)."""
        if index not in self._fits:
            item = self.items[index]
            image = fit_input(item.image, FIT_NORMALISATION)
            self._fits[index] = fit_image(image, item.points, self.cache_dir, self.fit_kwargs)
        return self._fits[index]
