"""corral: asyncio for bulk IO, without the pitfalls."""

from __future__ import annotations

from corral._bridge import run_sync
from corral._clock import Clock
from corral._deadlines import (
    CancelScope,
    FailScope,
    fail_after,
    fail_at,
    move_on_after,
    move_on_at,
)
from corral._exceptions import (
    BridgeDeadlock,
    BridgeError,
    CorralError,
    DeadlineExceeded,
    PoolClosed,
    QueueTimeout,
    ScopeClosed,
)
from corral._keyed import KeyedLimit, KeyedLimitStatistics
from corral._map import MapRun, MapStream, map
from corral._offload import (
    ThreadLimit,
    ThreadLimitStatistics,
    default_thread_limit,
    to_process,
    to_thread,
)
from corral._outcome import Outcome
from corral._pool import Pool, PoolStatistics
from corral._ratelimit import RateLimit, RateLimitStatistics
from corral._retry import Attempt, Backoff, RetryPolicy, retry
from corral._scope import Scope, open_scope
from corral._streams import Stream, batched, merge
from corral._timing import TimedFunction, TimingStatistics, timed

__version__ = "0.1.0.dev0"

__all__ = [
    "Attempt",
    "Backoff",
    "BridgeDeadlock",
    "BridgeError",
    "CancelScope",
    "Clock",
    "CorralError",
    "DeadlineExceeded",
    "FailScope",
    "KeyedLimit",
    "KeyedLimitStatistics",
    "MapRun",
    "MapStream",
    "Outcome",
    "Pool",
    "PoolClosed",
    "PoolStatistics",
    "QueueTimeout",
    "RateLimit",
    "RateLimitStatistics",
    "RetryPolicy",
    "Scope",
    "ScopeClosed",
    "Stream",
    "ThreadLimit",
    "ThreadLimitStatistics",
    "TimedFunction",
    "TimingStatistics",
    "__version__",
    "batched",
    "default_thread_limit",
    "fail_after",
    "fail_at",
    "map",
    "merge",
    "move_on_after",
    "move_on_at",
    "open_scope",
    "retry",
    "run_sync",
    "timed",
    "to_process",
    "to_thread",
]

# Exported objects say they live in ``corral`` (reprs, docs and tracebacks name the public path).
for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and not isinstance(_obj, str):
        _obj.__module__ = "corral"
del _name, _obj

# Names that left the toolkit's API in issue 14 (the command line's errors; ResourceExhausted
# is corral.http's): still reachable, with a DeprecationWarning, for a release.
_MOVED = {
    "CliError": "corral._clierrors",
    "UsageError": "corral._clierrors",
    "InputError": "corral._clierrors",
    "OutputError": "corral._clierrors",
    "ResourceExhausted": "corral.http",
}


def __getattr__(name: str) -> object:
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module 'corral' has no attribute {name!r}")
    import importlib
    import warnings

    where = "corral.http.ResourceExhausted" if home == "corral.http" else "a command-line error"
    warnings.warn(
        f"corral.{name} is deprecated: it is {where}, no longer part of the toolkit's API",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(home), name)
