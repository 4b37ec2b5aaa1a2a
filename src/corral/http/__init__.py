"""corral.http: the fetcher and the crawler (bulk HTTP on aiohttp, polite and resumable)."""

from __future__ import annotations

from corral.http._config import FetchConfig
from corral.http._fetcher import Fetcher, fetch, open_fetcher
from corral.http._request import Request, request_for
from corral.http._result import ERROR_KINDS, FetchResult
from corral.http._stats import FetchStatistics

__all__ = [
    "ERROR_KINDS",
    "FetchConfig",
    "FetchResult",
    "FetchStatistics",
    "Fetcher",
    "Request",
    "fetch",
    "open_fetcher",
    "request_for",
]
