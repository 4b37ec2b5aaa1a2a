"""The fetch input's rows: added once per key, ids assigned in advance, and what earlier
runs left unfinished (``Frontier.add`` and ``Frontier.leftovers``, for SQLite)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from corral.http.engine._request import InvalidLine, Request
from corral.http.store._frontier import Added, PendingRow
from corral.http.store._refresh import DUE, VALIDATORS, Bounds, conditional
from corral.http.store._rows import insert_rows
from corral.http.store._schema import DONE, PENDING, PENDING_COLUMNS, URL_COLUMNS

# (id, run, state, due again in a refresh, ETag, Last-Modified) of a known key
_Known = tuple[int, int, int, bool, str | None, str | None]


class InputRows:
    """One run's additions to the frontier from a fetch's input (in the store's thread)."""

    def __init__(
        self, conn: sqlite3.Connection, run: int, first_id: int, refresh: Bounds | None = None
    ) -> None:
        """Args:
        conn: the open store.
        run: this run's id.
        first_id: this run's first frontier id (one past the highest id in the store).
        refresh: a ``--refresh`` run's bounds: URLs recorded within them are fetched again.
        """
        self._refresh = refresh
        self._conn = conn
        self._run = run
        self._first_id = self._next_id = first_id
        self._empty_before = first_id == 1

    def add(
        self, batch: Sequence[Request | InvalidLine]
    ) -> tuple[Added, list[tuple[int, Request | InvalidLine]]]:
        """Add input lines once per key; return the counts and the rows to fetch now."""
        rows: dict[str, Request | InvalidLine] = {}
        for item in batch:
            rows.setdefault(_key(item), item)  # the first occurrence wins
        in_batch_dups = len(batch) - len(rows)
        if self._empty_before:
            return self._add_fresh(rows, in_batch_dups)
        known = self._known(list(rows))
        dups = earlier_done = earlier_pending = refreshed = 0
        fresh: list[tuple[Any, ...]] = []
        adopted: list[tuple[int, int]] = []
        new: list[tuple[int, Request | InvalidLine]] = []
        for key, item in rows.items():
            if key not in known:
                new.append((self._next_id, item))
                fresh.append((self._next_id, *_frontier_row(key, item, self._run)))
                self._next_id += 1
                continue
            ident, run, state, due, etag, last_modified = known[key]
            if run == self._run:
                dups += 1
                continue
            # An earlier run's URL becomes this run's (a later line with it is a duplicate);
            # one it left pending is fetched now, where the input has it: counted once, as
            # this run's, never also as "resumed" (issue 12, item 8)
            adopted.append((self._run, ident))
            if state == DONE and due and isinstance(item, Request):
                refreshed += 1
                new.append((ident, conditional(item, etag, last_modified)))
            elif state == DONE:
                earlier_done += 1
            else:
                earlier_pending += 1
                new.append((ident, item))
        with self._conn:
            self._conn.execute("BEGIN")
            insert_rows(self._conn, "INSERT OR IGNORE INTO urls", URL_COLUMNS, fresh)
            self._conn.executemany("UPDATE urls SET run = ? WHERE id = ?", adopted)
        added = Added(len(fresh), dups + in_batch_dups, earlier_done, earlier_pending, refreshed)
        return added, new

    def _add_fresh(
        self, rows: dict[str, Request | InvalidLine], in_batch_dups: int
    ) -> tuple[Added, list[tuple[int, Request | InvalidLine]]]:
        """Add to a store that held nothing before this run: a repeated key can only be one
        of this run's own, and an ignored insert says so (no lookup first)."""
        first = self._next_id
        new = list(enumerate(rows.values(), first))
        self._next_id = first + len(new)
        with self._conn:
            self._conn.execute("BEGIN")
            before = self._conn.total_changes
            insert_rows(
                self._conn,
                "INSERT OR IGNORE INTO urls",
                URL_COLUMNS,
                [
                    (ident, *_frontier_row(key, item, self._run))
                    for (ident, item), key in zip(new, rows, strict=True)
                ],
            )
            if self._conn.total_changes - before != len(new):  # some were this run's own
                stored = {
                    ident
                    for (ident,) in self._conn.execute(
                        "SELECT id FROM urls WHERE id >= ? AND id < ?", (first, self._next_id)
                    )
                }
                new = [(ident, item) for ident, item in new if ident in stored]
        dups = len(rows) - len(new)
        return Added(len(new), dups + in_batch_dups, 0, 0), new

    def _known(self, keys: list[str]) -> dict[str, _Known]:
        """Return the frontier's (id, run, state) of those of ``keys`` it has; in a refresh,
        also whether the row is due again and its validators."""
        known: dict[str, _Known] = {}
        bounds = self._refresh
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            if bounds is None:
                query = (
                    f"SELECT key, id, run, state, 0, NULL, NULL FROM urls WHERE key IN ({marks})"
                )
                params: tuple[Any, ...] = tuple(chunk)
            else:
                query = (
                    f"SELECT u.key, u.id, u.run, u.state, coalesce({DUE}, 0), {VALIDATORS} "
                    f"FROM urls u LEFT JOIN results r ON r.id = u.id WHERE u.key IN ({marks})"
                )
                params = (*bounds.params(), *chunk)
            for key, *row in self._conn.execute(query, params):
                known[key] = (row[0], row[1], row[2], bool(row[3]), row[4], row[5])
        return known

    def leftovers(self, after: int, limit: int) -> list[PendingRow]:
        """Return up to ``limit`` rows earlier runs left pending that this run has not taken
        over from its input, with ids above ``after``."""
        return [
            PendingRow(*row)
            for row in self._conn.execute(
                f"SELECT {PENDING_COLUMNS} FROM urls WHERE id > ? AND id < ? "
                f"AND state = {PENDING} AND run != ? ORDER BY id LIMIT ?",
                (after, self._first_id, self._run, limit),
            )
        ]


def _key(item: Request | InvalidLine) -> str:
    return item.key if isinstance(item, Request) else f"invalid:{item.text}"


def _frontier_row(key: str, item: Request | InvalidLine, run: int) -> tuple[Any, ...]:
    if isinstance(item, InvalidLine):
        return (key, item.text, "", None, item.reason, 0, None, run)
    return (key, item.url, item.host, item.to_json(), None, item.depth, item.found_on, run)
