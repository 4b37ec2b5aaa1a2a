"""One pass over a store's records: what the report's charts and tables are drawn from.

The records are read once, in id order, and folded into fixed-size tallies: at most
``MAX_POINTS`` time buckets (their width chosen from the run's span), a log-bucket latency
histogram per bucket and per host (the buckets of ``report._stats``: percentiles within about
5%), and counters. Memory grows with the hosts and the buckets, never with the records, and
the page stays small however many URLs the store holds (the lesson of locust-reporter#5:
reports that embed every sample become too big to open).
"""

from __future__ import annotations

import bisect
import heapq
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from corral.http.report._stats import _BOUNDS, _FACTOR, _FLOOR

MAX_POINTS = 300  # time buckets per chart: more than a chart 1,200 pixels wide can show apart
# widths a bucket may have, in seconds: the smallest that keeps the span within MAX_POINTS
_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600)
# error kinds of URLs recorded without a fetch (a crawl's rules, robots.txt): skips
SKIPS = frozenset(
    {
        "robots",
        "out_of_scope",
        "excluded",
        "not_included",
        "max_depth",
        "max_pages",
        "nofollow",
        "repeated_segment",
    }
)
SAMPLES = 3  # sample URLs kept per status and per error kind
SLOWEST = 10

_QUERY = """
SELECT r.fetched_at, r.status, r.ok, r.error_kind, r.error, r.attempts, r.elapsed_ms,
       r.bytes, r.url, r.depth, u.host
FROM results AS r LEFT JOIN urls AS u ON u.id = r.id
ORDER BY r.id
"""


def quantiles(counts: Mapping[int, int], longest: float, qs: Sequence[float]) -> list[float]:
    """Return the durations (seconds) under which fractions ``qs`` of the counted ones fall,
    from latency-bucket counts {bucket index: n}; none counted gives zeros."""
    total = sum(counts.values())
    found = []
    for q in qs:
        rank, seen, value = q * total, 0, 0.0
        for index in sorted(counts):
            seen += counts[index]
            if seen >= rank:
                value = min(_FLOOR * _FACTOR**index, longest)
                break
        found.append(value)
    return found


@dataclass(slots=True)
class Host:
    """What one host's records add up to."""

    requests: int = 0
    ok: int = 0
    errors: int = 0
    s429: int = 0
    s503: int = 0
    bytes: int = 0
    skipped: int = 0
    longest: float = 0.0
    latency: Counter[int] = field(default_factory=Counter)


@dataclass(slots=True)
class Tally:
    """The store's records folded: time series, counters, samples, hosts."""

    start: float
    step: float
    points: int
    # per time bucket
    ok: list[int] = field(default_factory=list)
    http_error: list[int] = field(default_factory=list)
    error: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    latency: list[list[int] | None] = field(default_factory=list)
    longest: list[float] = field(default_factory=list)
    # whole store
    records: int = 0
    ok_total: int = 0
    failed: int = 0
    skipped_total: int = 0
    bytes_total: int = 0
    retries: int = 0
    all_latency: Counter[int] = field(default_factory=Counter)
    all_longest: float = 0.0
    by_status: Counter[int] = field(default_factory=Counter)
    status_samples: dict[int, list[str]] = field(default_factory=dict)
    by_error: Counter[str] = field(default_factory=Counter)
    error_samples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    by_skip: Counter[str] = field(default_factory=Counter)
    attempts: Counter[int] = field(default_factory=Counter)
    depth_fetched: Counter[int] = field(default_factory=Counter)
    depth_skipped: Counter[int] = field(default_factory=Counter)
    slowest: list[tuple[float, int, str, int | None]] = field(default_factory=list)
    hosts: dict[str, Host] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.points
        self.ok, self.http_error, self.error = [0] * n, [0] * n, [0] * n
        self.skipped, self.bytes = [0] * n, [0] * n
        self.latency, self.longest = [None] * n, [0.0] * n


def time_span(conn: sqlite3.Connection) -> tuple[float, float] | None:
    """Return the first and last record times (Unix seconds), None when none has a time."""
    lo, hi = conn.execute(
        "SELECT min(fetched_at), max(fetched_at) FROM results WHERE fetched_at != ''"
    ).fetchone()
    if lo is None or hi is None:
        return None
    return _Clock().seconds(lo), _Clock().seconds(hi)


