"""Tools for testing code built on corral, and corral itself.

``async with corral.testing.open_site() as site:`` serves, on 127.0.0.1 and a free port,
endpoints that misbehave on request (statuses, delays, ``Retry-After``, flaky URLs, dropped and
reset connections, slow, stalled, huge and truncated bodies, a gzip bomb, redirects and loops,
a rate-limited area that bans) and a deterministic crawl site (interlinked pages, robots.txt,
sitemaps, link forms, duplicates, a depth chain and an endless calendar trap).
``python -m corral.testing`` serves the same site from a subprocess. ``docs/testing.md`` lists
every endpoint.

``VirtualTimeLoop`` and ``run_virtual`` run time logic on a virtual clock that jumps whenever
the loop would sleep, so timers can be tested for exact values without waiting.
"""

from __future__ import annotations

from corral.testing._clock import VirtualTimeLoop, run_virtual
from corral.testing._layout import SiteLayout
from corral.testing._ratelimited import RateLimitPolicy
from corral.testing._robots import RobotsPolicy
from corral.testing._site import Site, open_site
from corral.testing._statistics import ClientStatistics, RequestRecord, SiteStatistics

__all__ = [
    "ClientStatistics",
    "RateLimitPolicy",
    "RequestRecord",
    "RobotsPolicy",
    "Site",
    "SiteLayout",
    "SiteStatistics",
    "VirtualTimeLoop",
    "open_site",
    "run_virtual",
]

# Exported objects say they live in ``corral.testing`` (reprs, docs and tracebacks).
for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__"):
        _obj.__module__ = "corral.testing"
del _name, _obj
