"""Live statistics of a fetch or crawl run, as the progress display and summary read them.

The running job owns one ``RunCounters`` (plain counters, updated on the loop thread, so no
locks) and hands out frozen ``FetchStatistics`` snapshots. Latencies go into a fixed-size
log-bucket histogram, so percentiles cost O(1) memory however many URLs are fetched.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

# Buckets grow by 2**(1/8) (about 9%), from 0.1 ms to about 30 minutes: 190 counters.
_FACTOR = 2 ** (1 / 8)
_FLOOR = 1e-4
_BUCKETS = 190
_BOUNDS = [_FLOOR * _FACTOR**i for i in range(_BUCKETS - 1)]  # upper bound of bucket i


class LatencyHistogram:
    """Durations in log-spaced buckets; percentiles accurate to about 5%."""

    __slots__ = ("_counts", "_max", "count")

    def __init__(self) -> None:
        self._counts = [0] * _BUCKETS
        self.count = 0
        self._max = 0.0

    def add(self, seconds: float) -> None:
        """Record one duration."""
        self._counts[bisect.bisect_left(_BOUNDS, seconds)] += 1
        self.count += 1
        self._max = max(self._max, seconds)

    def buckets(self) -> dict[int, int]:
        """Return the recorded durations as {bucket index: count}, empty buckets left out."""
        return {index: n for index, n in enumerate(self._counts) if n}

    @property
    def longest(self) -> float:
        """The longest duration recorded (0 before any)."""
        return self._max

    def merge(self, buckets: Mapping[int, int], longest: float) -> None:
        """Add durations another histogram recorded (``buckets()`` of it, or a difference
        of two): how a worker process's latencies reach the run's summary."""
        for index, n in buckets.items():
            self._counts[index] += n
            self.count += n
        self._max = max(self._max, longest)

    def percentile(self, q: float) -> float | None:
        """Return the duration under which a fraction ``q`` of the recorded ones fall."""
        if not self.count:
            return None
        rank = q * self.count
        seen = 0
        for index, n in enumerate(self._counts):
            seen += n
            if seen >= rank and n:
                upper = _FLOOR * _FACTOR**index
                return min(upper, self._max)
        return self._max


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchStatistics:
    """A snapshot of a running (or finished) fetch or crawl.

    Attributes:
        elapsed: seconds since the run started.
        total: unique URLs to fetch in this run, once the input has been read (else None).
        queued: URLs waiting in the frontier (pending, not yet started).
        in_flight: requests being fetched now (a URL waiting to be retried is not one).
        done: URLs that got their final record in this run.
        ok: of those, the successes.
        failed: of those, the failures (any ``error_kind``).
        skipped: URLs recorded by an earlier run of the same job (resume), not fetched again
            (a crawl: the pages earlier runs fetched).
        duplicates: input lines whose URL was already in the job (after normalisation).
        retries: attempts beyond the first, so far.
        bytes: body bytes received (decoded).
        by_status: final records by HTTP status.
        by_error: final failures by ``error_kind``.
        throttled: hosts slowed down or cooling down now (429/503, Retry-After).
        hosts: hosts with work in flight now.
        frontier: URLs in the frontier (crawl: discovered, not yet fetched).
        p50: median latency of final attempts, in seconds (None before any).
        p90: 90th percentile latency.
        p99: 99th percentile latency.
        output: where the results are (a path, or "-" for stdout).
        by_skip: URLs recorded without being fetched, by reason (a crawl's ``robots``,
            ``max_pages``, ``out_of_scope``...): skips, neither done nor failed.
        items: items the crawl's parse callback stored (None without a callback).
        long_retry_after: hosts that asked (Retry-After) for a longer wait than the cap,
            with the longest they asked; each was closed for the cap only.
        retry_after_cap: the cap, the longest Retry-After honoured (seconds).
        skipped_before: a crawl's URLs earlier runs recorded without fetching them (skips).
        by_worker: a job over Redis: (records, ok) by the worker that made them.
        proxies: per proxy (its URL, password masked): attempts through it, attempts that
            failed through its fault, and times it was rested.
        refreshed: URLs an earlier run recorded, fetched again (``--refresh``).
        by_change: a refresh's records by ``change`` (``not_modified``, ``unchanged``,
            ``changed``, ``new``).
        retried: URLs whose earlier record failed, fetched again (``--retry-failed``).
    """

    elapsed: float
    total: int | None
    queued: int
    in_flight: int
    done: int
    ok: int
    failed: int
    skipped: int
    duplicates: int
    retries: int
    bytes: int
    by_status: Mapping[int, int]
    by_error: Mapping[str, int]
    throttled: tuple[str, ...]
    hosts: int
    frontier: int
    p50: float | None
    p90: float | None
    p99: float | None
    output: str
    by_skip: Mapping[str, int] = field(default_factory=dict)
    items: int | None = None
    long_retry_after: Mapping[str, float] = field(default_factory=dict)
    retry_after_cap: float = 300.0
    skipped_before: int = 0
    by_worker: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    proxies: Mapping[str, tuple[int, int, int]] = field(default_factory=dict)
    refreshed: int = 0
    by_change: Mapping[str, int] = field(default_factory=dict)
    retried: int = 0

    @property
    def rate(self) -> float:
        """Return final records per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Return the seconds left at the current rate, when the total is known."""
        if self.total is None or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.done - self.skipped) / self.rate)


@dataclass(slots=True)
class RunCounters:
    """The mutable counters a run updates; ``snapshot()`` freezes them.

    ``clock`` is what ``elapsed`` is measured on; pass the loop's ``time`` (and ``started``
    read from it) to measure on the loop's clock, as tests on ``VirtualTimeLoop`` need.
    """

    output: str
    started: float = field(default_factory=time.monotonic)
    total: int | None = None
    queued: int = 0
    in_flight: int = 0
    done: int = 0
    ok: int = 0
    skipped: int = 0
    duplicates: int = 0
    retries: int = 0
    bytes: int = 0
    frontier: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_error: Counter[str] = field(default_factory=Counter)
    by_skip: Counter[str] = field(default_factory=Counter)
    items: int | None = None
    throttled: tuple[str, ...] = ()
    hosts: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    clock: Callable[[], float] = time.monotonic
    long_retry_after: dict[str, float] = field(default_factory=dict)
    retry_after_cap: float = 300.0
    skipped_before: int = 0
    # a job over Redis: records by the worker that made them, (records, ok)
    by_worker: dict[str, tuple[int, int]] = field(default_factory=dict)
    proxies: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    # a job over Redis: each worker's per-proxy counts, as its last commit brought them
    worker_proxies: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)
    refreshed: int = 0
    by_change: Counter[str] = field(default_factory=Counter)
    retried: int = 0

    def snapshot(self) -> FetchStatistics:
        """Return a frozen copy of the counters now."""
        return FetchStatistics(
            elapsed=self.clock() - self.started,
            total=self.total,
            queued=self.queued,
            in_flight=self.in_flight,
            done=self.done,
            ok=self.ok,
            failed=self.done - self.ok,
            skipped=self.skipped,
            duplicates=self.duplicates,
            retries=self.retries,
            bytes=self.bytes,
            by_status=dict(self.by_status),
            by_error=dict(self.by_error),
            throttled=self.throttled,
            hosts=self.hosts,
            frontier=self.frontier,
            p50=self.latency.percentile(0.50),
            p90=self.latency.percentile(0.90),
            p99=self.latency.percentile(0.99),
            output=self.output,
            by_skip=dict(self.by_skip),
            items=self.items,
            long_retry_after=dict(self.long_retry_after),
            retry_after_cap=self.retry_after_cap,
            skipped_before=self.skipped_before,
            by_worker=dict(self.by_worker),
            proxies=add_proxy_figures(self.proxies, *self.worker_proxies.values()),
            refreshed=self.refreshed,
            by_change=dict(self.by_change),
            retried=self.retried,
        )


def add_proxy_figures(*parts: Mapping[str, Sequence[int]]) -> dict[str, tuple[int, int, int]]:
    """Return the sum of several processes' per-proxy (requests, errors, rested)."""
    total: dict[str, tuple[int, int, int]] = {}
    for part in parts:
        for shown, (requests, errors, rested) in part.items():
            before = total.get(shown, (0, 0, 0))
            total[shown] = (before[0] + requests, before[1] + errors, before[2] + rested)
    return total