def bucket_step(span: float) -> float:
    """Return the bucket width (seconds) that shows ``span`` in at most ``MAX_POINTS``."""
    for step in _STEPS:
        if span / step < MAX_POINTS:
            return step
    return span / (MAX_POINTS - 1)


class _Clock:
    """Reads the store's ISO 8601 times (``2026-12-04T13:57:29.123+00:00``) fast: the
    seconds part is parsed once per distinct second, as the writer formats it."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def seconds(self, iso: str) -> float:
        whole = iso[:19]
        base = self._seen.get(whole)
        if base is None:
            base = datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp()
            self._seen[whole] = base
            if iso[19:20] not in (".", "+", "Z", ""):
                return datetime.fromisoformat(iso).timestamp()  # (not as corral writes it)
        if iso[19:20] == ".":
            return base + int(iso[20:23]) / 1000
        return base


def gather(conn: sqlite3.Connection, start: float, step: float, points: int) -> Tally:
    """Fold every record of the store into a ``Tally`` whose buckets start at ``start``."""
    tally = Tally(start=start, step=step, points=points)
    fold(tally, conn.execute(_QUERY))
    return tally


def fold(tally: Tally, rows: Iterable[tuple[object, ...]]) -> None:
    """Add records (rows of ``_QUERY``) to the tally."""
    clock, bounds, bisect_left = _Clock(), _BOUNDS, bisect.bisect_left
    start, step, last = tally.start, tally.step, tally.points - 1
    hosts = tally.hosts
    for row in rows:
        fetched_at, status, ok, kind, error, attempts, ms, size, url, depth, host = row
        assert isinstance(ms, float | int)
        assert isinstance(size, int)
        assert isinstance(attempts, int)
        assert isinstance(depth, int)
        tally.records += 1
        name = str(host or "")
        record = hosts.get(name)
        if record is None:
            record = hosts[name] = Host()
        if kind in SKIPS:
            tally.skipped_total += 1
            tally.by_skip[str(kind)] += 1
            tally.depth_skipped[depth] += 1
            record.skipped += 1
            outcome = tally.skipped
        else:
            tally.depth_fetched[depth] += 1
            tally.attempts[attempts] += 1
            tally.retries += max(0, attempts - 1)
            record.requests += 1
            tally.bytes_total += size
            record.bytes += size
            if ok:
                tally.ok_total += 1
                record.ok += 1
                outcome = tally.ok
            else:
                tally.failed += 1
                record.errors += 1
                _error(tally, str(kind), str(error or ""), str(url))
                outcome = tally.http_error if kind == "http_status" else tally.error
            if status is not None:
                assert isinstance(status, int)
                _status(tally, status, str(url))
                if status == 429:
                    record.s429 += 1
                elif status == 503:
                    record.s503 += 1
            seconds = ms / 1000
            index = bisect_left(bounds, seconds)
            tally.all_latency[index] += 1
            tally.all_longest = max(tally.all_longest, seconds)
            record.latency[index] += 1
            record.longest = max(record.longest, seconds)
            _slow(tally, float(ms), str(url), status)
        if not fetched_at:
            continue  # (a crawl's skipped links carry no time)
        at = min(last, max(0, int((clock.seconds(str(fetched_at)) - start) / step)))
        outcome[at] += 1
        if outcome is not tally.skipped:
            tally.bytes[at] += size
            counts = tally.latency[at]
            if counts is None:
                counts = tally.latency[at] = [0] * (len(bounds) + 1)
            counts[index] += 1
            tally.longest[at] = max(tally.longest[at], seconds)


def _status(tally: Tally, status: int, url: str) -> None:
    tally.by_status[status] += 1
    samples = tally.status_samples.setdefault(status, [])
    if len(samples) < SAMPLES:
        samples.append(url)


def _error(tally: Tally, kind: str, error: str, url: str) -> None:
    tally.by_error[kind] += 1
    samples = tally.error_samples.setdefault(kind, [])
    if len(samples) < SAMPLES:
        samples.append((url, error))


def _slow(tally: Tally, ms: float, url: str, status: object) -> None:
    entry = (ms, -tally.records, url, status if isinstance(status, int) else None)
    if len(tally.slowest) < SLOWEST:
        heapq.heappush(tally.slowest, entry)
    elif ms > tally.slowest[0][0]:
        heapq.heapreplace(tally.slowest, entry)
