"""Errors about this machine, not the remote: the run's problem, never a URL's outcome.

A connect that fails with EMFILE ("Too many open files"), ENFILE, ENOBUFS or ENOMEM says
nothing about the URL: recorded as its final ``connect`` failure, it would never be fetched
again by a resume (issue 12, item 6: a run over 1,000 hosts at ``ulimit -n 1024`` recorded
hundreds that way, then crashed). Such an attempt is not counted; its job waits a moment
and goes back to the dispatcher. If nothing but local errors comes back for
``LOCAL_PATIENCE`` seconds, the machine is not going to recover by itself: the run stops
with one line saying what ran out (``ResourceExhausted``), every record already made kept.
"""

from __future__ import annotations

import errno
import os

from corral.http._errors import ResourceExhausted

LOCAL = "local"  # the error kind attempt() gives them; the engine never records it
LOCAL_WAIT = 0.2  # seconds a job held back by a local error waits before its next try
LOCAL_PATIENCE = 5.0  # seconds of nothing but local errors before the run stops

# What each one means ran out; ENFILE before EMFILE, whose message is a prefix of its own.
_LOCAL_ERRNOS = {
    errno.ENFILE: "file descriptors (system-wide)",
    errno.EMFILE: "file descriptors",
    errno.ENOBUFS: "network buffers",
    errno.ENOMEM: "memory",
}


def local_errno(exc: BaseException) -> int | None:
    """Return the errno if ``exc`` (or what caused it) is about this machine, else None."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, MemoryError):
            return errno.ENOMEM
        number = current.errno if isinstance(current, OSError) else None
        if number is not None and number in _LOCAL_ERRNOS:
            return number
        current = current.__cause__ or current.__context__
        seen += 1
    return None


class LocalTrouble:
    """Tell a passing shortage (hold the job back) from one that persists (stop the run)."""

    __slots__ = ("_mark", "_since")

    def __init__(self) -> None:
        self._since: float | None = None
        self._mark = -1

    def held_back(self, now: float, progress: int, error: str | None) -> None:
        """Note a local error at ``now``; ``progress`` counts attempts that reached the network.

        Raises:
            ResourceExhausted: only local errors came back for ``LOCAL_PATIENCE`` seconds.
        """
        if self._since is None or progress != self._mark:
            self._since, self._mark = now, progress
            return
        if now - self._since >= LOCAL_PATIENCE:
            raise ResourceExhausted(exhausted_message(error))


def exhausted_message(error: str | None) -> str:
    """Return the one line that says what this machine ran out of, and what to do."""
    text = error or ""
    what = "memory" if "MemoryError" in text else "a resource"
    what = next((n for e, n in _LOCAL_ERRNOS.items() if os.strerror(e) in text), what)
    advice = {
        "file descriptors": "raise the limit (ulimit -n) or lower --concurrency",
        "memory": "free some memory or lower --concurrency",
    }.get(what, "lower --concurrency")
    return (
        f"this machine ran out of {what} for {LOCAL_PATIENCE:.0f} s ({text}); the run "
        f"stopped with every record already made kept: {advice}"
    )
