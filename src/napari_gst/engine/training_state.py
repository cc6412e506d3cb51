"""Resumable training state (optimiser, epoch, best metric) as safetensors + JSON, no pickle."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import GSTError
from ..models import with_missing_gains
from .checkpoint import STATE, _write_atomic, _write_json

FORMAT = "napari-gst training state"
# Key prefix of the raw training weights, stored when the checkpoint holds averaged weights.
_WEIGHTS_PREFIX = "weights/"


def _flatten_optimiser(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimiser state dict into named tensors and a JSON-able remainder."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict] = {}
    for param_id, values in state_dict["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{param_id}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(param_id), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _unflatten_optimiser(tensors: dict[str, torch.Tensor], described: dict) -> dict:
    """Rebuild an optimiser state dict from :func:`_flatten_optimiser`'s two parts."""
    state: dict[int, dict] = {}
    for name, tensor in tensors.items():
        param_id, key = name.split(".", 1)
        state.setdefault(int(param_id), {})[key] = tensor
    for param_id, values in described["scalars"].items():
        state.setdefault(int(param_id), {}).update(values)
    return {"state": state, "param_groups": described["param_groups"]}


def save_training_state(
    directory: str | Path,
    optimiser: torch.optim.Optimizer,
    progress: dict,
    weights: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write the optimiser state and ``progress`` (epoch, best metric, ...) into ``directory``.

    ``weights`` are the raw training weights, needed to resume when the checkpoint beside
    this state holds the weight average instead (``ema_decay``, ``average_from``).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors, described = _flatten_optimiser(optimiser.state_dict())
    for name, value in (weights or {}).items():
        tensors[_WEIGHTS_PREFIX + name] = value.detach().cpu().contiguous()
    # safetensors refuses an empty dict on some versions; a marker keeps the file valid.
    tensors = tensors or {"_empty": torch.zeros(0)}
    _write_atomic(directory / f"{STATE}.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    _write_json(directory / f"{STATE}.json", {"format": FORMAT, "progress": progress, **described})


def load_training_state(
    directory: str | Path,
    optimiser: torch.optim.Optimizer | None = None,
    model: torch.nn.Module | None = None,
) -> dict:
    """Return the stored progress dict; load the optimiser state into ``optimiser`` if given.

    With ``model`` given and raw training weights stored (runs with a weight average), those
    weights are loaded into it, so training continues from where the optimiser left them.
    """
    directory = Path(directory)
    described_path = directory / f"{STATE}.json"
    if not described_path.is_file():
        raise GSTError(f"{directory} has no training state to resume from ({described_path.name})")
    try:
        described = json.loads(described_path.read_text())
        tensors = load_file(str(directory / f"{STATE}.safetensors"))
    except (OSError, ValueError, SafetensorError) as error:
        raise GSTError(f"cannot read the training state in {directory}: {error}") from error
    if described.get("format") != FORMAT:
        raise GSTError(f"{described_path} is not a napari-gst training state")
    tensors.pop("_empty", None)
    weights = {
        name[len(_WEIGHTS_PREFIX) :]: tensors.pop(name)
        for name in list(tensors)
        if name.startswith(_WEIGHTS_PREFIX)
    }
    if model is not None and weights:
        try:
            model.load_state_dict(with_missing_gains(model, weights))
        except RuntimeError as error:
            raise GSTError(f"the training weights in {directory} do not fit: {error}") from error
    if optimiser is not None:
        try:
            optimiser.load_state_dict(_unflatten_optimiser(tensors, described))
        except (ValueError, KeyError, RuntimeError) as error:
            raise GSTError(f"the optimiser state in {directory} does not fit: {error}") from error
    return dict(described["progress"])
