"""Know how long the loop's thread waited for a CPU, so a busy machine is not blamed on the code.

On a loaded machine a runnable thread waits its turn on the kernel's run queue: the loop then
answers a ping late though nothing in it blocked, and the stall would name whatever line it
was on (``socket.send`` on a non-blocking socket, seen in corral's own tests at a load of 3 on
2 cores). Linux counts that wait per thread (``/proc/self/task/TID/schedstat``, its second
field, in nanoseconds); the watchdog subtracts the wait inside a ping's round trip before it
calls the ping late, as it subtracts garbage collection (:mod:`._gcclock`). Where the file
is missing (not Linux, a kernel without schedstats) the wait reads as 0: stalls are measured
as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

RunQueueClock = Callable[[], float]  # seconds one thread has waited for a CPU, ever


def run_queue_clock(native_id: int | None = None) -> RunQueueClock:
    """Return a clock of the seconds thread ``native_id`` (default: the caller's) has spent
    runnable but waiting for a CPU; one that stays at 0 where the kernel does not say."""
    path = f"/proc/self/task/{native_id or threading.get_native_id()}/schedstat"
    broken = False

    def waited() -> float:
        nonlocal broken
        if broken:
            return 0.0
        try:  # (open, read, close each time: a descriptor kept open would be the process's)
            with open(path, "rb") as file:
                return int(file.read().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            broken = True  # (a thread gone reads as ESRCH: its loop is being unwatched)
            return 0.0

    return waited


def no_wait() -> float:
    """A clock for a thread whose waits are not known: always 0."""
    return 0.0
