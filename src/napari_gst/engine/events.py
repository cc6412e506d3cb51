"""Progress events that ``train`` yields to the CLI and the napari widget."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

EVENT_KINDS = ("fitting", "epoch_start", "step", "epoch_end", "checkpoint", "done", "stopped")


@dataclass
class TrainEvent:
    """One step of training progress.

    Attributes
    ----------
    kind : one of "fitting" (Gaussian fits / kernels being prepared), "epoch_start", "step",
        "epoch_end", "checkpoint" (a checkpoint was written), "done", "stopped".
    epoch : current epoch, counted from 1 (0 before the first epoch).
    step : optimiser steps taken so far in this run, counted from 1.
    total_steps : steps planned for the whole run (epochs x steps per epoch); for "fitting",
        the number of images to prepare (``step`` counts the prepared ones).
    losses : running means for this epoch, e.g. {"loss": 0.8}.
    val_mae : the validation selection metric after the epoch (None when not measured yet):
        the MAE for counting, the MRE in pixels for landmarks; ``metric`` names it.
    elapsed_s, eta_s : seconds since the start, and the estimate of seconds left.
    device : the device label, e.g. "cpu (2 threads)".
    preview : occasionally (at epoch ends) the predicted density of one validation image.
    message : a short line for humans (e.g. where a checkpoint went).
    path : for "checkpoint" events, the folder just written (``out_dir/best`` or ``/last``).
    """

    kind: str
    epoch: int = 0
    step: int = 0
    total_steps: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    val_mae: float | None = None
    elapsed_s: float = 0.0
    eta_s: float | None = None
    device: str = ""
    preview: np.ndarray | None = None
    message: str = ""
    path: str | None = None
    metric: str = "MAE"

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"kind must be one of {EVENT_KINDS}, got {self.kind!r}")

    def summary(self) -> dict:
        """Return the event as a JSON-able dict (without the preview array)."""
        return {
            "kind": self.kind,
            "epoch": self.epoch,
            "step": self.step,
            "total_steps": self.total_steps,
            "losses": dict(self.losses),
            "val_mae": self.val_mae,
            "metric": self.metric,
            "elapsed_s": round(self.elapsed_s, 3),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "device": self.device,
            "message": self.message,
            "path": self.path,
        }
