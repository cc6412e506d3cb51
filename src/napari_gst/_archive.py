"""The on-disk form of fits and kernels: one .npz of arrays with JSON metadata, no pickle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import GSTError


def write_archive(path: str | Path, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write ``arrays`` and JSON ``meta`` to ``<path>.npz`` atomically; return the path."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    encoded = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp, **arrays, meta=encoded)
    tmp.replace(path)  # a crash mid-write never leaves a half file under the real name
    return path


def read_archive(path: str | Path, format_name: str, kind: str) -> tuple[dict, dict]:
    """Return (arrays, meta) of an archive whose meta says ``format_name``; GSTError otherwise.

    ``kind`` names the thing in messages (e.g. "GaussianFit"). No pickle is ever loaded.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError) as error:
        raise GSTError(f"{path} is not a readable {kind} file: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != format_name:
        raise GSTError(f"{path} is not a napari-gst {kind} file")
    return arrays, meta
