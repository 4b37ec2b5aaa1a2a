"""The corral guard: catch asyncio pitfalls while the code runs.

``watch()`` and ``install()`` switch on a guard that reports loop stalls (with the stack),
blocking calls on the loop thread (strict mode), coroutines never awaited, task exceptions
never retrieved, tasks left pending and aiohttp sessions never closed, each at the place in
the user's code that caused it. See docs/guard.md. The names load on first use (see
``corral._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral._lazy import lazy_attributes

if TYPE_CHECKING:
    from corral.guard._config import GuardConfig
    from corral.guard._exceptions import BlockingCallError
    from corral.guard._finding import Finding, FindingKind, Frame
    from corral.guard._guard import Guard, install, uninstall, watch
    from corral.guard._report import format_json, format_text
    from corral.guard._runner import ScriptResult, run_script

_HOMES = {
    "BlockingCallError": "corral.guard._exceptions",
    "Finding": "corral.guard._finding",
    "FindingKind": "corral.guard._finding",
    "Frame": "corral.guard._finding",
    "Guard": "corral.guard._guard",
    "GuardConfig": "corral.guard._config",
    "ScriptResult": "corral.guard._runner",
    "format_json": "corral.guard._report",
    "format_text": "corral.guard._report",
    "install": "corral.guard._guard",
    "run_script": "corral.guard._runner",
    "uninstall": "corral.guard._guard",
    "watch": "corral.guard._guard",
}

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
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES, rename=True)
