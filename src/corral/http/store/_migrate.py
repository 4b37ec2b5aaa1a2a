"""Bringing a store written by an earlier corral to the current schema, as it opens.

Schema 1 (corral before issue 17) kept one record per URL, in ``results``. Schema 2 keeps
each URL's latest record there still, with four more columns (``etag``, ``last_modified``,
``change``, ``proxy``), moves a record a later run replaces to ``history``, and marks items a later
parse replaced (``items.replaced_in``); the view ``records`` is every record, one per URL
per run. The migration adds the columns (SQLite appends them: the same order as a new
store's), fills the validators of earlier records from their stored headers, and is one
transaction: a store is migrated whole or not at all (``docs/fetch.md``, "The store").
"""

from __future__ import annotations

import json
import sqlite3

_ADDED = (
    ("results", "etag TEXT"),
    ("results", "last_modified TEXT"),
    ("results", "change TEXT"),
    ("results", "proxy TEXT"),  # (the proxy a record came through: --proxy)
    ("items", "replaced_in INTEGER"),
)
RECORDS_VIEW = (
    "CREATE VIEW IF NOT EXISTS records AS SELECT * FROM history UNION ALL SELECT * FROM results"
)


def migrate(conn: sqlite3.Connection, version: int) -> None:
    """Bring a store of schema ``version`` to the current one (in one transaction)."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        if version < 2:
            _to_2(conn)
        conn.execute(RECORDS_VIEW)


def _to_2(conn: sqlite3.Connection) -> None:
    for table, column in _ADDED:
        name = column.split()[0]
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if name not in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    conn.create_function("header_of", 2, _header_of, deterministic=True)
    conn.execute(
        "UPDATE results SET etag = header_of(headers, 'etag'), "
        "last_modified = header_of(headers, 'last-modified') WHERE headers IS NOT NULL"
    )


def _header_of(headers: str | None, name: str) -> str | None:
    """Return the header ``name`` (any case) of a stored headers JSON object, or None."""
    try:
        data = json.loads(headers or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value
    return None
