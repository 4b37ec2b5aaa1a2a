"""Serve the site until SIGTERM or SIGINT: the body of ``python -m corral.testing``."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from corral.testing._layout import SiteLayout
from corral.testing._ratelimited import RateLimitPolicy
from corral.testing._robots import RobotsPolicy
from corral.testing._site import Site, open_site

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve_until_signalled(
    *,
    host: str,
    port: int,
    rate_limit: RateLimitPolicy,
    robots: RobotsPolicy,
    layout: SiteLayout,
    log_size: int,
    on_ready: Callable[[Site], None],
) -> None:
    """Open the site, call ``on_ready`` with it, and serve until SIGTERM or SIGINT arrives.

    The signals set an event instead of raising into the loop, so the site closes through
    ``open_site``'s own exit: in-flight handlers end and every connection is closed.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    try:
        async with open_site(
            host=host,
            port=port,
            rate_limit=rate_limit,
            robots=robots,
            layout=layout,
            log_size=log_size,
        ) as site:
            on_ready(site)
            await stop.wait()
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
