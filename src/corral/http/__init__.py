"""corral.http: the fetcher and the crawler (bulk HTTP on aiohttp, polite and resumable)."""

from __future__ import annotations

from corral.http._stats import FetchStatistics

__all__ = ["FetchStatistics"]
