"""``corral export``: a store's table out as JSON lines or CSV, a row at a time.

The store keeps some columns as JSON text (a result's ``headers``, an item's ``data``, a run's
``argv`` and ``summary``, a frontier row's ``request``). JSON lines carry them as the values
they hold, not as strings of JSON, and a result's ``ok`` as a boolean, as a fetch's own JSON
lines do. A CSV of items has one column per item key, the union of the items' keys in
first-seen order (as Scrapy's CSV exporter writes items), found by a first pass over the table:
both passes stream, so memory follows the number of distinct keys, not of rows.
"""

from __future__ import annotations

import base64
import csv
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal

from corral._clierrors import InputError, UsageError
from corral.http._faults import a_directory, not_sqlite
from corral.http.store._reading import open_reader
from corral.http.store._schema import TABLES, rows_of

# Columns a store writes as JSON text, per table.
_JSON_COLUMNS = {
    "results": ("headers",),
    "history": ("headers",),
    "records": ("headers",),
    "items": ("data",),
    "runs": ("argv", "summary"),
    "urls": ("request",),
}


def export(
    store: str,
    *,
    table: str,
    fmt: Literal["jsonl", "csv"],
    out: IO[str],
    all_runs: bool = False,
) -> int:
    """Write a store's table as JSON lines or CSV; return how many rows were written.

    ``results`` holds each URL's latest record (``history`` the ones later runs replaced,
    ``records`` both); items are those of each page's latest parse unless ``all_runs``.

    Raises:
        UsageError: ``table`` is not one of the store's tables.
        InputError: the store cannot be read, or has no such table.
    """
    check_source(store, table)
    latest = not all_runs

    def rows() -> Iterable[dict[str, Any]]:
        return rows_of(store, table, latest=latest)

    try:
        if fmt == "jsonl":
            return _write_jsonl(_values(rows(), table), out)
        if table == "items":
            return _write_csv(_item_rows(rows()), _item_keys(rows()), out)
        # (named from the table: an empty one's CSV has its header line too)
        return _write_csv((_plain_row(row) for row in rows()), _columns(store, table), out)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"cannot read store {store}: {exc}") from None


def check_source(store: str, table: str) -> None:
    """Check that ``table`` of ``store`` can be exported (before the output is opened).

    Raises:
        UsageError: ``table`` is not one of the store's tables.
        InputError: the store is no file (a directory, missing), or is a fetch's store
            asked for items (a fetch stores none).
    """
    if table not in TABLES:
        raise UsageError(f"--table must be one of {', '.join(TABLES)}, not {table!r}")
    if (problem := a_directory(store)) is not None:
        raise InputError(problem)
    if not Path(store).is_file():
        raise InputError(f"cannot read store {store}: no such file")
    if (problem := not_sqlite(store, "export")) is not None:
        raise InputError(problem)
    if table == "items" and _kind(store) == "fetch":
        raise InputError(
            f"{store} is a store of corral fetch: it has no items (a crawl's --parse callback "
            "stores them); export --table results"
        )


def _kind(store: str) -> str | None:
    """Return the job that wrote ``store`` (``fetch``, ``crawl``; None: not said)."""
    try:
        conn = open_reader(store)
        try:
            row = conn.execute("SELECT value FROM meta WHERE name = 'job'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # (not a store: the export says so as it reads)
    return str(row[0]) if row is not None else None


def _columns(store: str, table: str) -> list[str]:
    """Return the columns of a store's table (or view), in order."""
    conn = open_reader(store)
    try:
        return [str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")]
    finally:
        conn.close()


def _write_jsonl(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    written = 0
    for row in rows:
        out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
        written += 1
    return written


def _write_csv(rows: Iterable[dict[str, Any]], keys: list[str] | None, out: IO[str]) -> int:
    writer: csv.DictWriter[str] | None = None
    if keys is not None:
        writer = csv.DictWriter(out, fieldnames=keys)
        if keys:  # (no items: no keys to name, an empty file)
            writer.writeheader()
    written = 0
    for row in rows:
        if writer is None:  # a table's columns: the first row names them all
            writer = csv.DictWriter(out, fieldnames=list(row))
            writer.writeheader()
        writer.writerow(row)
        written += 1
    return written


def _values(rows: Iterable[dict[str, Any]], table: str) -> Iterator[dict[str, Any]]:
    """Yield rows with their JSON columns decoded and their bytes as base64."""
    decode = _JSON_COLUMNS.get(table, ())
    for row in rows:
        row = _plain_row(row)
        for name in decode:
            row[name] = _decoded(row.get(name))
        if table in ("results", "history", "records") and "ok" in row:
            row["ok"] = bool(row["ok"])
        yield row


def _decoded(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # not JSON after all (a store written by hand): keep the text


def _item_keys(rows: Iterable[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}  # insertion-ordered: first-seen order
    for row in rows:
        for key in _item(row):
            keys.setdefault(key, None)
    return list(keys)


def _item_rows(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, str]]:
    for row in rows:
        yield {key: _cell(value) for key, value in _item(row).items()}


def _item(row: dict[str, Any]) -> dict[str, Any]:
    data = _decoded(row["data"])
    # Items are JSON objects; anything else a callback stored goes in a column of its own.
    return {str(k): v for k, v in data.items()} if isinstance(data, dict) else {"value": data}


def _cell(value: object) -> str:
    """Return a CSV cell: a string as itself, null as empty, anything else as JSON text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row.items()}


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
