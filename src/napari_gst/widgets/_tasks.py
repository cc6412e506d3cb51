"""Runs one long job at a time on a worker thread, with a progress bar and a Cancel button."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

from napari.qt.threading import create_worker
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ..errors import Cancelled

# Progress callbacks can fire every iteration (milliseconds apart); the bar only needs a
# few updates a second, and each one crosses threads through the Qt event queue.
_PROGRESS_INTERVAL_S = 0.1


@dataclass
class Outcome:
    """What a job ended with: its value, the error it raised, or that it was cancelled."""

    value: Any = None
    error: BaseException | None = None
    cancelled: bool = False


def _run_guarded(job: Callable[[], Any]) -> Outcome:
    """Return ``job()`` wrapped in an :class:`Outcome`; never raises.

    The worker must not raise: napari would show the traceback, and the widgets promise a
    plain message instead. Errors travel to the main thread as values.
    """
    try:
        return Outcome(value=job())
    except Cancelled:
        return Outcome(cancelled=True)
    except Exception as error:  # noqa: BLE001 - every error becomes a message for the user
        return Outcome(error=error)


def _generate_guarded(events: Callable[[], Generator]) -> Generator[Any, None, Outcome]:
    """Yield what ``events()`` yields; return an :class:`Outcome` for its end (never raises)."""
    try:
        value = yield from events()
        return Outcome(value=value)
    except Cancelled:
        return Outcome(cancelled=True)
    except Exception as error:  # noqa: BLE001 - every error becomes a message for the user
        return Outcome(error=error)


class TaskControls(QWidget):
    """A progress bar, a status line and a Cancel button that drive one worker at a time.

    ``run`` takes a blocking job ``job(progress, should_stop)``; ``run_generator`` takes a
    generator job ``job(should_stop)`` whose yielded values reach ``on_yield`` in the main
    thread. ``on_done(outcome)`` always runs in the main thread when the job ends.
    """

    # Emitted from the worker thread; Qt queues it to this widget's (main) thread.
    progressed = Signal(int, int)

    def __init__(self, cancel_text: str = "Cancel", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._stop = threading.Event()
        self._worker = None
        self._last_emit = 0.0
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.cancel_button = QPushButton(cancel_text)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress_bar, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.progressed.connect(self._show_progress)

    @property
    def busy(self) -> bool:
        """Return True while a job runs."""
        return self._worker is not None

    def should_stop(self) -> bool:
        """Return True once Cancel was pressed (thread-safe; the core polls it)."""
        return self._stop.is_set()

    def cancel(self) -> None:
        """Ask the running job to stop; the core honours it at its next check."""
        if self.busy:
            self._stop.set()
            self.status.setText("Stopping...")

    def report_progress(self, done: int, total: int) -> None:
        """Forward progress from any thread to the bar, at most every 0.1 s."""
        now = time.monotonic()
        if done >= total or now - self._last_emit >= _PROGRESS_INTERVAL_S:
            self._last_emit = now
            self.progressed.emit(int(done), int(total))

    def run(
        self,
        job: Callable[[Callable[[int, int], None], Callable[[], bool]], Any],
        on_done: Callable[[Outcome], None],
        label: str,
    ) -> None:
        """Start ``job(progress, should_stop)`` on a worker thread; ``on_done`` gets its Outcome."""
        self._begin(label)
        worker = create_worker(_run_guarded, lambda: job(self.report_progress, self.should_stop))
        self._connect(worker, on_done)

    def run_generator(
        self,
        job: Callable[[Callable[[], bool]], Generator],
        on_yield: Callable[[Any], None],
        on_done: Callable[[Outcome], None],
        label: str,
    ) -> None:
        """Start generator ``job(should_stop)``; each yield goes to ``on_yield`` (main thread)."""
        self._begin(label)
        worker = create_worker(_generate_guarded, lambda: job(self.should_stop))
        worker.yielded.connect(on_yield)
        self._connect(worker, on_done)

    def _begin(self, label: str) -> None:
        if self.busy:
            raise RuntimeError("a job is already running; cancel it or wait for it to end")
        self._stop.clear()
        self.progress_bar.setRange(0, 0)  # indeterminate until the first report
        self.status.setText(label)
        self.cancel_button.setEnabled(True)

    def _connect(self, worker, on_done: Callable[[Outcome], None]) -> None:
        self._worker = worker
        outcome: list[Outcome] = []
        worker.returned.connect(outcome.append)

        def finish() -> None:
            self._worker = None
            self.cancel_button.setEnabled(False)
            self.progress_bar.setRange(0, 1)
            result = outcome[0] if outcome else Outcome(cancelled=True)
            self.progress_bar.setValue(1 if result.error is None and not result.cancelled else 0)
            self.status.setText("Cancelled." if result.cancelled else "")
            on_done(result)

        worker.finished.connect(finish)
        worker.start()

    def _show_progress(self, done: int, total: int) -> None:
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(min(done, max(total, 1)))
