"""A worker process ends with the process that started it, whatever the worker is doing.

A worker stopped by its parent gets SIGTERM and ends cleanly (``_partition``). But a parent
killed outright (``kill -9``, the OOM killer) sends nothing, and a worker inside a parse
callback that blocks (a long ``time.sleep``, a hung C call) never reads the end of its stdin:
it lived on, holding the crawl's stderr open, until the callback returned. So the worker asks
the kernel to kill it when its parent dies (Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``),
and elsewhere a daemon thread watches the parent's process id. SIGKILL, not SIGTERM: the
parent that would read its records is gone, what it leased stays in the store for a resume,
and a SIGTERM would only cancel the event loop, which waits for the blocked thread.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading

PARENT_ENV = "CORRAL_PARENT_PID"  # the parent's process id, set in the worker's environment
_PR_SET_PDEATHSIG = 1
_WATCH_EVERY = 0.5  # seconds between two looks at the parent (where prctl is not available)


def parent_env() -> dict[str, str]:
    """Return the environment of a worker started by this process (``die_with_parent``
    checks the parent is still the one that started it)."""
    return {**os.environ, PARENT_ENV: str(os.getpid())}


def die_with_parent() -> None:
    """End this process (SIGKILL) when the process that started it ends.

    On Linux the signal is tied to the thread that forked this process: corral starts its
    workers from the event loop's thread, which lives as long as the crawl.
    """
    expected = os.environ.pop(PARENT_ENV, None)
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            _watch(os.getppid())
    else:
        _watch(os.getppid())
    if expected is not None and os.getppid() != int(expected):
        os._exit(1)  # the parent died before the request above: nobody will read our output


def _watch(parent: int) -> None:
    tick = threading.Event()  # never set: the thread's sleep

    def run() -> None:
        while not tick.wait(_WATCH_EVERY):
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=run, name="corral-parent-watch", daemon=True).start()
