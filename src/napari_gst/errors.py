"""Exceptions the core raises on purpose, so the CLI and widgets can show them as messages."""


class GSTError(ValueError):
    """Bad input or state, with a message meant for the user (names the file or argument)."""


class Cancelled(RuntimeError):
    """Long work (fit, training, prediction) was stopped by its stop flag."""
