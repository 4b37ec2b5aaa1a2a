"""Opening a SQLite store: its lock, the connection, the checks, a JSONL output cut back.

These run in the store's thread, before a run begins (``SQLiteFrontier.open``).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from corral.http._faults import StoreError, describe_fault
from corral.http.store._lock import LockHeld, StoreLock, take
from corral.http.store._migrate import migrate
from corral.http.store._runs import WrongKind, check_kind
from corral.http.store._schema import SCHEMA, SCHEMA_VERSION


def take_lock(path: str, name: str, argv: list[str], started_at: str) -> StoreLock:
    """Take the store's one-run lock (``path.lock``) without waiting.

    Raises:
        StoreError: another run holds it, or the lock file cannot be made.
    """
    command = " ".join(argv[:2]) if argv else "a corral run"
    try:
        return take(
            f"{path}.lock",
            pid=os.getpid(),
            host=socket.gethostname(),
            started=started_at,
            command=command,
        )
    except LockHeld as held:
        raise StoreError(f"{name} is in use by {held}; wait for it or use another -o") from None
    except OSError as exc:
        raise StoreError(
            f"{name}: cannot make its lock file {path}.lock: {exc.strerror or exc}"
        ) from None


def connect(path: str, *, resumable: bool) -> sqlite3.Connection:
    """Open (or create) the database with the store's settings and tables.

    Raises:
        StoreError: not a database, or the file cannot be used.
        sqlite3.OperationalError: another program holds it (``is_locked``).
    """
    try:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # 16 KiB pages for a new database (an existing one keeps its own): a batch's rows
        # go out in a quarter of the writes, about 1.5 µs a URL less (``docs/design.md``)
        conn.execute("PRAGMA page_size=16384")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # Temporary tables and journals in memory: opening a file for them needs a
        # descriptor, which a run short of them (issue 12, item 6) then fails to commit.
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.executescript(SCHEMA)
    except sqlite3.DatabaseError as exc:
        if is_locked(exc):
            raise  # the caller says who holds it
        raise StoreError(describe_fault(path, exc, resumable=resumable)) from None
    return conn


def check(
    conn: sqlite3.Connection, path: str, name: str, kind: str, job: Mapping[str, Any] | None
) -> tuple[str, str]:
    """Refuse a store of a newer schema, of the other kind of job or of another job
    (``check_job``); migrate an older one (``_migrate``); record them.

    Returns:
        The store's id and when it was made (given now to a store that has none).

    Raises:
        StoreError: made by a newer corral, by the other kind of job, or by another job.
    """
    version = meta(conn, "schema_version")
    if version is not None and int(version) > SCHEMA_VERSION:
        raise StoreError(f"{path}: made by a newer corral (schema {version})")
    if version != str(SCHEMA_VERSION):  # a new store, or one an earlier corral wrote
        migrate(conn, SCHEMA_VERSION if version is None else int(version))
        set_meta(conn, "schema_version", str(SCHEMA_VERSION))
    try:
        check_kind(conn, kind)
    except WrongKind as other:
        raise StoreError(
            f"{name} holds the results of a corral {other}; "
            f"corral {kind} cannot add to it: use another -o"
        ) from None
    if job is not None:
        check_job(conn, name, job)
    if meta(conn, "store_id") is None:
        # the store's identity: a job in Redis belongs to one store (``scale/_coordinate``);
        # a store made afresh at the same path (rm, --overwrite) is another one
        set_meta(conn, "store_id", secrets.token_hex(8))
        set_meta(conn, "store_made", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    return meta(conn, "store_id") or "", meta(conn, "store_made") or ""


def cut_jsonl(conn: sqlite3.Connection, jsonl: IO[bytes], path: str) -> None:
    """Cut a JSONL output back to the length the store committed, dropping lines whose
    transaction never committed (their URLs are fetched again).

    Raises:
        StoreError: the output is shorter than committed (not the file the store wrote).
    """
    committed = int(meta(conn, "jsonl_length") or 0)
    jsonl.seek(0, os.SEEK_END)
    length = jsonl.tell()
    if length < committed:
        raise StoreError(
            f"{path}: the JSONL output is shorter than this state file recorded; "
            "delete the state file to start over"
        )
    if length > committed:
        jsonl.truncate(committed)
    jsonl.seek(committed)


def check_job(conn: sqlite3.Connection, name: str, job: Mapping[str, Any]) -> None:
    """Record what the store's job is (a crawl's seeds, callback, scope: ``job``), or refuse
    a run of another one (``crawler/_sameness.py``). A store from before this was recorded
    takes this run's.

    Raises:
        StoreError: the store holds another job; the message names the first difference.
    """
    now = json.loads(json.dumps(job))  # (tuples as lists: what the store gives back)
    recorded = meta(conn, "job_identity")
    if recorded is None:
        set_meta(conn, "job_identity", json.dumps(now))
        return
    was = json.loads(recorded)
    for key, value in now.items():
        if key in was and was[key] != value:
            raise StoreError(
                f"{name} holds another crawl ({_option(key, was[key])}; this command: "
                f"{_option(key, value)}): give this one another -o, or --overwrite to "
                "replace that one (its own command resumes it)"
            )


def _option(key: str, value: Any) -> str:
    """Return how the command line said ``key``: ``--parse shop:item``, ``without --x``."""
    if isinstance(value, bool):
        return f"with {key}" if value else f"without {key}"
    if value is None or value == []:
        return f"no {key}"
    if isinstance(value, list):
        shown = " ".join(str(v) for v in value[:3]) + (" ..." if len(value) > 3 else "")
        return f"{key} {shown}"
    return f"{key} {value}"


def meta(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: sqlite3.Connection, name: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))


def is_locked(exc: BaseException) -> bool:
    """Return whether SQLite said another connection holds the database (SQLITE_BUSY)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and (
        code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in str(exc)
    )
