"""Sockets within the process's descriptor limit: a budget, and a connector that keeps to it.

aiohttp's ``TCPConnector(limit=N)`` bounds the connections *in use*, but keeps every idle
keep-alive connection until its keep-alive timeout (15 s), one or more a host. A run over
1,000 hosts at the common ``ulimit -n 1024`` therefore held 1,000 idle sockets beside the
100 in use and ran out of descriptors (issue 12, item 6): connects failed with "Too many
open files", and SQLite could not open its temporary files.

So the fetcher plans its sockets from ``RLIMIT_NOFILE``: what the process may open, less
what is open already and a reserve for everything else (the store and its WAL, the input,
body files written by threads, DNS lookups), is the budget; requests in flight get at most
three quarters of it (``--concurrency`` is lowered if it asks for more), idle keep-alive
sockets the rest. ``BoundedConnector`` closes the oldest hosts' idle sockets when they pass
their share. The alternatives aiohttp offers do not bound the count: a shorter
``keepalive_timeout`` still keeps one a host for that long, ``limit_per_host`` bounds
sockets in use, and ``force_close`` gives up keep-alive altogether (a TCP handshake per
request, on the benchmark's one host too).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ConnectionKey

_RESERVE = 64  # descriptors kept for all but sockets (a quarter of the limit when it is low)
_FLOOR = 4  # sockets the budget never goes below, however little the limit leaves


@dataclass(frozen=True, slots=True)
class SocketPlan:
    """How many sockets a fetcher may hold: in use (its concurrency) and idle.

    Attributes:
        concurrency: requests in flight at most (``--concurrency``, lowered to fit).
        idle: idle keep-alive sockets kept at most; None when the process has no limit.
        limit: the process's open-files limit (``ulimit -n``), None when there is none.
    """

    concurrency: int
    idle: int | None
    limit: int | None

    def note(self, asked: int) -> str | None:
        """Return a line telling that ``asked`` (``--concurrency``) was lowered, if it was."""
        if self.concurrency >= asked:
            return None
        return (
            f"corral: --concurrency {asked} lowered to {self.concurrency}: that is what the "
            f"open-files limit (ulimit -n {self.limit}) leaves room for"
        )


def plan_sockets(concurrency: int) -> SocketPlan:
    """Return how many sockets a fetcher of ``concurrency`` may hold in this process now."""
    limit = _open_files_limit()
    if limit is None:
        return SocketPlan(concurrency, None, None)
    reserve = min(_RESERVE, limit // 4)
    budget = max(_FLOOR, limit - _open_descriptors() - reserve)
    active = min(concurrency, max(1, budget * 3 // 4))
    return SocketPlan(active, budget - active, limit)


def _open_files_limit() -> int | None:
    try:
        import resource
    except ImportError:  # (not on Windows, which has no such per-process limit)
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _open_descriptors() -> int:
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(directory))
        except OSError:
            continue
    return 16  # no way to look: about what a fresh interpreter with a store holds


class BoundedConnector(aiohttp.TCPConnector):
    """A ``TCPConnector`` that keeps at most about ``max_idle`` idle keep-alive sockets.

    When a released connection takes the idle ones past ``max_idle``, the idle sockets of
    the hosts that have had them longest are closed, down to three quarters of it (so the
    count is redone at most once every ``max_idle / 4`` releases, not at each).
    """

    def __init__(self, *, max_idle: int, **options: Any) -> None:
        super().__init__(**options)
        self._max_idle = max_idle
        self._idle_bound = 0  # idle sockets at most: counted up on release, redone on a trim

    def _release(
        self, key: ConnectionKey, protocol: ResponseHandler, *, should_close: bool = False
    ) -> None:
        super()._release(key, protocol, should_close=should_close)
        self._idle_bound += 1
        if self._idle_bound > self._max_idle:
            self._trim()

    def _trim(self) -> None:
        # aiohttp's idle connections: per key, (protocol, released at), oldest first; a key
        # stays in the dict from its first idle connection until its last one is taken, so
        # the dict's order puts the hosts idle longest first.
        conns = self._conns
        idle = sum(len(queue) for queue in conns.values())
        target = self._max_idle * 3 // 4
        while idle > target and conns:
            for protocol, _ in conns.pop(next(iter(conns))):
                protocol.close()  # (enable_cleanup_closed is off: nothing to track for TLS)
                idle -= 1
        self._idle_bound = idle
