"""What a store says of its runs: when each ran, how the last one ended, what command ran.

Read with the store opened read-only, so a run still writing is left alone: its row says
``running``, and whether it is (or was killed) is told by the store's lock (``store._lock``),
held for a run's whole life and dropped by the kernel when the process ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from corral.http.store._runs import last_write

# runs.status -> the word the report's verdict uses
_VERDICTS = {
    "finished": "done",
    "interrupted": "interrupted",
    "killed": "killed",
    "failed": "failed",
    "stopped": "stopped",
}


@dataclass(frozen=True, slots=True)
class Run:
    """One run of the job, as its row in ``runs`` says (times as Unix seconds)."""

    id: int
    started: float
    ended: float
    status: str  # the verdict's word: done, interrupted, killed, failed, stopped, running
    argv: list[str]
    hostname: str | None

    def as_json(self) -> dict[str, object]:
        """Return the run for the report's figures."""
        return {
            "id": self.id,
            "started": _iso(self.started),
            "ended": _iso(self.ended),
            "seconds": round(self.ended - self.started, 3),
            "status": self.status,
            "command": shlex.join(self.argv),
            "hostname": self.hostname,
        }


def epoch(iso: str) -> float:
    """Return an ISO 8601 time (as the store writes them, in UTC) as Unix seconds."""
    stamp = datetime.fromisoformat(iso)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def read_runs(conn: sqlite3.Connection, path: str) -> list[Run]:
    """Return the store's runs, oldest first; a run still marked ``running`` is ``running``
    when the store's lock is held now, else ``killed`` (it ended at the store's last write)."""
    rows = conn.execute(
        "SELECT id, started_at, finished_at, status, argv, hostname FROM runs ORDER BY id"
    ).fetchall()
    runs = []
    for ident, started_at, finished_at, status, argv, hostname in rows:
        started = epoch(started_at)
        verdict = _VERDICTS.get(status, status)
        if finished_at is not None:
            ended = epoch(finished_at)
        elif status == "running" and held(path):
            ended = datetime.now(UTC).timestamp()
        else:
            verdict = "killed" if status == "running" else verdict
            written = last_write(path)
            ended = epoch(written) if written is not None else started
        runs.append(Run(int(ident), started, max(started, ended), verdict, _argv(argv), hostname))
    return runs


def _argv(text: str | None) -> list[str]:
    try:
        argv = json.loads(text) if text else []
    except ValueError:
        return []
    return [str(arg) for arg in argv] if isinstance(argv, list) else []


def held(path: str) -> bool:
    """Return whether a run holds the store's lock now (its lock file is ``PATH.lock``)."""
    if sys.platform == "win32":  # (no flock: believe the row)
        return True
    import fcntl

    try:
        fd = os.open(f"{path}.lock", os.O_RDONLY)
    except OSError:
        return False  # the holder removes the file before letting go
    try:
        try:  # a shared lock, dropped at once: refused while a run holds it exclusively
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def job_kind(conn: sqlite3.Connection) -> str | None:
    """Return ``fetch`` or ``crawl`` as the store recorded it (None: not known)."""
    row = conn.execute("SELECT value FROM meta WHERE name = 'job'").fetchone()
    return str(row[0]) if row is not None else None
