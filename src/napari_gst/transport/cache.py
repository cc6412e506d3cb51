"""cached_fit: Gaussian fits stored on disk under a hash of everything that determines them."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._validation import as_points
from .._version import __version__
from ..errors import GSTError

if TYPE_CHECKING:  # pragma: no cover
    from ..splat import GaussianFit

# Arguments that only report on or stop the fit; they never change its result.
_NOT_IN_KEY = frozenset({"progress", "should_stop"})


def fit_key(image: np.ndarray, points: np.ndarray, fit_kwargs: dict) -> str:
    """Return the hex SHA-256 key of a fit: image bytes, dtype, shape, points, settings, versions.

    The package version and the GaussianFit file-format version are part of the key, so a new
    release never reuses fits made by an older fitting code.
    """
    from ..splat.fit_result import FORMAT_VERSION

    settings = {key: value for key, value in fit_kwargs.items() if key not in _NOT_IN_KEY}
    header = {
        "dtype": str(image.dtype),
        "shape": list(image.shape),
        "settings": settings,
        "fit_format": FORMAT_VERSION,
        "package": __version__,
    }
    digest = hashlib.sha256()
    digest.update(json.dumps(header, sort_keys=True, default=repr).encode())
    digest.update(np.ascontiguousarray(image).tobytes())
    digest.update(np.ascontiguousarray(points, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _write_atomically(fit: GaussianFit, path: Path) -> None:
    """Write ``fit`` to ``path`` through a unique temporary file and an atomic rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".fit-", suffix=".npz")
    os.close(handle)
    try:
        fit.save(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def cached_fit(
    image: np.ndarray, points: np.ndarray, cache_dir: str | os.PathLike, **fit_kwargs
) -> GaussianFit:
    """Return the Gaussian fit of ``image`` at ``points``, read from ``cache_dir`` when present.

    The file name is a content hash (:func:`fit_key`) of the image bytes, dtype and shape, the
    points, the fit settings (``fit_kwargs`` except ``progress``/``should_stop``) and the
    package and fit-format versions. A miss runs ``napari_gst.splat.fit_gaussians(image,
    points, **fit_kwargs)`` and writes the result atomically, so parallel workers never read a
    half-written file. An unreadable cache file is refitted and replaced.

    Examples
    --------
    >>> fit = cached_fit(image, points, "~/.cache/napari-gst")  # doctest: +SKIP
    """
    array = np.asarray(image)
    if array.ndim not in (2, 3) or array.size == 0:
        raise GSTError(f"image must be a non-empty (H, W) or (H, W, C) array, got {array.shape}")
    points = as_points(points, array.shape[:2])
    directory = Path(cache_dir).expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise GSTError(f"cache_dir {directory} cannot be created: {error}") from error
    path = directory / f"fit-{fit_key(array, points, fit_kwargs)}.npz"
    if path.exists():
        from ..splat import GaussianFit

        try:
            return GaussianFit.load(path)
        except (ValueError, KeyError):
            pass  # a damaged file: refit below and replace it
    from .. import splat

    fit = splat.fit_gaussians(array, points, **fit_kwargs)
    _write_atomically(fit, path)
    return fit
