"""The SQLite store's tables, the states of a URL row, and reading a store's rows back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from corral.http.store._reading import open_reader

SCHEMA_VERSION = 2  # 2: results' validators, change and proxy, history, items.replaced_in
# urls.lease_until is unused: leases are held by the run that holds the store (the lock,
# ``_lock``), never by a deadline. Kept so stores made by earlier versions open unchanged.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    argv TEXT,
    summary TEXT,
    pid INTEGER,
    hostname TEXT
);
CREATE TABLE IF NOT EXISTS urls (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    request TEXT,
    invalid TEXT,
    depth INTEGER NOT NULL DEFAULT 0,
    found_on TEXT,
    state INTEGER NOT NULL DEFAULT 0,
    run INTEGER NOT NULL,
    lease_until REAL,
    lease_run INTEGER
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    url_id INTEGER NOT NULL REFERENCES urls (id),
    url TEXT NOT NULL,
    data TEXT NOT NULL,
    run INTEGER NOT NULL,
    replaced_in INTEGER
);
CREATE TABLE IF NOT EXISTS parked (
    id INTEGER PRIMARY KEY REFERENCES urls (id),
    url TEXT NOT NULL,
    depth INTEGER NOT NULL,
    content_type TEXT,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY REFERENCES urls (id),
    url TEXT NOT NULL,
    final_url TEXT,
    status INTEGER,
    ok INTEGER NOT NULL,
    error_kind TEXT,
    error TEXT,
    attempts INTEGER NOT NULL,
    elapsed_ms REAL NOT NULL,
    fetched_at TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    content_type TEXT,
    headers TEXT,
    sha256 TEXT,
    body BLOB,
    body_path TEXT,
    method TEXT NOT NULL,
    depth INTEGER NOT NULL,
    found_on TEXT,
    run INTEGER NOT NULL,
    etag TEXT,
    last_modified TEXT,
    change TEXT,
    proxy TEXT
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER NOT NULL REFERENCES urls (id),
    url TEXT NOT NULL,
    final_url TEXT,
    status INTEGER,
    ok INTEGER NOT NULL,
    error_kind TEXT,
    error TEXT,
    attempts INTEGER NOT NULL,
    elapsed_ms REAL NOT NULL,
    fetched_at TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    content_type TEXT,
    headers TEXT,
    sha256 TEXT,
    body BLOB,
    body_path TEXT,
    method TEXT NOT NULL,
    depth INTEGER NOT NULL,
    found_on TEXT,
    run INTEGER NOT NULL,
    etag TEXT,
    last_modified TEXT,
    change TEXT,
    proxy TEXT,
    PRIMARY KEY (id, run)
);
CREATE TABLE IF NOT EXISTS samples (
    run INTEGER NOT NULL,
    at TEXT NOT NULL,
    done INTEGER NOT NULL,
    in_flight INTEGER NOT NULL,
    queued INTEGER NOT NULL,
    frontier INTEGER NOT NULL,
    throttled INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    run INTEGER NOT NULL,
    at TEXT NOT NULL,
    host TEXT NOT NULL,
    kind TEXT NOT NULL,
    value REAL NOT NULL
);
"""

# samples: what the run's counters said every few seconds, for the report's charts of what
# the records cannot tell afterwards (the frontier's length, requests in flight, hosts
# throttled). At most a thousand rows a run (``pipeline._sampler``); a store made before
# runs kept them gets the table, empty, when a run next opens it.
# events: the hosts' throttle events (``engine._politeness.Event``: slow_down, retry_after,
# crawl_delay), at most ``MAX_EVENTS`` a run (``store._sqlite``; the later ones are counted
# in the run's last row of kind ``dropped``).

# urls.state: pending -> leased (a crawl's claim) -> done (its record is committed). SQL
# writes them as literals (f-strings), not parameters: SQLite uses a partial index
# (``WHERE state = 0``) only for a query whose own WHERE names the same literal.
PENDING, DONE, LEASED = 0, 1, 2

# The crawl's own indexes: claims by host (breadth first) and this run's leases (skip_rest).
# A fetch never claims, so it does not pay for keeping them up to date.
CRAWL_INDEXES = f"""
CREATE INDEX IF NOT EXISTS urls_host_pending ON urls (host, depth, id) WHERE state = {PENDING};
CREATE INDEX IF NOT EXISTS urls_leased ON urls (lease_run) WHERE state = {LEASED};
"""

# Each URL's latest record is in ``results``; a record a later run replaced moves to
# ``history`` (same columns), so ``records`` (a view, ``_migrate``) has one row per URL per run.
TABLES = ("results", "items", "urls", "runs", "history", "records")
URL_COLUMNS = "id, key, url, host, request, invalid, depth, found_on, run"
PENDING_COLUMNS = "id, url, host, request, invalid, depth, found_on"  # a PendingRow's
RESULT_COLUMNS = (
    "id, url, final_url, status, ok, error_kind, error, attempts, elapsed_ms, fetched_at, "
    "bytes, content_type, headers, sha256, body, body_path, method, depth, found_on, run, "
    "etag, last_modified, change, proxy"
)


def rows_of(path: str, table: str = "results", *, latest: bool = False) -> Iterable[dict[str, Any]]:
    """Yield the rows of a store's table as dicts (for export and tests).

    Args:
        path: the store.
        table: one of ``TABLES``.
        latest: for ``items``, only those of each page's latest parse (not replaced).
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}: one of {', '.join(TABLES)}")
    conn = open_reader(path)
    conn.row_factory = sqlite3.Row
    order = "id, run" if table in ("history", "records") else "id"
    try:
        where = ""
        if latest and table == "items":  # (a store no corral 17 has opened has no such column)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
            where = " WHERE replaced_in IS NULL" if "replaced_in" in columns else ""
        for row in conn.execute(f"SELECT * FROM {table}{where} ORDER BY {order}"):
            yield dict(row)
    finally:
        conn.close()
