"""Averages of a network's weights over training: the model that is validated and saved."""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..errors import GSTError


class WeightAverage:
    """A copy of a network whose weights follow the training weights as an average.

    Two kinds, both applied after every optimiser step:

    - exponential (``decay`` in (0, 1), ``TrainConfig.ema_decay``): the last
      ~1/(1 - decay) steps count. The decay warms up as ``min(decay, (1 + n) / (10 + n))``
      after ``n`` updates, so short runs are not dominated by the random initial weights.
    - uniform (``decay=None``, ``TrainConfig.average_from``): every step since the average
      was started counts alike (stochastic weight averaging). On VGG cells the average of
      the late part of a run counted better than the run's end and as well as the mean of
      the counts of its late models (docs/parts/bench-accuracy.md, "Averaged weights").

    Parameters
    ----------
    model : the training network (unwrapped, not DDP); its current weights start the average.
    decay : the long-run EMA decay in (0, 1), or None for a uniform average.
    updates : updates already made (when resuming).
    """

    def __init__(self, model: nn.Module, decay: float | None, updates: int = 0) -> None:
        if decay is not None and not 0.0 < decay < 1.0:
            raise GSTError(f"ema_decay must be in (0, 1), got {decay!r}")
        self.decay = None if decay is None else float(decay)
        self.updates = int(updates)
        self.model = copy.deepcopy(model).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    def current_decay(self) -> float:
        """Return the decay the next update uses (n / (n + 1) for a uniform average)."""
        if self.decay is None:
            return self.updates / (self.updates + 1.0)
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
