"""A run's samples and throttle events, written to the store (tables ``samples`` and
``events``, described in ``_schema``), both bounded however long the run."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from corral.http.engine._politeness import Event

MAX_EVENTS = 20_000  # throttle events a run keeps; past that they are only counted
_EVENT = "INSERT INTO events (run, at, host, kind, value) VALUES (?, ?, ?, ?, ?)"
# every other sample of a run, the first kept
_THIN = """DELETE FROM samples WHERE rowid IN (SELECT rowid FROM (SELECT rowid,
    row_number() OVER (ORDER BY rowid) AS n FROM samples WHERE run = ?) WHERE n % 2 = 0)"""


def utc_iso(seconds: float) -> str:
    """Return Unix seconds as ISO 8601 in UTC with milliseconds, as records carry times."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def add_sample(
    conn: sqlite3.Connection,
    run: int,
    at: str,
    figures: tuple[int, ...],
    *,
    thin: bool,
    events: list[Event],
    kept: int,
) -> int:
    """Write one sample (thinning the run's first if asked) and the events, in one
    transaction; ``kept``: the events the run wrote so far. Returns the new count."""
    with conn:
        conn.execute("BEGIN")
        if thin:
            conn.execute(_THIN, (run,))
        conn.execute(
            "INSERT INTO samples (run, at, done, in_flight, queued, frontier, throttled) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run, at, *figures),
        )
        room = max(0, MAX_EVENTS - kept)
        rows = [(run, utc_iso(t), host, kind, value) for t, host, kind, value in events]
        conn.executemany(_EVENT, rows[:room])
        if len(rows) > room:  # one row of kind "dropped" counts the rest
            conn.execute("DELETE FROM events WHERE run = ? AND kind = 'dropped'", (run,))
            conn.execute(_EVENT, (run, at, "", "dropped", kept + len(rows) - MAX_EVENTS))
    return kept + len(rows)
