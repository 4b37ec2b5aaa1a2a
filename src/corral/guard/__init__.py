"""The corral guard: catch asyncio pitfalls while the code runs.

``watch()`` and ``install()`` switch on a guard that reports loop stalls (with the stack),
blocking calls on the loop thread (strict mode), coroutines never awaited, task exceptions
never retrieved, tasks left pending and aiohttp sessions never closed, each at the place in
the user's code that caused it. See docs/guard.md.
"""

from __future__ import annotations

from corral._exceptions import BlockingCallError
from corral.guard._config import GuardConfig
from corral.guard._finding import Finding, FindingKind, Frame, format_json, format_text
from corral.guard._guard import Guard, install, uninstall, watch
from corral.guard._runner import ScriptResult, run_script

__all__ = [
    "BlockingCallError",
    "Finding",
    "FindingKind",
    "Frame",
    "Guard",
    "GuardConfig",
    "ScriptResult",
    "format_json",
    "format_text",
    "install",
    "run_script",
    "uninstall",
    "watch",
]

# Exported objects say they live in ``corral.guard``, where users import them from.
for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith(("corral.guard.", "corral._exceptions")):
        _obj.__module__ = "corral.guard"
del _name, _obj
