"""corral.http: the fetcher and the crawler (bulk HTTP on aiohttp, polite and resumable)."""

from __future__ import annotations

from corral.http._config import FetchConfig
from corral.http._crawlconfig import CrawlConfig, Page, Parsed
from corral.http._crawler import Crawler, open_crawler
from corral.http._fetcher import Fetcher, fetch, open_fetcher
from corral.http._request import Request, request_for
from corral.http._result import ERROR_KINDS, FetchResult
from corral.http._stats import FetchStatistics

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
