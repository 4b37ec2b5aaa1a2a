"""The toolkit's exceptions, and the root of every exception corral raises.

The toolkit's part of the tree (each face owns its own errors under the same root, exported
from the face: ``corral.http``, ``corral.guard``; the whole tree is drawn in
``docs/design.md``, "Errors")::

    CorralError
    ├── DeadlineExceeded        (also TimeoutError)  fail_after's deadline passed
    ├── QueueTimeout            (also TimeoutError)  a wait for a slot, token or resource ran out
    ├── PoolClosed                                   acquire on a closed Pool
    ├── ScopeClosed                                  spawn or start_soon on a finishing scope
    └── BridgeError                                  run_sync could not complete
        └── BridgeDeadlock                           waited on the caller's blocked loop

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
