"""Live training curves: loss per epoch and validation MAE, on a matplotlib canvas in the dock."""

from __future__ import annotations

import math

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from qtpy.QtWidgets import QSizePolicy, QWidget

# napari's dark theme: a light-on-dark plot does not flash white in the dock.
_BACKGROUND = "#262930"
_FOREGROUND = "#d6d6d6"
_LOSS_COLOUR = "#ff9f43"
_MAE_COLOUR = "#54a0ff"


class TrainingPlot(FigureCanvasQTAgg):
    """A two-axis plot: training loss (left) and validation MAE (right) against epochs.

    ``add(epoch, loss, val_mae)`` appends one epoch; ``clear()`` starts over. The data are
    kept in ``epochs``, ``losses`` and ``maes`` (NaN where MAE was not measured).
    ``metric`` names the validation metric on the axis ("MAE"; "MRE" for landmarks).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        figure = Figure(figsize=(4, 2.4), facecolor=_BACKGROUND, layout="constrained")
        super().__init__(figure)
        self.setParent(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(200)
        self.loss_axes = figure.add_subplot(1, 1, 1)
        self.mae_axes = self.loss_axes.twinx()
        self.epochs: list[int] = []
        self.losses: list[float] = []
        self.maes: list[float] = []
        self.metric = "MAE"
        self._redraw()

    def clear(self) -> None:
        """Forget all points (a new run starts)."""
        self.epochs.clear()
        self.losses.clear()
        self.maes.clear()
        self._redraw()

    def add(self, epoch: int, loss: float | None, val_mae: float | None) -> None:
        """Append (or replace) the values of ``epoch`` and redraw."""
        loss_value = math.nan if loss is None else float(loss)
        mae_value = math.nan if val_mae is None else float(val_mae)
        if self.epochs and self.epochs[-1] == epoch:
            self.losses[-1], self.maes[-1] = loss_value, mae_value
        else:
            self.epochs.append(int(epoch))
            self.losses.append(loss_value)
            self.maes.append(mae_value)
        self._redraw()

    def _redraw(self) -> None:
        for axes in (self.loss_axes, self.mae_axes):
            axes.clear()
            axes.set_facecolor(_BACKGROUND)
            axes.tick_params(colors=_FOREGROUND, labelsize=7)
            for spine in axes.spines.values():
                spine.set_color(_FOREGROUND)
        self.loss_axes.set_xlabel("epoch", color=_FOREGROUND, fontsize=8)
        self.loss_axes.set_ylabel("loss", color=_LOSS_COLOUR, fontsize=8)
        self.mae_axes.set_ylabel(f"val {self.metric}", color=_MAE_COLOUR, fontsize=8)
        self.mae_axes.yaxis.set_label_position("right")
        if self.epochs:
            self.loss_axes.plot(self.epochs, self.losses, "o-", color=_LOSS_COLOUR, ms=3)
            _keep_readable(self.loss_axes, self.losses)
            measured = [(e, m) for e, m in zip(self.epochs, self.maes, strict=True) if m == m]
            if measured:
                x, y = zip(*measured, strict=True)
                self.mae_axes.plot(x, y, "s--", color=_MAE_COLOUR, ms=3)
                _keep_readable(self.mae_axes, y)
        self.loss_axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
        for axes in (self.loss_axes, self.mae_axes):
            # Plain tick labels: an offset ("1e-8 + 1.384e1") reads as a tiny loss.
            axes.ticklabel_format(axis="y", style="plain", useOffset=False)
        self.draw_idle()


def _keep_readable(axes, values) -> None:
    """Widen a y range too narrow for plain tick labels (equal values) to +- 5 % around them."""
    finite = [value for value in values if math.isfinite(value)]
    if not finite:
        return
    low, high = min(finite), max(finite)
    if high - low <= 1e-3 * max(abs(high), abs(low), 1e-12):
        half = 0.05 * max(abs(high), 1e-6)
        axes.set_ylim(low - half, high + half)
