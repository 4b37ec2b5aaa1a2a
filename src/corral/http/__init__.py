"""corral.http: the fetcher and the crawler (bulk HTTP on aiohttp, polite and resumable).

The names below load on first use (PEP 562), so that ``corral --help``, ``corral lint`` and
the command-line modules inside this package start without importing aiohttp and the
crawler's parsers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral._lazy import lazy_attributes

if TYPE_CHECKING:
    from corral.http._errors import (
        BadScope,
        BadURL,
        RedisUnreachable,
        ResourceExhausted,
        ScaleError,
    )
    from corral.http._faults import StoreError
    from corral.http.crawler._config import CrawlConfig, Page, Parsed
    from corral.http.crawler._crawler import Crawler, open_crawler
    from corral.http.engine._config import FetchConfig
    from corral.http.engine._request import Request, request_for
    from corral.http.engine._result import ERROR_KINDS, FetchResult
    from corral.http.fetcher._fetcher import Fetcher, fetch, open_fetcher
    from corral.http.report._stats import FetchStatistics
    from corral.http.runreport._write import write_report
    from corral.http.store._refresh import Refresh

_HOMES = {
    "BadScope": "corral.http._errors",
    "BadURL": "corral.http._errors",
    "ResourceExhausted": "corral.http._errors",
    "ScaleError": "corral.http._errors",
    "RedisUnreachable": "corral.http._errors",
    "ERROR_KINDS": "corral.http.engine._result",
    "CrawlConfig": "corral.http.crawler._config",
    "Crawler": "corral.http.crawler._crawler",
    "FetchConfig": "corral.http.engine._config",
    "FetchResult": "corral.http.engine._result",
    "FetchStatistics": "corral.http.report._stats",
    "Fetcher": "corral.http.fetcher._fetcher",
    "Page": "corral.http.crawler._config",
    "Parsed": "corral.http.crawler._config",
    "Refresh": "corral.http.store._refresh",
    "Request": "corral.http.engine._request",
    "StoreError": "corral.http._faults",
    "fetch": "corral.http.fetcher._fetcher",
    "open_crawler": "corral.http.crawler._crawler",
    "open_fetcher": "corral.http.fetcher._fetcher",
    "request_for": "corral.http.engine._request",
    "write_report": "corral.http.runreport._write",
}

__all__ = [
    "ERROR_KINDS",
    "BadScope",
    "BadURL",
    "CrawlConfig",
    "Crawler",
    "FetchConfig",
    "FetchResult",
    "FetchStatistics",
    "Fetcher",
    "Page",
    "Parsed",
    "Request",
    "ResourceExhausted",
    "ScaleError",
    "RedisUnreachable",
    "Refresh",
    "StoreError",
    "fetch",
    "open_crawler",
    "open_fetcher",
    "request_for",
    "write_report",
]


__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
