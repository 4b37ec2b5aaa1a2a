"""Checks on option values, made where they are given rather than where they are first used.

``corral.retry(backoff=0.01)`` was accepted and failed with ``AttributeError`` at the first
retry, ``corral.map(rate=10)`` at its first call, a string deadline when it was first added to
a clock reading (issue 12). Each option of the toolkit is checked by type as it is given: a
wrong one is a ``TypeError`` naming the option, before anything runs.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

OnError = Literal["raise", "collect"]
"""What a failing child or call does to the others, one word for ``map`` and ``open_scope``.

``"raise"``: the first failure cancels the rest and is raised as itself; ``"collect"``: each
fails alone and its error is kept. ``open_scope`` said ``"cancel"`` for ``"raise"`` until issue 14.
"""


def is_number(value: object) -> bool:
    """Return whether ``value`` is an int or a float (a bool is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_seconds(name: str, value: object) -> None:
    """Raise ``TypeError`` unless ``value`` is a number of seconds or None."""
    if value is not None and not is_number(value):
        raise TypeError(f"{name} must be a number of seconds or None, not {_shown(value)}")


def check_whole(name: str, value: object, *, optional: bool = False) -> None:
    """Raise ``TypeError`` unless ``value`` is an int (or None, when ``optional``)."""
    if optional and value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be a whole number, not {_shown(value)}")


def check_callable(name: str, value: object, *, what: str = "a function") -> None:
    """Raise ``TypeError`` unless ``value`` is callable or None."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be {what} or None, not {_shown(value)}")


def check_error_filter(value: Any) -> None:
    """Raise ``TypeError`` unless ``value`` is an exception type, a tuple of them, or a predicate.

    Raises:
        TypeError: ``value`` is none of those (a string naming a type, an instance...).
    """
    types = value if isinstance(value, tuple) else (value,)
    if all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
        return
    if not isinstance(value, tuple | type) and callable(value):
        return  # a predicate
    raise TypeError(
        "retry_on must be an exception type, a tuple of them, or a function of the error, "
        f"not {_shown(value)}"
    )


def check_on_error(value: object, *, legacy_cancel: bool = False, stacklevel: int = 3) -> OnError:
    """Return ``value`` as an ``OnError``; ``"cancel"`` (where ``legacy_cancel``) is ``"raise"``.

    Raises:
        ValueError: ``value`` is not one of the words.
    """
    if value == "cancel" and legacy_cancel:
        warnings.warn(
            'on_error="cancel" is deprecated: write on_error="raise" (the same behaviour)',
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        return "raise"
    if value == "raise" or value == "collect":
        return value
    raise ValueError(f"on_error must be 'raise' or 'collect', not {value!r}")


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
