"""Exponential moving average of a network's weights: the model that is validated and saved."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import GSTError


class WeightAverage:
    """A copy of a network whose weights follow the training weights as an EMA.

    GST's loss is an L1 of per-annotation masses: its gradients keep their size near the
    optimum, so the raw weights jitter from step to step and the whole-image counts with them
    (docs/parts/bench-accuracy.md). Averaging the weights over the last ~1/(1 - decay) steps
    removes that jitter without slowing training. The decay warms up as
    ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so short runs (a demo, a few
    epochs) are not dominated by the random initial weights.

    Parameters
    ----------
    model : the training network (unwrapped, not DDP); its current weights start the average.
    decay : the long-run EMA decay in (0, 1).
    updates : updates already made (when resuming), for the warm-up.
    """

    def __init__(self, model: nn.Module, decay: float, updates: int = 0) -> None:
        if not 0.0 < decay < 1.0:
            raise GSTError(f"ema_decay must be in (0, 1), got {decay!r}")
        self.decay = float(decay)
        self.updates = int(updates)
        self.model = copy.deepcopy(model).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    def current_decay(self) -> float:
        """Return the decay the next update uses (warmed up over the first updates)."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (call after each step)."""
        decay = self.current_decay()
        averaged = self.model.state_dict()
        for name, value in model.state_dict().items():
            target = averaged[name]
            if target.is_floating_point():
                target.lerp_(value.detach(), 1.0 - decay)
            else:  # integer buffers (e.g. BatchNorm's batch count) are copied
                target.copy_(value)
        self.updates += 1
