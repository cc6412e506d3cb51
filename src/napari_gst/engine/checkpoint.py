"""Checkpoints: a folder with ``model.safetensors`` + ``model.json``; no pickle, atomic writes.

Layout written by training (``out_dir``)::

    out_dir/best/model.safetensors, model.json      best validation MAE so far
    out_dir/last/model.safetensors, model.json      end of the latest epoch
    out_dir/last/training_state.safetensors, .json  optimiser, epoch, best metric (for resume)

Each file is written to a temporary name and renamed into place, weights first; the JSON holds
the SHA-256 of the weights, so a half-replaced pair is detected and refused on load.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import GSTError
from ..models import with_missing_gains

FORMAT = "napari-gst checkpoint"
VERSION = 1
WEIGHTS = "model.safetensors"
METADATA = "model.json"
STATE = "training_state"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the network (in eval mode) and its description.

    Attributes
    ----------
    model : the rebuilt ``nn.Module`` with the stored weights.
    metadata : the contents of ``model.json`` (model spec, task, stride, normalisation, loss,
        training settings, metrics, landmark names).
    path : the folder it was read from.
    """

    model: nn.Module
    metadata: dict
    path: Path

    @property
    def task(self) -> str:
        """The task the network was trained for, e.g. "count"."""
        return str(self.metadata["task"])

    @property
    def stride(self) -> int:
        """Pixels per density cell."""
        return int(self.metadata["stride"])

    @property
    def landmark_set(self):
        """The ``LandmarkSet`` of a landmark model (channel order), None for other tasks."""
        from ..landmarks import LandmarkSet

        stored = self.metadata.get("landmarks")
        return LandmarkSet.from_dict(stored) if stored else None

    @property
    def normalisation(self) -> dict:
        """The input normalisation, as stored by ``napari_gst.data`` (a JSON dict)."""
        return dict(self.metadata.get("normalisation") or {})


def unwrap(model: nn.Module) -> nn.Module:
    """Return the plain module inside a DistributedDataParallel/DataParallel wrapper."""
    return getattr(model, "module", model)


def _write_atomic(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, values: dict) -> None:
    """Write ``values`` as indented JSON, atomically."""
    _write_atomic(path, lambda tmp: tmp.write_text(json.dumps(values, indent=2) + "\n"))


def save_checkpoint(directory: str | Path, model: nn.Module, metadata: dict) -> Path:
    """Write ``model``'s weights and ``metadata`` to ``directory``; return the folder.

    ``metadata`` must hold at least "model" (the spec from ``describe_model``), "task" and
    "stride"; format, version and the weights' hash are added here.
    """
    for key in ("model", "task", "stride"):
        if key not in metadata:
            raise GSTError(f"checkpoint metadata lacks {key!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in unwrap(model).state_dict().items()}
    _write_atomic(directory / WEIGHTS, lambda tmp: save_file(tensors, str(tmp)))
    record = {"format": FORMAT, "version": VERSION, **metadata}
    record["weights_sha256"] = _sha256(directory / WEIGHTS)
    _write_json(directory / METADATA, record)
    return directory


def find_checkpoint(path: str | Path) -> Path:
    """Return the checkpoint folder for ``path``: itself, or its ``best``/``last`` sub-folder."""
    path = Path(path)
    if path.is_file() and path.name in (METADATA, WEIGHTS):
        path = path.parent
    if not path.exists():
        raise FileNotFoundError(f"model folder {path} does not exist")
    for candidate in (path, path / "best", path / "last"):
        if (candidate / METADATA).is_file():
            return candidate
    raise GSTError(f"{path} is not a napari-gst model folder (no {METADATA} in it or in best/)")


def read_metadata(path: str | Path, *, task: str | None = None) -> tuple[Path, dict]:
    """Return (folder, metadata) of a checkpoint after checking its format, version and task."""
    folder = find_checkpoint(path)
    try:
        metadata = json.loads((folder / METADATA).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise GSTError(f"{folder / METADATA} is not valid JSON: {error}") from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise GSTError(f"{folder} is not a napari-gst checkpoint (foreign {METADATA})")
    if not isinstance(metadata.get("version"), int) or metadata["version"] > VERSION:
        raise GSTError(
            f"{folder} has checkpoint version {metadata.get('version')!r}; "
            f"this napari-gst reads versions up to {VERSION}"
        )
    if task is not None and metadata.get("task") != task:
        raise GSTError(f"{folder} holds a model for task {metadata.get('task')!r}, not {task!r}")
    return folder, metadata


def _load_tensors(folder: Path, metadata: dict) -> dict[str, torch.Tensor]:
    """Return the stored weights after checking they match the hash in the metadata."""
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise GSTError(f"{folder} has {METADATA} but no {WEIGHTS}")
    if metadata.get("weights_sha256") != _sha256(weights):
        raise GSTError(f"{weights} is corrupt or does not belong to {METADATA} (hash mismatch)")
    try:
        return load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as error:
        raise GSTError(f"{weights} is not a readable safetensors file: {error}") from error


def build_from_spec(spec: dict) -> nn.Module:
    """Return a fresh network from a ``describe_model`` spec."""
    from ..models import build_model

    try:
        return build_model(
            spec["name"], spec["in_channels"], spec["out_channels"], **spec.get("options", {})
        )
    except (KeyError, TypeError) as error:
        raise GSTError(f"checkpoint has an invalid model description {spec!r}: {error}") from error


def load_checkpoint(
    path: str | Path, *, task: str | None = None, device: str | torch.device = "cpu"
) -> Checkpoint:
    """Return the network and description stored in a checkpoint folder.

    Parameters
    ----------
    path : a checkpoint folder, or a training output folder (its ``best`` is used).
    task : when given, refuse checkpoints trained for another task.
    device : where to put the network.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    GSTError
        For foreign, corrupt or newer files, or a task mismatch. Nothing from the files is
        ever executed: weights are safetensors, the description is JSON.
    """
    folder, metadata = read_metadata(path, task=task)
    tensors = _load_tensors(folder, metadata)
    model = build_from_spec(metadata["model"])
    # Checkpoints written before counting models were calibrated (or before the edge gain)
    # lack those gains: 1.
    tensors = with_missing_gains(model, tensors)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise GSTError(
            f"{folder}: weights do not fit the described model ({first_line})"
        ) from error
    return Checkpoint(model=model.to(device).eval(), metadata=metadata, path=folder)
