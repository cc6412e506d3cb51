"""The stopping rule of the automatic fit: stop when the loss no longer improves."""

from __future__ import annotations

#: Iterations per window: the loss is averaged over a window to smooth Adam's jitter.
WINDOW = 25
#: Stop when a window's mean loss is less than this fraction below the previous window's.
RELATIVE_TOLERANCE = 2e-3
#: Never stop before this many iterations (Adam's moments need a few windows to settle).
MIN_ITERATIONS = 50


class ConvergenceMonitor:
    """Tells when a loss curve has flattened: compare the means of consecutive windows.

    Examples
    --------
    >>> monitor = ConvergenceMonitor(window=2, tolerance=0.01, min_iterations=4)
    >>> [monitor.update(loss) for loss in [4.0, 3.0, 2.0, 2.0, 2.0, 2.0]]
    [False, False, False, False, False, True]
    """

    def __init__(
        self,
        window: int = WINDOW,
        tolerance: float = RELATIVE_TOLERANCE,
        min_iterations: int = MIN_ITERATIONS,
    ) -> None:
        self.window = window
        self.tolerance = tolerance
        self.min_iterations = min_iterations
        self._count = 0
        self._sum = 0.0
        self._previous: float | None = None

    def update(self, loss: float) -> bool:
        """Record one loss value; return True once the fit should stop."""
        self._count += 1
        self._sum += loss
        if self._count % self.window:
            return False
        mean, self._sum = self._sum / self.window, 0.0
        previous, self._previous = self._previous, mean
        if previous is None or self._count < self.min_iterations:
            return False
        return previous - mean < self.tolerance * abs(previous)
