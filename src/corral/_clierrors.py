"""The errors that end a command-line run: a one-line message and an exit code.

Not part of the toolkit's API (``corral.__all__``): the faces' command-line code raises them,
and ``corral._cli.main`` prints ``corral: error: <message>`` and exits with the code. The
exception tree is drawn once, in ``docs/design.md`` ("Errors").
"""

from __future__ import annotations

from corral._exceptions import CorralError


class CliError(CorralError):
    """An error that ends a command-line run: a one-line message and an exit code."""

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        """Return the one-line message shown to the user."""
        return str(self.args[0]) if self.args else ""


class UsageError(CliError):
    """A bad flag, option value or argument."""

    exit_code = 2


class InputError(CliError):
    """An input that cannot be read or parsed (the place is in the message)."""

    exit_code = 2


class OutputError(CliError):
    """An output that cannot be used or written: someone else's file, a missing directory, a
    full disk, a read-only or damaged store (the place is in the message)."""

    exit_code = 2
