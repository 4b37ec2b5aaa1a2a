"""The SQLite frontier: one database holding a job's URLs, its records and its runs.

Every call runs in corral's thread pool under a one-slot ``ThreadLimit``, so SQLite never
blocks the event loop and the one connection is used by one thread at a time. The database
is in WAL mode with ``synchronous=NORMAL``: a commit survives the process being killed
(``kill -9``), which is what resuming needs; a power cut may lose the last commits, which a
resumed run then fetches again.

Exactly one record per URL per run: a URL's record and the flip of its row to done are
written in one transaction, and the record's primary key is the row's id; a ``--refresh``
run moves the URL's earlier record to ``history`` in that transaction (``_refresh``). With
a JSONL output the lines are appended before that transaction, and the file's length is
committed with it; a resumed run first cuts the file back to the committed length, so lines
whose transaction never committed are dropped and their URLs fetched (and written) again.

One run holds the store for its whole life (an OS lock, ``_lock``): its leases cannot be
taken by another run, so ``renew`` has nothing to do, and at ``open`` every lease is a dead
run's, which ``open`` returns to pending.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any, Literal, TypeVar

from corral import ThreadLimit, to_thread
from corral.http._faults import FileWatch, StoreError, describe_fault
from corral.http.engine._politeness import Event
from corral.http.engine._request import InvalidLine, Request
from corral.http.store import _crawlrows as crawl
from corral.http.store import _refresh as refresh
from corral.http.store._frontier import (
    Added,
    Committed,
    Done,
    Frontier,
    LinkRow,
    ParkedBody,
    PendingRow,
)
from corral.http.store._inputrows import InputRows
from corral.http.store._lock import StoreLock
from corral.http.store._opening import check, connect, cut_jsonl, is_locked, set_meta, take_lock
from corral.http.store._refresh import Bounds, Refresh, bounds
from corral.http.store._rows import insert_rows, jsonl_lines, result_row, slim_row, write_all
from corral.http.store._runs import EarlierRun, begin_run, last_write
from corral.http.store._samplerows import add_sample
from corral.http.store._schema import DONE, RESULT_COLUMNS

T = TypeVar("T")
JobKind = Literal["fetch", "crawl"]


class SQLiteFrontier:
    """A job's frontier and records in one SQLite file; every method runs off the loop.

    One run uses a store at a time: ``open`` takes the store's lock (``_lock``) and
    ``finish`` lets go of it once the database is closed.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        kind: JobKind = "fetch",
        jsonl: IO[bytes] | None = None,
        append_only: bool = False,
        body_as: str = "omit",
        refresh: Refresh | None = None,
        job: Mapping[str, Any] | None = None,
        budget: crawl.Budget | None = None,
    ) -> None:
        """Args:
        path: the SQLite database (the job's state, beside a JSONL output).
        kind: the job the store serves: a store made by a fetch refuses a crawl.
        jsonl: the JSONL output for records, or None to keep them (and any bodies the
            results hold) in the database.
        append_only: the JSONL output is a stream never to cut back (stdout, which may be
            a user's file opened with ``>>``: cutting it to this run's length erased it).
        body_as: how a JSONL line carries a body: ``base64`` or ``omit``.
        refresh: fetch again what earlier runs recorded (``_refresh``); None: a URL
            recorded once is done.
        job: what the job is, recorded by its first run (``_opening.check_job``: no other).
        budget: a crawl's budget, whose room left brings back the rows earlier runs
            skipped for ``max_pages`` (``_crawlrows.revive``); None: they stay skipped.
        """
        self.path = str(path)
        self.kind = kind
        self._jsonl = jsonl
        self._body_as = body_as
        # a JSONL file this store cuts back on resume and records the committed length of
        self._resumable_jsonl = jsonl is not None and not append_only and jsonl.seekable()
        # what messages call the store: the JSON lines output itself rather than its state
        name = getattr(jsonl, "name", None)
        self.name = name if jsonl is not None and isinstance(name, str) else self.path
        self._conn: sqlite3.Connection | None = None
        self._watch: FileWatch | None = None
        self._lock: StoreLock | None = None
        self._input: InputRows | None = None
        self.earlier: EarlierRun | None = None
        self._slot = ThreadLimit(1)
        self.run = 0
        self._refresh = refresh
        self._job = job
        self._bounds: Bounds | None = None
        # commits compare with earlier records: a refresh, or a crawl resuming one (rows again)
        self._compare = False
        self._label = False  # ... and say what changed (a refresh)
        self.refreshing = 0  # a crawl's rows queued again by --refresh as it opened
        self.failed = 0  # at finish: the records a --retry-failed run would fetch again
        self.refused = 0  # ... of which a proxy refused for its credentials
        self._budget, self.revived = budget, 0  # rows skipped for the budget, pending again
        self.pruned: Counter[str] = Counter()  # pending rows the budget now stops, by reason
        self._events = 0  # throttle events this run recorded (``sample``)
        self.identity = ("", "")  # the store's id and when it was made (``check``), once open

    async def _call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn`` in the store's thread; a fault on the files becomes a one-line
        ``StoreError`` (what, where, what to do), and so does a store deleted meanwhile."""
        try:
            return await to_thread(self._watched, fn, *args, limiter=self._slot)
        except BrokenPipeError:
            raise  # the reader of stdout went away: the CLI ends quietly
        except (sqlite3.Error, OSError) as exc:
            where = self.path if isinstance(exc, sqlite3.Error) else self._jsonl_name()
            raise StoreError(describe_fault(where, exc, resumable=self._resumable)) from exc

    def _watched(self, fn: Any, *args: Any) -> Any:
        result = fn(*args)
        if self._watch is not None:
            self._watch.check()
        return result

    @property
    def _resumable(self) -> bool:
        return self._jsonl is None or self._resumable_jsonl

    def _jsonl_name(self) -> str:
        name = getattr(self._jsonl, "name", None)
        return name if isinstance(name, str) else self.path

    def _connection(self) -> sqlite3.Connection:
        assert self._conn is not None, "the store is not open"
        return self._conn

    # --- opening and finishing --------------------------------------------------------------

    async def open(self, argv: Sequence[str], started_at: str) -> int:
        """Open (or create) the database, cut a JSONL output back, and start a run; a crawl's
        store then gets its indexes and every earlier lease back to pending (all dead).

        Returns:
            How many leases went back to pending.
        """
        reaped: int = await self._call(self._open, list(argv), started_at)
        jsonl = self._jsonl if self._resumable_jsonl else None
        self._watch = await self._call(FileWatch.of, self.path, jsonl)
        return reaped

    def _open(self, argv: list[str], started_at: str) -> int:
        self._lock = take_lock(self.path, self.name, argv, started_at)
        try:
            ended = last_write(self.path)
            self._conn = conn = connect(self.path, resumable=self._resumable)
            self.identity = check(conn, self.path, self.name, self.kind, self._job)
            if self._jsonl is not None and self._resumable_jsonl:
                cut_jsonl(conn, self._jsonl, self.path)
            (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM urls").fetchone()
            self.run, self.earlier = begin_run(conn, argv, started_at, ended)
            if self._refresh is not None:
                self._bounds = bounds(conn, self.run, self._refresh)
            if self.kind != "crawl":  # a refresh cut short is finished, even without it
                self._bounds = refresh.remember(conn, self._bounds)
            due = self._bounds
            self._compare, self._label = due is not None, due is not None and not due.failed
            self._input = InputRows(conn, self.run, int(last) + 1, self._bounds)
            # (a fetch never leases: its store has no lease to reap, nor the crawl's indexes)
            if self.kind != "crawl":
                return 0
            reaped = crawl.reap(conn)
            if self._bounds is not None:
                self.refreshing = crawl.requeue(conn, self._bounds, mark=self._label)
            if self._budget is not None:
                self.revived, self.pruned = crawl.revive(conn, self.run, self._budget)
            self._label = self._label or crawl.labelled(conn)  # a refresh's
            self._compare = self._label or crawl.requeued(conn) or self.revived > 0
            return reaped
        except BaseException as exc:
            self._close()
            if is_locked(exc):  # another program (not a corral run) is writing to it
                raise StoreError(
                    f"{self.name} is locked by another program ({exc}); "
                    "wait for it or use another -o"
                ) from None
            raise

    async def check_job(self, job: Mapping[str, Any]) -> None:
        """Check ``job`` as ``job=`` does at opening (``open_crawler``'s seeds come later)."""
        await self._call(check, self._connection(), self.path, self.name, self.kind, job)

    def _close(self) -> None:
        """Close the database, then let go of the lock (closing first: see ``_lock``)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def finish(self, status: str, finished_at: str, summary: Mapping[str, Any]) -> None:
        """Record how the run ended, and close the database (even when that fails)."""
        await self._call(self._finish, status, finished_at, summary)

    def _finish(self, status: str, finished_at: str, summary: Mapping[str, Any]) -> None:
        if self._conn is None:
            return
        try:
            with self._conn as conn:
                conn.execute("BEGIN")
                conn.execute(
                    "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE id = ?",
                    (status, finished_at, json.dumps(dict(summary)), self.run),
                )
                if status == "finished":  # (an unfinished run's are not due next run)
                    crawling = self.kind == "crawl"
                    self.failed, self.refused = refresh.failed_count(conn, self.run, crawling)
                    # a crawl: nothing queued again is left; a fetch: the input went through
                    crawl.requeued(conn, clear=True) if crawling else refresh.forget(conn)
        finally:  # closed even when the disk is full: the records committed are kept
            self._close()

    async def sample(
        self, at: str, figures: tuple[int, ...], thin: bool, events: list[Event]
    ) -> None:
        """Record the run's counters at ``at`` (done, in flight, queued, frontier, hosts
        throttled) and its throttle events; ``thin``: first drop every other sample this
        run kept. Past ``MAX_EVENTS`` events a run, the rest are only counted."""
        await self._call(self._sample, at, figures, thin, events)

    def _sample(self, at: str, figures: tuple[int, ...], thin: bool, events: list[Event]) -> None:
        self._events = add_sample(
            self._connection(), self.run, at, figures, thin=thin, events=events, kept=self._events
        )

    # --- adding and taking rows -------------------------------------------------------------

    async def add(
        self, batch: Sequence[Request | InvalidLine]
    ) -> tuple[Added, list[tuple[int, Request | InvalidLine]]]:
        """Add a fetch's input lines once per key (``Frontier.add``)."""
        assert self._input is not None, "the store is not open"
        added: tuple[Added, list[tuple[int, Request | InvalidLine]]]
        added = await self._call(self._input.add, batch)
        return added

    async def leftovers(self, after: int, limit: int) -> list[PendingRow]:
        """Return rows earlier runs left unfinished (``Frontier.leftovers``)."""
        assert self._input is not None, "the store is not open"
        rows: list[PendingRow] = await self._call(self._input.leftovers, after, limit)
        return rows

    async def add_links(self, links: Sequence[LinkRow]) -> Committed:
        """Add a crawl's URLs once each (``Frontier.add_links``)."""
        committed: Committed = await self._call(self._add_links, links)
        return committed

    def _add_links(self, links: Sequence[LinkRow]) -> Committed:
        conn = self._connection()
        with conn:
            conn.execute("BEGIN")
            return crawl.add_links(conn, self.run, links)

    async def claim(self, host: str, limit: int) -> list[PendingRow]:
        """Lease a host's next rows to this run (``Frontier.claim``)."""
        rows: list[PendingRow] = await self._call(
            partial(crawl.claim, refresh=self._compare),
            self._connection(),
            self.run,
            host,
            limit,
        )
        return rows

    async def renew(self, ids: Sequence[int]) -> None:
        """Do nothing: this run's leases last as long as it holds the store."""

    async def reap(self) -> int:
        """Return 0: every lease is this run's (``open`` reaped the dead runs' ones)."""
        return 0

    # --- committing -------------------------------------------------------------------------

    async def commit(self, done: Sequence[Done]) -> Committed:
        """Commit fetched rows with their records, links, items and parked bodies, all or
        none; with a JSONL output, the records go there, committed by its length."""
        committed: Committed = await self._call(self._commit, done)
        return committed

    def _commit(self, done: Sequence[Done]) -> Committed:
        jsonl = self._jsonl
        start = jsonl.tell() if jsonl is not None and self._resumable_jsonl else None
        moves = None
        if self._compare:  # a refresh: compare with the earlier records
            earlier = refresh.earlier_records(self._connection(), [d.ident for d in done])
            done, moves = refresh.changes(
                done, earlier, stores_bodies=jsonl is None, label=self._label
            )
        try:
            if jsonl is not None:
                write_all(jsonl, jsonl_lines([d.result for d in done], self._body_as))
            return self._commit_rows(done, moves)
        except BaseException:
            if jsonl is not None and start is not None:  # whole committed lines only
                with contextlib.suppress(OSError):
                    jsonl.truncate(start)
                    jsonl.seek(start)
            raise

    def _commit_rows(self, done: Sequence[Done], moves: refresh.Moves | None) -> Committed:
        conn = self._connection()
        ids = [d.ident for d in done]
        in_store = self._jsonl is None
        with conn:
            conn.execute("BEGIN")
            if moves is not None:
                refresh.apply(conn, moves, history=in_store)
            if in_store:
                rows = [result_row(d.ident, d.result, self.run, store_body=True) for d in done]
                if moves is not None and moves.kept:  # not modified: the body stays put
                    refresh.update_kept(conn, [r for r in rows if r[0] in moves.kept])
                    rows = [r for r in rows if r[0] not in moves.kept]
                insert_rows(conn, "INSERT INTO results", RESULT_COLUMNS, rows)
            elif self._resumable_jsonl:  # the state keeps what a refresh needs, no body
                rows = [slim_row(d.ident, d.result, self.run) for d in done]
                insert_rows(conn, "INSERT OR REPLACE INTO results", RESULT_COLUMNS, rows)
            if moves is not None and self.kind == "crawl":
                refresh.after_insert(conn, self.run, moves)
            most = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            for start in range(0, len(ids), most):  # one statement, not one a row
                chunk = ids[start : start + most]
                marks = ",".join("?" * len(chunk))
                conn.execute(
                    f"UPDATE urls SET state = {DONE}, lease_run = NULL WHERE id IN ({marks})",
                    chunk,
                )
            committed = crawl.found(conn, self.run, done)
            if self._jsonl is not None and self._resumable_jsonl:
                set_meta(conn, "jsonl_length", str(self._jsonl.tell()))
        if moves is not None and self._label:
            changes = refresh.tally(done, moves)
            committed = dataclasses.replace(committed, changes=changes)
        return committed

    async def unpark(self, limit: int) -> list[ParkedBody]:
        """Return parked bodies, oldest first (``Frontier.unpark``)."""
        rows: list[ParkedBody] = await self._call(crawl.unpark, self._connection(), limit)
        return rows

    async def unparked(self, ids: Sequence[int], links: Sequence[LinkRow]) -> Committed:
        """Drop parsed parked bodies and add their links (``Frontier.unparked``)."""
        committed: Committed = await self._call(
            crawl.unparked, self._connection(), self.run, ids, links
        )
        return committed

    async def skip_rest(self, reason: str) -> int:
        """Record the rest of the frontier as not fetched (``Frontier.skip_rest``)."""
        count: int = await self._call(crawl.skip_rest, self._connection(), self.run, reason)
        return count

    # --- counts -----------------------------------------------------------------------------

    async def pending_by_host(self) -> Counter[str]:
        """Return how many pending rows each host has (``Frontier.pending_by_host``)."""
        counts: Counter[str] = await self._call(crawl.pending_by_host, self._connection())
        return counts

    async def undone(self, ids: Sequence[int]) -> dict[int, str]:
        """Return which of ``ids`` have a row not recorded yet, with its key (a crawl)."""
        return await self._call(crawl.undone, self._connection(), ids)  # type: ignore[no-any-return]

    async def not_done(self, after: int, limit: int, *, done: bool = False) -> list[PendingRow]:
        """Return rows not recorded yet (``done``: recorded), ids above ``after``, by id."""
        rows = partial(crawl.not_done, done=done)
        return await self._call(rows, self._connection(), after, limit)  # type: ignore[no-any-return]

    async def earlier_records(self) -> tuple[int, int]:
        """Return earlier runs' records and pages fetched (``Frontier.earlier_records``)."""
        counts: tuple[int, int] = await self._call(crawl.earlier_records, self._connection())
        return counts


_: type[Frontier] = SQLiteFrontier  # mypy checks that the SQLite store is a Frontier
