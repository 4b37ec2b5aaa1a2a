"""The run's figures across worker processes: each child's engine counts its own retries,
bytes and latencies; they reach the parent's ``RunCounters`` (the summary and the progress
display) as differences sent with the child's results, and its gauges (in flight, hosts,
throttled hosts) as they are now.

Only the engine's counters travel: ``done``, ``ok`` and the status and error tallies are
counted by the parent's commit, as in one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from corral.http.report._stats import FetchStatistics, RunCounters, add_proxy_figures

GAUGE_EVERY = 0.5  # seconds between a child's gauges (hosts, throttled): a display's pace


class FigureDeltas:
    """A child's side: what its counters gained since the last frame, and its gauges."""

    def __init__(
        self,
        counters: RunCounters,
        statistics: Callable[[], FetchStatistics],
        proxies: Callable[[], dict[str, tuple[int, int, int]]] | None = None,
    ) -> None:
        self._counters = counters
        self._proxies = proxies
        self._statistics = statistics
        self._retries = 0
        self._bytes = 0
        self._latency: dict[int, int] = {}
        self._gauged = -GAUGE_EVERY

    def take(self) -> dict[str, Any]:
        """Return the differences since the last call (and the gauges, every so often)."""
        counters = self._counters
        buckets = counters.latency.buckets()
        sent = self._latency
        figures: dict[str, Any] = {
            "retries": counters.retries - self._retries,
            "bytes": counters.bytes - self._bytes,
            "latency": [[i, n - sent.get(i, 0)] for i, n in buckets.items() if n != sent.get(i)],
            "longest": counters.latency.longest,
            "in_flight": counters.in_flight,
        }
        if self._proxies is not None:  # (each proxy's counts so far: three numbers a proxy)
            figures["proxies"] = self._proxies()
        self._retries, self._bytes, self._latency = counters.retries, counters.bytes, buckets
        now = time.monotonic()
        if now - self._gauged >= GAUGE_EVERY:
            self._gauged = now
            stats = self._statistics()
            figures["hosts"] = stats.hosts
            figures["throttled"] = list(stats.throttled)
            figures["long_retry_after"] = dict(stats.long_retry_after)
        return figures


class RunFigures:
    """The parent's side: add every child's differences to the run's counters; keep the
    gauges of each child (a child that died counts for nothing in flight)."""

    def __init__(self, counters: RunCounters) -> None:
        self._counters = counters
        self._in_flight: dict[int, int] = {}
        self._hosts: dict[int, int] = {}
        self._throttled: dict[int, tuple[str, ...]] = {}
        self._long: dict[str, float] = {}
        self._proxies: dict[int, dict[str, list[int]]] = {}

    def add(self, child: int, figures: dict[str, Any]) -> None:
        """Add the figures a child sent."""
        counters = self._counters
        counters.retries += figures["retries"]
        counters.bytes += figures["bytes"]
        counters.latency.merge(dict(figures["latency"]), figures["longest"])
        self._in_flight[child] = figures["in_flight"]
        counters.in_flight = sum(self._in_flight.values())
        if "proxies" in figures:
            self._proxies[child] = figures["proxies"]
        if "hosts" in figures:
            self._hosts[child] = figures["hosts"]
            self._throttled[child] = tuple(figures["throttled"])
            for host, seconds in figures["long_retry_after"].items():
                self._long[host] = max(seconds, self._long.get(host, 0.0))

    def gone(self, child: int) -> None:
        """Forget the gauges of a child that ended (its in-flight requests ended with it)."""
        for gauges in (self._in_flight, self._hosts, self._throttled):
            gauges.pop(child, None)
        self._counters.in_flight = sum(self._in_flight.values())

    def amend(self, stats: FetchStatistics) -> FetchStatistics:
        """Return the parent's statistics with the children's gauges in them."""
        throttled = tuple(sorted({h for hosts in self._throttled.values() for h in hosts}))
        # the parent's own requests (a crawl's robots.txt and sitemaps), and the children's
        # (a child's counts stay after it ends)
        proxies = add_proxy_figures(stats.proxies, *self._proxies.values())
        return replace(
            stats,
            hosts=sum(self._hosts.values()),
            throttled=throttled,
            long_retry_after=dict(self._long),
            proxies=proxies,
        )
