"""A store's runs: the kind of job it serves, a row per run, and what became of the last one.

These run while the store's lock is held (``_lock``), so no other run is live: a run still
marked ``running`` was killed (``kill -9``, a crash, a power cut) and is marked ``killed`` at
the next start, with the time of the store's last write as its end (issue 12, item 8).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from corral.http.store._lock import local_time
from corral.http.web._urls import public_argv


class WrongKind(Exception):
    """The store was made by the other kind of job (its kind is the message)."""


@dataclass(frozen=True, slots=True)
class EarlierRun:
    """The run before this one, when it did not finish: killed, or interrupted (Ctrl-C)."""

    status: str
    ended_at: str | None  # ISO 8601, UTC; for a killed run, the store's last write

    def note(self) -> str:
        """Return e.g. ``resuming a run killed at 14:02:11``."""
        at = f" at {local_time(self.ended_at)}" if self.ended_at else ""
        return f"resuming a run {self.status}{at}"


def check_kind(conn: sqlite3.Connection, kind: str) -> None:
    """Record the store's job kind (fetch or crawl), or refuse the other kind.

    Raises:
        WrongKind: the store serves the other kind of job.
    """
    row = conn.execute("SELECT value FROM meta WHERE name = 'job'").fetchone()
    known = str(row[0]) if row is not None else _inferred_kind(conn)
    if known is not None and known != kind:
        raise WrongKind(known)
    if row is None:
        conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('job', ?)", (kind,))


def _inferred_kind(conn: sqlite3.Connection) -> str | None:
    """Tell the kind of a store made before stores recorded it: only a crawl makes its
    frontier indexes."""
    if conn.execute("SELECT 1 FROM urls LIMIT 1").fetchone() is None:
        return None
    crawl_index = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'urls_host_pending'"
    ).fetchone()
    return "crawl" if crawl_index is not None else "fetch"


def begin_run(
    conn: sqlite3.Connection, argv: Sequence[str], started_at: str, last_write: str | None
) -> tuple[int, EarlierRun | None]:
    """Mark runs left ``running`` as killed, and add this run's row.

    Returns:
        This run's id, and the run before it if that one did not finish.
    """
    with conn:
        conn.execute("BEGIN")
        conn.execute(
            "UPDATE runs SET status = 'killed' WHERE status = 'running'"
        )  # (earlier ones, from before runs were marked, keep no end time)
        previous = conn.execute(
            "SELECT id, status, finished_at FROM runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        earlier = None
        if previous is not None and previous[1] in ("killed", "interrupted"):
            ended = previous[2]
            if previous[1] == "killed" and ended is None:
                ended = last_write
                conn.execute("UPDATE runs SET finished_at = ? WHERE id = ?", (ended, previous[0]))
            earlier = EarlierRun(str(previous[1]), ended)
        cursor = conn.execute(
            "INSERT INTO runs (started_at, status, argv, pid, hostname) "
            "VALUES (?, 'running', ?, ?, ?)",
            (started_at, json.dumps(public_argv(argv)), os.getpid(), socket.gethostname()),
        )
    return int(cursor.lastrowid or 0), earlier


def last_write(path: str) -> str | None:
    """Return when the database (or its write-ahead log) was last written, as ISO 8601 UTC;
    read before the database is opened, which may write to it."""
    times = []
    for name in (path, f"{path}-wal"):
        try:
            times.append(os.stat(name).st_mtime)
        except OSError:
            continue
    if not times:
        return None
    return datetime.fromtimestamp(max(times), UTC).isoformat(timespec="milliseconds")
