"""The run's own samples (table ``samples``): what the records cannot tell afterwards, such as
how long the crawl's frontier was, or how many hosts were throttled, at each moment.

A run writes one row every few seconds (``store._samples``); a store made before runs did
has no such table, and the report draws what the records tell alone.
"""

from __future__ import annotations

import sqlite3

from corral.http.runreport._pass import MAX_POINTS
from corral.http.runreport._runs import epoch

COLUMNS = ("in_flight", "queued", "frontier", "throttled", "done")


def read_samples(conn: sqlite3.Connection) -> dict[str, list[float]] | None:
    """Return the samples of every run as columns (``t`` in Unix seconds), thinned evenly to
    at most ``MAX_POINTS``; None when the store has none."""
    known = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'samples'"
    ).fetchone()
    if known is None:
        return None
    (n,) = conn.execute("SELECT count(*) FROM samples").fetchone()
    if not n:
        return None
    every = -(-int(n) // MAX_POINTS)  # (ceiling)
    rows = conn.execute(
        f"SELECT at, {', '.join(COLUMNS)} FROM samples ORDER BY run, at"
    ).fetchall()[::every]
    columns: dict[str, list[float]] = {"t": [round(epoch(row[0]), 3) for row in rows]}
    for index, name in enumerate(COLUMNS, start=1):
        columns[name] = [row[index] for row in rows]
    return columns


def read_events(conn: sqlite3.Connection) -> dict[str, object] | None:
    """Return the hosts' throttle events (table ``events``) summed per host, the most
    throttled first, and how many events went unrecorded; None when there are none."""
    known = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
    ).fetchone()
    if known is None:
        return None
    hosts: dict[str, dict[str, float]] = {}
    dropped = 0
    rows = conn.execute(
        "SELECT host, kind, count(*), sum(value), max(value) FROM events GROUP BY host, kind"
    )
    for host, kind, n, total, largest in rows:
        if kind == "dropped":
            dropped += int(total)
            continue
        entry = hosts.setdefault(
            str(host), {"slow_downs": 0, "retry_afters": 0, "closed_s": 0.0, "crawl_delay": 0.0}
        )
        if kind == "slow_down":
            entry["slow_downs"] += n
        elif kind == "retry_after":
            entry["retry_afters"] += n
            entry["closed_s"] += round(float(total), 3)
        elif kind == "crawl_delay":
            entry["crawl_delay"] = float(largest)
    if not hosts and not dropped:
        return None
    ranked = sorted(
        hosts.items(), key=lambda kv: (-kv[1]["slow_downs"] - kv[1]["retry_afters"], kv[0])
    )
    return {
        "hosts": [{"host": host, **entry} for host, entry in ranked[:200]],
        "throttled": sum(1 for _, e in ranked if e["slow_downs"] or e["retry_afters"]),
        "dropped": dropped,
    }
