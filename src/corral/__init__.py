"""corral: asyncio for bulk IO, without the pitfalls."""

from __future__ import annotations

from corral._exceptions import (
    BridgeDeadlock,
    BridgeError,
    CliError,
    CorralError,
    DeadlineExceeded,
    InputError,
    PoolClosed,
    QueueTimeout,
    ScopeClosed,
    UsageError,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "BridgeDeadlock",
    "BridgeError",
    "CliError",
    "CorralError",
    "DeadlineExceeded",
    "InputError",
    "PoolClosed",
    "QueueTimeout",
    "ScopeClosed",
    "UsageError",
    "__version__",
]

# Exported objects say they live in ``corral`` (reprs, docs and tracebacks name the public path).
for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and not isinstance(_obj, str):
        _obj.__module__ = "corral"
del _name, _obj
