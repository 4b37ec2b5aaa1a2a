"""The site itself: the aiohttp application, its runner, and the :class:`Site` handle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from corral.testing import _connections, _cookies, _redirects
from corral.testing._bodies import BodyEndpoints
from corral.testing._crawl_pages import CrawlPages
from corral.testing._http_endpoints import HttpEndpoints
from corral.testing._layout import Origins, SiteLayout
from corral.testing._link_forms import LinkForms
from corral.testing._ratelimited import RateLimiter, RateLimitPolicy
from corral.testing._robots import Robots, RobotsPolicy
from corral.testing._shutdown import ShutdownSignal
from corral.testing._sitemaps import Sitemaps
from corral.testing._statistics import Recorder, SiteStatistics

# A backstop only: every handler that waits on purpose ends as soon as the site starts to close.
_SHUTDOWN_GRACE = 1.0


def _origin(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _State:
    """The site's mutable parts, shared by its handlers and its :class:`Site` handle."""

    __slots__ = ("http", "limiter", "recorder", "shutdown")

    def __init__(
        self, *, rate_limit: RateLimitPolicy, clock: Callable[[], float], log_size: int
    ) -> None:
        self.recorder = Recorder(clock=clock, log_size=log_size)
        self.limiter = RateLimiter(rate_limit, clock)
        self.shutdown = ShutdownSignal()
        self.http = HttpEndpoints(self.shutdown)


@final
class Site:
    """A running test site: where it listens and what it has served.

    Made by :func:`open_site`; valid until its ``async with`` block ends.
    """

    __slots__ = ("_host", "_other_host", "_port", "_state")

    def __init__(self, *, host: str, port: int, other_host: str, state: _State) -> None:
        self._host = host
        self._port = port
        self._other_host = other_host
        self._state = state

    def __repr__(self) -> str:
        return f"<corral.testing.Site {self.base_url}>"

    @property
    def host(self) -> str:
        """The address the site listens on, e.g. ``"127.0.0.1"``."""
        return self._host

    @property
    def port(self) -> int:
        """The port the site listens on (the one the system chose when ``port=0``)."""
        return self._port

    @property
    def base_url(self) -> str:
        """The site's origin, without a trailing slash, e.g. ``"http://127.0.0.1:40123"``."""
        return _origin(self._host, self._port)

    @property
    def other_base_url(self) -> str:
        """The same server under ``SiteLayout.other_host``: another host to a client."""
        return _origin(self._other_host, self._port)

    def url(self, path: str = "/") -> str:
        """Return the absolute URL of ``path`` on this site.

        Args:
            path: A path, with or without its leading slash, optionally with a query string.

        Returns:
            ``base_url`` joined with ``path``, e.g. ``site.url("page/1")``.
        """
        return f"{self.base_url}/{path.removeprefix('/')}"

    async def wait_until(self, predicate: Callable[[SiteStatistics], bool]) -> SiteStatistics:
        """Wait until ``predicate(site.statistics())`` holds, and return those statistics.

        The predicate is checked now and again whenever a request arrives or finishes, so a
        test can wait for the site to see something (a number of requests, a ban, a handler in
        flight) without sleeping. Bound the wait with ``asyncio.timeout`` if it may never hold.

        Args:
            predicate: A test of a statistics snapshot.

        Returns:
            The first snapshot for which ``predicate`` is true.
        """
        while True:
            changed = self._state.recorder.changed()
            stats = self.statistics()
            if predicate(stats):
                return stats
            # Shielded: one waiter's cancellation must not cancel the future others share.
            await asyncio.shield(changed)

    def statistics(self) -> SiteStatistics:
        """Return a snapshot of what the site has served so far."""
        recorder = self._state.recorder
        return SiteStatistics(
            requests=recorder.requests,
            by_prefix=dict(recorder.by_prefix),
            in_flight=recorder.in_flight,
            peak_in_flight=recorder.peak_in_flight,
            clients=self._state.limiter.statistics(),
            flaky=dict(self._state.http.flaky_attempts),
            recent=tuple(recorder.log) if recorder.log is not None else (),
        )


def _observe(recorder: Recorder, limiter: RateLimiter) -> Middleware:
    """Return the middleware that counts every request and turns banned clients away."""

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = limiter.client_key(request)
        recorder.arrived(request, client)
        try:
            refusal = limiter.forbid(client)
            if refusal is not None:
                return refusal
            return await handler(request)
        finally:
            recorder.finished()

    return observe


def _build_app(
    *, host: str, layout: SiteLayout, robots: RobotsPolicy, state: _State
) -> web.Application:
    app = web.Application(middlewares=[_observe(state.recorder, state.limiter)])
    origins = Origins(host=host, other_host=layout.other_host)
    app.router.add_routes(
        [
            *state.http.routes(),
            *_redirects.routes(),
            *_cookies.routes(),
            *_connections.routes(),
            *BodyEndpoints(state.shutdown).routes(),
            web.route("*", "/limited/{tail:.*}", state.limiter.handle),
            *Robots(robots, origins).routes(),
            *Sitemaps(layout, origins).routes(),
            *CrawlPages(layout, origins).routes(),
            *LinkForms(origins).routes(),
        ]
    )

    async def stop_waiting(app: web.Application) -> None:
        state.shutdown.set()

    app.on_shutdown.append(stop_waiting)
    return app


@contextlib.asynccontextmanager
async def _listening(app: web.Application, host: str, port: int) -> AsyncIterator[int]:
    """Serve ``app`` on ``host:port`` and yield the bound port; close everything on exit."""
    # No access log (it costs a third of a small request's time), handlers cancelled when
    # their client leaves, and a short grace: waiting handlers end on the shutdown signal.
    runner = web.AppRunner(
        app, access_log=None, handler_cancellation=True, shutdown_timeout=_SHUTDOWN_GRACE
    )
    await runner.setup()
    try:
        tcp = web.TCPSite(runner, host, port)
        await tcp.start()
        yield tcp.port
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def open_site(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    rate_limit: RateLimitPolicy | None = None,
    robots: RobotsPolicy | None = None,
    layout: SiteLayout | None = None,
    clock: Callable[[], float] | None = None,
    log_size: int = 1000,
) -> AsyncIterator[Site]:
    """Serve the test site on ``host:port`` for the duration of the ``async with`` block.

    Args:
        host: The address to listen on. Keep the default, loopback, for tests.
        port: The port; 0 (the default) lets the system pick a free one.
        rate_limit: The policy of the rate-limited area (default: ``RateLimitPolicy()``).
        robots: What ``/robots.txt`` says (default: ``RobotsPolicy()``).
        layout: The size of the generated crawl site (default: ``SiteLayout()``).
        clock: Seconds from a monotonic clock, for the rate limits and the request log
            (default: ``time.monotonic``). Inject a fake one to test time logic without sleeping.
        log_size: How many recent requests ``statistics().recent`` keeps; 0 keeps none.

    Yields:
        The running :class:`Site`.

    Raises:
        OSError: The address cannot be listened on (in use, or not this machine's).
        ValueError: ``log_size`` is negative.
    """
    if log_size < 0:
        raise ValueError(f"log_size must be >= 0, got {log_size!r}")
    layout = layout or SiteLayout()
    state = _State(
        rate_limit=rate_limit or RateLimitPolicy(),
        clock=clock or time.monotonic,
        log_size=log_size,
    )
    app = _build_app(host=host, layout=layout, robots=robots or RobotsPolicy(), state=state)
    async with _listening(app, host, port) as bound:
        yield Site(host=host, port=bound, other_host=layout.other_host, state=state)
