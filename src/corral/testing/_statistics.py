"""What the site has served, for assertions: counts, concurrency, per-client state, a request log.

The counters are plain ints and dicts updated on the event loop's thread, so they need no lock;
:meth:`Site.statistics` copies them into frozen dataclasses that later requests cannot change.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

# The first path segment of a raw request target: "/page/7?x=1" -> "/page", "/" -> "/".
_PREFIX = re.compile(r"/[^/?#]*")


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    """One request as it arrived.

    Attributes:
        at: The site's clock when the request arrived (seconds; see ``open_site(clock=...)``).
        method: The HTTP method.
        target: The path and query string as sent, e.g. ``"/page/7?x=1"``.
        client: The client key the rate-limited area uses (the peer address by default).
        user_agent: The ``User-Agent`` header, or ``None`` when absent.
    """

    at: float
    method: str
    target: str
    client: str
    user_agent: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientStatistics:
    """One client's dealings with the rate-limited area (``/limited/...``).

    Attributes:
        requests: Requests it made to the rate-limited area while not banned.
        allowed: Of those, how many were answered normally (200).
        throttled: How many were answered 429 with ``Retry-After``.
        forbidden: How many requests (anywhere on the site) were answered 403 because of a ban,
            counting the one that started the ban.
        bans: How many times it has been banned.
        banned: Whether it is banned now.
    """

    requests: int
    allowed: int
    throttled: int
    forbidden: int
    bans: int
    banned: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteStatistics:
    """A snapshot of what the site has served since it opened.

    Attributes:
        requests: Requests received, whatever their outcome (dropped and reset ones included).
        by_prefix: Requests per first path segment, e.g. ``{"/page": 3000, "/robots.txt": 1}``.
        in_flight: Requests whose handler is running now.
        peak_in_flight: The most handlers that ever ran at once: a client's real concurrency.
        clients: Per-client state of the rate-limited area, keyed by client key.
        flaky: Attempts seen per flaky key (``"/flaky/{n}/{key}"`` counts under ``"{n}/{key}"``).
        recent: The last requests received, oldest first (at most ``log_size`` of them).
    """

    requests: int
    by_prefix: Mapping[str, int]
    in_flight: int
    peak_in_flight: int
    clients: Mapping[str, ClientStatistics]
    flaky: Mapping[str, int]
    recent: tuple[RequestRecord, ...]


class Recorder:
    """Count requests as they arrive and leave; keep a bounded log of the latest ones."""

    __slots__ = (
        "_changed",
        "_clock",
        "by_prefix",
        "in_flight",
        "log",
        "peak_in_flight",
        "requests",
    )

    def __init__(self, *, clock: Callable[[], float], log_size: int) -> None:
        self._clock = clock
        self._changed: asyncio.Future[None] | None = None
        self.requests = 0
        self.by_prefix: dict[str, int] = {}
        self.in_flight = 0
        self.peak_in_flight = 0
        self.log: deque[RequestRecord] | None = deque(maxlen=log_size) if log_size else None

    def arrived(self, request: web.BaseRequest, client: str) -> None:
        """Count a request that has just arrived and mark it in flight."""
        self.requests += 1
        target = request.raw_path
        match = _PREFIX.match(target)
        prefix = match.group() if match else target
        self.by_prefix[prefix] = self.by_prefix.get(prefix, 0) + 1
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight
        if self.log is not None:
            self.log.append(
                RequestRecord(
                    at=self._clock(),
                    method=request.method,
                    target=target,
                    client=client,
                    user_agent=request.headers.get("User-Agent"),
                )
            )
        if self._changed is not None:
            self._notify()

    def finished(self) -> None:
        """Mark a request's handler as done."""
        self.in_flight -= 1
        if self._changed is not None:
            self._notify()

    def changed(self) -> asyncio.Future[None]:
        """Return a future that completes at the next request's arrival or end."""
        if self._changed is None or self._changed.done():
            self._changed = asyncio.get_running_loop().create_future()
        return self._changed

    def _notify(self) -> None:
        changed, self._changed = self._changed, None
        if changed is not None and not changed.done():
            changed.set_result(None)
