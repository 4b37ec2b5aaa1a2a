"""A store's records folded into what the report draws: time series, hosts, counters.

The records are read in a few scans, with SQLite computing each row's time bucket, outcome
and latency bucket (in C), and Python only adding them up: a million records take a few
seconds. What is kept is bounded: at most ``MAX_POINTS`` time buckets (their width chosen
from the run's span), a log-bucket latency histogram per bucket and per host (the buckets of
``report._stats``: percentiles within about 9%), and counters. The page stays small however
many URLs the store holds (the lesson of locust-reporter#5: reports that embed every sample
become too big to open).

Why not ``GROUP BY``: SQLite groups by sorting, and sorting a million rows cost more (2.4 s
for the time series alone, measured) than adding them up in one Python loop.
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from dataclasses import dataclass, field

from corral.http.report._stats import _BUCKETS, _FACTOR, _FLOOR

MAX_POINTS = 300  # time buckets per chart: more than a chart 1,200 pixels wide can show apart
# widths a bucket may have, in seconds: the smallest that keeps the span within MAX_POINTS
_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600)
# error kinds of URLs recorded without a fetch (a crawl's rules, robots.txt): skips
SKIPS = (
    "robots",
    "out_of_scope",
    "excluded",
    "not_included",
    "max_depth",
    "max_pages",
    "nofollow",
    "repeated_segment",
)
_SKIP_LIST = ", ".join(f"'{kind}'" for kind in SKIPS)
SAMPLES = 3  # sample URLs kept per status and per error kind
SLOWEST = 10
# outcome classes; a row's code is class * 3 + (0, or 1 for a 429, 2 for a 503)
OK, HTTP_ERROR, ERROR, SKIPPED = range(4)
_CODES = 12
_OUTCOME = f"""(CASE WHEN r.error_kind IN ({_SKIP_LIST}) THEN {SKIPPED} WHEN r.ok THEN {OK}
  WHEN r.error_kind = 'http_status' THEN {HTTP_ERROR} ELSE {ERROR} END) * 3
  + (CASE r.status WHEN 429 THEN 1 WHEN 503 THEN 2 ELSE 0 END)"""


def quantiles(counts: dict[int, int], longest: float, qs: tuple[float, ...]) -> list[float]:
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
    """What one host's records add up to: counts by row code, bytes, latency buckets."""

    codes: list[int] = field(default_factory=lambda: [0] * _CODES)
    bytes: int = 0
    latency: dict[int, int] = field(default_factory=dict)

    def count(self, outcome: int) -> int:
        """Return the host's rows of one outcome class."""
        return sum(self.codes[outcome * 3 : outcome * 3 + 3])


@dataclass(slots=True)
class Tally:
    """The store's records folded: time series, counters, samples, hosts."""

    start: float
    step: float
    points: int
    # per time bucket: rows by outcome class, bytes, latency buckets (bucket * _BUCKETS + i)
    outcomes: list[list[int]] = field(default_factory=list)
    bytes: list[int] = field(default_factory=list)
    latency: list[int] = field(default_factory=list)
    longest: float = 0.0
    # the whole store: (ok, status, error_kind, attempts, depth) -> rows
    kinds: Counter[tuple[int, int | None, str | None, int, int]] = field(default_factory=Counter)
    status_samples: dict[int, list[str]] = field(default_factory=dict)
    error_samples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    slowest: list[tuple[float, str, int | None]] = field(default_factory=list)
    hosts: dict[str, Host] = field(default_factory=dict)


def time_span(conn: sqlite3.Connection) -> tuple[float, float] | None:
    """Return the first and last record times (Unix seconds), None when none has a time."""
    lo, hi = conn.execute(
        "SELECT (julianday(min(fetched_at)) - 2440587.5) * 86400, "
        "(julianday(max(fetched_at)) - 2440587.5) * 86400 "
        "FROM results WHERE fetched_at != ''"
    ).fetchone()
    if lo is None or hi is None:
        return None
    return float(lo), float(hi)


def bucket_step(span: float) -> float:
    """Return the bucket width (seconds) that shows ``span`` in at most ``MAX_POINTS``."""
    for step in _STEPS:
        if span / step < MAX_POINTS:
            return step
    return span / (MAX_POINTS - 1)


