"""The request in flight: what the dispatcher queues and the engine's workers carry.

Its own module so that the dispatcher and the engine both import it one way. Flights are
built in one place, ``corral.http.pipeline._flights`` (from a target, an input line, a
stored row).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corral.http.engine._politeness import HostState
    from corral.http.engine._proxies import ProxyRoute
    from corral.http.engine._request import Request
    from corral.http.engine._result import FetchResult


class Flight:
    """A request on its way through the engine, with its attempt count."""

    __slots__ = (
        "attempts",
        "body",
        "first_started",
        "host",
        "ident",
        "lane",
        "preset",
        "remote",
        "request",
        "route",
    )

    def __init__(
        self, request: Request | None, ident: object = None, preset: FetchResult | None = None
    ) -> None:
        self.request = request
        self.ident = ident  # the caller's handle (a frontier row id)
        self.preset = preset  # a record decided before any attempt (an invalid URL)
        self.attempts = 0
        self.first_started: float | None = None
        self.body: bytes | None = None  # the last body read, when the engine keeps bodies
        self.host: HostState | None = None  # its host's state, set as the dispatcher starts it
        self.remote: object = None  # what a worker process sent with its record (a parse)
        # With FetchConfig.per_proxy: its proxy, and its politeness key ("host via proxy")
        self.route: ProxyRoute | None = None
        self.lane: str | None = None
