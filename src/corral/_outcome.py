"""``Outcome``: what one item of a bulk operation ended with, value or error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T, R]):
    """The end of one item: its value, or the exception it raised.

    Attributes:
        index: the item's position in the input, from 0.
        item: the input item.
        value: what the call returned (None when it failed).
        error: the exception the call raised (None when it succeeded). Cancellation is never
            an outcome: it ends the whole operation.
    """

    index: int
    item: T
    value: R | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Return whether the call returned rather than raised."""
        return self.error is None

    def unwrap(self) -> R:
        """Return the value, or raise the error the call raised."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]  # None is a valid R when ok