def gather(conn: sqlite3.Connection, start: float, step: float, points: int) -> Tally:
    """Fold every record of the store into a ``Tally`` whose buckets start at ``start``."""
    tally = Tally(start=start, step=step, points=points)
    _fold_rows(tally, conn)
    tally.kinds.update(
        conn.execute("SELECT ok, status, error_kind, attempts, depth FROM results")
    )  # (counted in C: no sort, unlike GROUP BY)
    _samples(tally, conn)
    tally.slowest = [  # (longest first)
        (float(ms), str(url), status)
        for ms, url, status in conn.execute(
            f"SELECT elapsed_ms, url, status FROM results "
            f"WHERE error_kind IS NULL OR error_kind NOT IN ({_SKIP_LIST}) "
            f"ORDER BY elapsed_ms DESC LIMIT {SLOWEST}"
        )
    ]
    tally.longest = tally.slowest[0][0] / 1000 if tally.slowest else 0.0
    return tally


def _latency_bucket(conn: sqlite3.Connection) -> str:
    """Return SQL for a row's latency bucket (``bisect_left`` of ``report._stats``'s
    bounds); with SQLite's math functions where it has them, else a Python function."""
    try:
        conn.execute("SELECT ln(2.0), ceil(1.5)").fetchone()
    except sqlite3.OperationalError:  # (SQLite built without SQLITE_ENABLE_MATH_FUNCTIONS)
        conn.create_function("corral_latency_bucket", 1, _bucket_of, deterministic=True)
        return "corral_latency_bucket(r.elapsed_ms)"
    return (
        f"coalesce(max(0, min({_BUCKETS - 1}, CAST(ceil(ln(r.elapsed_ms / {_FLOOR * 1000!r}) "
        f"/ {math.log(_FACTOR)!r}) AS INTEGER))), 0)"
    )


def _bucket_of(ms: float) -> int:
    if ms <= 0:
        return 0
    return max(0, min(_BUCKETS - 1, math.ceil(math.log(ms / (_FLOOR * 1000)) / math.log(_FACTOR))))


def _fold_rows(tally: Tally, conn: sqlite3.Connection) -> None:
    """One scan: each row's time bucket, code, latency bucket, bytes and host, added up.
    Rows with no time (a crawl's skipped links) go to a bucket past the last, dropped.

    SQLite computes the list indexes (bucket * codes + code, bucket * buckets + latency
    bucket): the loop does as little as it can, it runs once per record."""
    last, none = tally.points - 1, tally.points
    epoch_day = 2440587.5 + tally.start / 86400
    at = f"(julianday(nullif(r.fetched_at, '')) - {epoch_day!r}) * 86400 / {tally.step!r}"
    query = f"""
        SELECT at * {_CODES} + code, at * {_BUCKETS} + bucket, code, bucket, bytes, host
        FROM (SELECT coalesce(max(0, min({last}, CAST({at} AS INTEGER))), {none}) AS at,
                     {_OUTCOME} AS code, {_latency_bucket(conn)} AS bucket,
                     r.bytes AS bytes, u.host AS host
              FROM results AS r LEFT JOIN urls AS u ON u.id = r.id)"""
    outcomes = [0] * ((tally.points + 1) * _CODES)
    sizes = [0] * ((tally.points + 1) * _CODES)
    latency = [0] * ((tally.points + 1) * _BUCKETS)
    hosts: dict[str, Host] = {}
    fetched = SKIPPED * 3
    for slot, timed, code, bucket, size, host in conn.execute(query):
        outcomes[slot] += 1
        record = hosts.get(host)
        if record is None:
            record = hosts[host] = Host()
        record.codes[code] += 1
        if code < fetched:
            sizes[slot] += size
            latency[timed] += 1
            record.bytes += size
            record.latency[bucket] = record.latency.get(bucket, 0) + 1
    tally.outcomes = [
        [sum(outcomes[at * _CODES + kind * 3 : at * _CODES + kind * 3 + 3]) for at in range(none)]
        for kind in range(4)
    ]
    tally.bytes = [sum(sizes[at * _CODES : (at + 1) * _CODES]) for at in range(none)]
    tally.latency = latency[: none * _BUCKETS]
    tally.hosts = {str(name or ""): record for name, record in hosts.items()}


def _samples(tally: Tally, conn: sqlite3.Connection) -> None:
    """Keep the first few URLs of each status and error kind (200s apart: they are most)."""
    for (url,) in conn.execute(f"SELECT url FROM results WHERE status = 200 LIMIT {SAMPLES}"):
        tally.status_samples.setdefault(200, []).append(str(url))
    rows = conn.execute(
        f"SELECT status, error_kind, error, url FROM results WHERE (status IS NOT 200 OR NOT ok) "
        f"AND (error_kind IS NULL OR error_kind NOT IN ({_SKIP_LIST}))"
    )
    for status, kind, error, url in rows:
        if status is not None:
            samples = tally.status_samples.setdefault(status, [])
            if len(samples) < SAMPLES:
                samples.append(str(url))
        if kind is not None:
            errors = tally.error_samples.setdefault(kind, [])
            if len(errors) < SAMPLES:
                errors.append((str(url), str(error or "")))
