"""Turn errors into napari notifications, so the user sees a message and never a traceback."""

from __future__ import annotations

from napari.utils.notifications import show_error

from ..errors import GSTError


def describe_error(error: BaseException) -> str:
    """Return a one-line message for ``error`` (input problems as-is, others with their type)."""
    if isinstance(error, GSTError | ValueError):
        return str(error)
    # Unexpected failures keep their type so a bug report still says what happened.
    return f"{type(error).__name__}: {error}"


def report_error(error: BaseException, action: str) -> None:
    """Show ``error`` as a napari error notification, prefixed by what was being done."""
    show_error(f"{action} failed: {describe_error(error)}")
