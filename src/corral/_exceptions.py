"""The exceptions corral raises: the root ``CorralError`` and the errors defined here.

Each package owns its errors under the root and exports them where they are raised (the
guard's ``BlockingCallError`` lives in ``corral.guard``); this module is the toolkit's bottom
and imports nothing of corral. The whole tree::

    CorralError
    ├── DeadlineExceeded        (also TimeoutError)  fail_after's deadline passed
    ├── QueueTimeout            (also TimeoutError)  a wait for a slot, token or resource ran out
    ├── PoolClosed                                   acquire on a closed Pool
    ├── ScopeClosed                                  spawn or start_soon on a finishing scope
    ├── BridgeError                                  run_sync could not complete
    │   └── BridgeDeadlock                           waited on the caller's blocked loop
    ├── BadURL                  (also ValueError)    a URL corral will not fetch (why, in words)
    ├── BadScope                (also ValueError)    crawl scope rules that cannot work
    ├── BlockingCallError       (corral.guard)       guard strict mode: a blocking call on the loop
    └── CliError                                     carries an exit code and a one-line message
        ├── UsageError          (exit 2)             a bad flag or argument
        ├── InputError          (exit 2)             an unreadable or malformed input
        ├── OutputError         (exit 2)             an output that cannot be used or written
        └── ResourceExhausted   (exit 75)            this machine ran out of descriptors...

Expected events are outcomes, not exceptions: a failed item of ``corral.map(on_error="collect")``
is an ``Outcome``, a failed URL is a recorded result.
"""

from __future__ import annotations


class CorralError(Exception):
    """Root of every exception corral raises on purpose."""


class DeadlineExceeded(CorralError, TimeoutError):
    """A ``fail_after`` deadline passed before the work finished."""


class QueueTimeout(CorralError, TimeoutError):
    """Waiting for a concurrency slot, a rate token or a pooled resource took too long.

    Raised instead of charging queueing time to the work's own timeout.
    """


class PoolClosed(CorralError):
    """A resource was requested from a ``Pool`` that is closing or closed."""


class ScopeClosed(CorralError, RuntimeError):
    """A child was spawned into a scope that has started to finish."""


class BridgeError(CorralError, RuntimeError):
    """``run_sync`` could not run the coroutine to completion."""


class BridgeDeadlock(BridgeError):
    """The coroutine given to ``run_sync`` waited on the caller's loop, which run_sync blocks."""


class BadURL(CorralError, ValueError):
    """A URL corral will not fetch: the message says why in a few words.

    Raised by ``corral.http`` URL parsing; a crawl or fetch records it as an ``invalid_url``
    outcome instead of stopping.
    """


class BadScope(CorralError, ValueError):
    """Crawl scope rules that cannot work: a bad pattern, scope kind, depth or seed."""


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


class ResourceExhausted(CliError):
    """This machine ran out of file descriptors, buffers or memory for a while: the run stopped.

    Records already made are kept; the URLs held back are still pending. Such errors are the
    run's problem, never a URL's outcome (see ``corral.http._local``).
    """

    exit_code = 75  # EX_TEMPFAIL (sysexits.h): a temporary failure, try again later
