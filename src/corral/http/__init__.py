"""corral.http: the fetcher and the crawler (bulk HTTP on aiohttp, polite and resumable).

The names below load on first use (PEP 562), so that ``corral --help``, ``corral lint`` and
the command-line modules inside this package start without importing aiohttp and the
crawler's parsers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral._lazy import lazy_attributes

if TYPE_CHECKING:
    from corral.http._config import FetchConfig
    from corral.http._crawlconfig import CrawlConfig, Page, Parsed
    from corral.http._crawler import Crawler, open_crawler
    from corral.http._fetcher import Fetcher, fetch, open_fetcher
    from corral.http._request import Request, request_for
    from corral.http._result import ERROR_KINDS, FetchResult
    from corral.http._stats import FetchStatistics

_HOMES = {
    "ERROR_KINDS": "corral.http._result",
    "CrawlConfig": "corral.http._crawlconfig",
    "Crawler": "corral.http._crawler",
    "FetchConfig": "corral.http._config",
    "FetchResult": "corral.http._result",
    "FetchStatistics": "corral.http._stats",
    "Fetcher": "corral.http._fetcher",
    "Page": "corral.http._crawlconfig",
    "Parsed": "corral.http._crawlconfig",
    "Request": "corral.http._request",
    "fetch": "corral.http._fetcher",
    "open_crawler": "corral.http._crawler",
    "open_fetcher": "corral.http._fetcher",
    "request_for": "corral.http._request",
}

__all__ = [
    "ERROR_KINDS",
    "CrawlConfig",
    "Crawler",
    "FetchConfig",
    "FetchResult",
    "FetchStatistics",
    "Fetcher",
    "Page",
    "Parsed",
    "Request",
    "fetch",
    "open_crawler",
    "open_fetcher",
    "request_for",
]


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
