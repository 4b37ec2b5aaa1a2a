"""The crawl frontier: the job store, plus leases, per-host claims, links, items and parking.

Rows of ``urls`` move pending (0) -> leased (2) -> done (1). A claim leases a host's next
rows (breadth first: lowest depth, then discovery order) to the run. One run uses a store at
a time (it holds the store's lock, ``_lock``), so at the start every lease is a dead run's:
all are pending again. That is what lets a crawl killed with ``kill -9`` go on at once when
restarted, whatever became of the killed process (a zombie's process id still answers).

A fetched page is finished in one transaction: its result row, its state, the links found on
it (new ones pending, skipped ones recorded with their reason), the items the parse callback
made, or its body parked for later parsing. Killed before that commit, the page is simply
fetched again; after it, nothing it found can be lost.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from corral.http.engine._request import Request
from corral.http.engine._result import FetchResult
from corral.http.store._store import RESULT_COLUMNS, PendingRow, Store, insert_rows, result_row
from corral.http.web._urls import mask_credentials

_PENDING, _DONE, _LEASED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class LinkRow:
    """A URL found on a page: where it goes, how deep, and whether it is followed."""

    key: str
    url: str
    host: str
    depth: int
    found_on: str | None
    skip: str | None  # None: follow; else the reason it is skipped (out_of_scope, ...)


@dataclass(frozen=True, slots=True)
class PageDone:
    """Everything one fetched page leaves in the store, committed together."""

    ident: int
    result: FetchResult
    links: Sequence[LinkRow] = ()
    items: Sequence[Mapping[str, Any]] = ()
    parked: tuple[str | None, bytes] | None = None  # (content type, body) to parse later


@dataclass(frozen=True, slots=True)
class Committed:
    """What a batch of pages added to the frontier, by host (for the claimer's counts)."""

    new_by_host: Mapping[str, int]
    skipped: Mapping[str, int]  # links recorded as skipped, by reason (not those known before)
    items: int


# The crawl's own indexes: claims by host (breadth first) and lease renewal. A fetch job
# never uses them, so it does not pay for keeping them up to date.
_CRAWL_INDEXES = """
CREATE INDEX IF NOT EXISTS urls_host_pending ON urls (host, depth, id) WHERE state = 0;
CREATE INDEX IF NOT EXISTS urls_leased ON urls (lease_run) WHERE state = 2;
"""


class CrawlStore(Store):
    """The job store with the crawl's frontier operations; every method runs off the loop."""

    KIND = "crawl"

    async def reclaim(self) -> int:
        """Make the crawl's indexes, then return every lease of an earlier run (all dead: this
        run holds the store) to pending; give their count."""
        count: int = await self._call(self._reclaim)
        return count

    def _reclaim(self) -> int:
        conn = self._connection()
        conn.executescript(_CRAWL_INDEXES)
        with conn:
            conn.execute("BEGIN")
            cursor = conn.execute(
                "UPDATE urls SET state = 0, lease_until = NULL, lease_run = NULL WHERE state = 2"
            )
        return int(cursor.rowcount)

    async def earlier_records(self) -> tuple[int, int]:
        """Return how many records earlier runs of the crawl made, and how many of those are
        pages fetched (records of URLs not fetched, robots or scope skips, made no attempt)."""
        counts: tuple[int, int] = await self._call(self._earlier_records)
        return counts

    def _earlier_records(self) -> tuple[int, int]:
        records, fetched = (
            self._connection()
            .execute("SELECT count(*), coalesce(sum(attempts > 0), 0) FROM results")
            .fetchone()
        )
        return int(records), int(fetched)

    async def pending_by_host(self) -> Counter[str]:
        """Return how many pending rows each host has (read once, at the start)."""
        counts: Counter[str] = await self._call(self._pending_by_host)
        return counts

    def _pending_by_host(self) -> Counter[str]:
        rows = self._connection().execute(
            "SELECT host, count(*) FROM urls WHERE state = 0 GROUP BY host"
        )
        return Counter(dict(rows))

    async def claim(self, host: str, limit: int, until: float) -> list[PendingRow]:
        """Lease up to ``limit`` pending rows of ``host`` (lowest depth first) until ``until``."""
        rows: list[PendingRow] = await self._call(self._claim, host, limit, until)
        return rows

    def _claim(self, host: str, limit: int, until: float) -> list[PendingRow]:
        conn = self._connection()
        rows = [
            PendingRow(*row)
            for row in conn.execute(
                "SELECT id, url, host, request, invalid, depth, found_on FROM urls "
                "WHERE host = ? AND state = 0 ORDER BY depth, id LIMIT ?",
                (host, limit),
            )
        ]
        with conn:
            conn.execute("BEGIN")
            conn.executemany(
                "UPDATE urls SET state = 2, lease_until = ?, lease_run = ? WHERE id = ?",
                [(until, self.run, row.id) for row in rows],
            )
        return rows

    async def add_seeds(self, seeds: Sequence[LinkRow]) -> Committed:
        """Add seed URLs (and skipped seeds' records) to the frontier."""
        committed: Committed = await self._call(self._seed, seeds)
        return committed

    def _seed(self, seeds: Sequence[LinkRow]) -> Committed:
        conn = self._connection()
        with conn:
            conn.execute("BEGIN")
            return self._links(seeds)

    async def finish_pages(self, pages: Sequence[PageDone]) -> Committed:
        """Commit fetched pages with their links, items and parked bodies, in one transaction."""
        committed: Committed = await self._call(self._finish_pages, pages)
        return committed

    def _finish_pages(self, pages: Sequence[PageDone]) -> Committed:
        conn = self._connection()
        items = [
            (page.ident, page.result.url, json.dumps(item, default=str), self.run)
            for page in pages
            for item in page.items
        ]
        with conn:
            conn.execute("BEGIN")
            insert_rows(
                conn,
                "INSERT INTO results",
                RESULT_COLUMNS,
                [result_row(p.ident, p.result, self.run, store_body=True) for p in pages],
            )
            conn.executemany(
                "UPDATE urls SET state = 1, lease_until = NULL, lease_run = NULL WHERE id = ?",
                [(p.ident,) for p in pages],
            )
            conn.executemany(
                "INSERT INTO items (url_id, url, data, run) VALUES (?, ?, ?, ?)", items
            )
            conn.executemany(
                "INSERT INTO parked (id, url, depth, content_type, body) VALUES (?, ?, ?, ?, ?)",
                [
                    (p.ident, p.result.final_url or p.result.url, p.result.depth, *p.parked)
                    for p in pages
                    if p.parked is not None
                ],
            )
            committed = self._links([link for p in pages for link in p.links])
        return Committed(committed.new_by_host, committed.skipped, len(items))

    def _links(self, links: Sequence[LinkRow]) -> Committed:
        """Insert links inside the caller's transaction; skipped ones get their record."""
        conn = self._connection()
        new: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        for link in links:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO urls (key, url, host, depth, found_on, state, run) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    link.key,
                    link.url,
                    link.host,
                    link.depth,
                    link.found_on,
                    _PENDING if link.skip is None else _DONE,
                    self.run,
                ),
            )
            if not cursor.rowcount:
                continue
            if link.skip is None:
                new[link.host] += 1
                continue
            skipped[link.skip] += 1
            record = FetchResult(
                url=mask_credentials(link.url),
                error_kind=link.skip,
                error=f"not fetched: {link.skip.replace('_', ' ')}",
                depth=link.depth,
                found_on=link.found_on,
                fetched_at="",
            )
            conn.execute(
                f"INSERT INTO results ({RESULT_COLUMNS}) VALUES ({','.join('?' * 20)})",
                result_row(int(cursor.lastrowid or 0), record, self.run, store_body=False),
            )
        return Committed(new, skipped, 0)

    async def unpark(self, limit: int) -> list[tuple[int, str, int, str | None, bytes]]:
        """Take up to ``limit`` parked bodies out of the store (id, url, depth, type, body)."""
        rows: list[tuple[int, str, int, str | None, bytes]] = await self._call(self._unpark, limit)
        return rows

    def _unpark(self, limit: int) -> list[tuple[int, str, int, str | None, bytes]]:
        return list(
            self._connection().execute(
                "SELECT id, url, depth, content_type, body FROM parked ORDER BY id LIMIT ?",
                (limit,),
            )
        )

    async def unparked(self, ids: Sequence[int], links: Sequence[LinkRow]) -> Committed:
        """Commit the links of parsed parked pages and drop their bodies."""
        committed: Committed = await self._call(self._unparked, ids, links)
        return committed

    def _unparked(self, ids: Sequence[int], links: Sequence[LinkRow]) -> Committed:
        conn = self._connection()
        with conn:
            conn.execute("BEGIN")
            conn.executemany("DELETE FROM parked WHERE id = ?", [(i,) for i in ids])
            return self._links(links)

    async def parked_count(self) -> int:
        """Return how many bodies wait to be parsed."""
        count: int = await self._call(
            lambda: self._connection().execute("SELECT count(*) FROM parked").fetchone()[0]
        )
        return count

    async def skip_rest(self, reason: str) -> int:
        """Record every URL still pending (or leased by this run) as skipped for ``reason``."""
        count: int = await self._call(self._skip_rest, reason)
        return count

    def _skip_rest(self, reason: str) -> int:
        conn = self._connection()
        # the frontier keeps a URL's password; its record shows user:***@
        conn.create_function("mask_credentials", 1, mask_credentials, deterministic=True)
        with conn:
            conn.execute("BEGIN")
            cursor = conn.execute(
                f"INSERT INTO results ({RESULT_COLUMNS}) "
                "SELECT id, mask_credentials(url), NULL, NULL, 0, ?, ?, 0, 0, '', 0, NULL, NULL, "
                "NULL, NULL, NULL, 'GET', depth, found_on, ? FROM urls "
                "WHERE state = 0 OR (state = 2 AND lease_run = ?)",
                (reason, f"not fetched: {reason.replace('_', ' ')}", self.run, self.run),
            )
            conn.execute(
                "UPDATE urls SET state = 1, lease_until = NULL, lease_run = NULL "
                "WHERE state = 0 OR (state = 2 AND lease_run = ?)",
                (self.run,),
            )
        return int(cursor.rowcount)

    def _connection(self) -> Any:
        assert self._conn is not None, "the store is not open"
        return self._conn


def link_row(request: Request, skip: str | None) -> LinkRow:
    """Return the frontier row for a request (followed, or skipped for ``skip``)."""
    return LinkRow(request.key, request.url, request.host, request.depth, request.found_on, skip)
