"""The guard's own error, under corral's root ``CorralError`` (the tree: ``corral._exceptions``)."""

from __future__ import annotations

from corral._exceptions import CorralError
from corral.guard._finding import Finding


class BlockingCallError(CorralError):
    """A blocking call was made on the event loop's thread while the guard was in strict mode.

    The guard records the finding before raising, so catching this error does not hide it.
    """

    def __init__(self, message: str, *, finding: Finding) -> None:
        super().__init__(message)
        self.finding = finding
