"""The job store: one SQLite database holding the frontier, the results and the runs.

Every call runs in corral's thread pool under a one-slot ``ThreadLimit``, so SQLite never
blocks the event loop and the one connection is used by one thread at a time. The database
is in WAL mode with ``synchronous=NORMAL``: a commit survives the process being killed
(``kill -9``), which is what resuming needs; a power cut may lose the last commits, which a
resumed run then fetches again.

Exactly one record per URL: a URL's result row and the flip of its frontier row to "done"
are written in one transaction, and the result's primary key is the frontier row's id. With
a JSONL output the lines are appended before that transaction, and the file's length is
committed with it; a resumed run first cuts the file back to the committed length, so lines
whose transaction never committed are dropped and their URLs fetched (and written) again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import json
import json.encoder
import operator
import os
import socket
import sqlite3
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from corral import ThreadLimit, to_thread
from corral.http.engine._request import InvalidLine, Request
from corral.http.engine._result import FetchResult
from corral.http.store._faults import FileWatch, describe_fault
from corral.http.store._faults import StoreError as StoreError  # (its home before _faults existed)
from corral.http.store._lock import LockHeld, StoreLock, take
from corral.http.store._runs import EarlierRun, WrongKind, begin_run, check_kind, last_write

T = TypeVar("T")
SCHEMA_VERSION = 1
_SCHEMA = """
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
    run INTEGER NOT NULL
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
    run INTEGER NOT NULL
);
"""
TABLES = ("results", "items", "urls", "runs")
_URL_COLUMNS = "id, key, url, host, request, invalid, depth, found_on, run"
_PENDING = 0
_DONE = 1
RESULT_COLUMNS = (
    "id, url, final_url, status, ok, error_kind, error, attempts, elapsed_ms, fetched_at, "
    "bytes, content_type, headers, sha256, body, body_path, method, depth, found_on, run"
)


@dataclass(frozen=True, slots=True)
class Added:
    """What one ingested batch did to the frontier."""

    new: int
    duplicates: int  # already in this run
    earlier_done: int  # recorded by an earlier run: not fetched again
    earlier_pending: int  # left unfinished by an earlier run: will be fetched


@dataclass(frozen=True, slots=True)
class PendingRow:
    """A frontier row waiting to be fetched."""

    id: int
    url: str
    host: str
    request: str | None
    invalid: str | None
    depth: int
    found_on: str | None


class Store:
    """The SQLite database of one job; every method is a coroutine run off the loop.

    One run uses a store at a time: ``open`` takes the store's lock (``_lock``) and
    ``finish`` lets go of it once the database is closed.
    """

    KIND = "fetch"  # the job a store serves: a store made by a fetch refuses a crawl

    def __init__(
        self, path: str | Path, *, jsonl: IO[bytes] | None = None, append_only: bool = False
    ) -> None:
        """Args:
        path: the SQLite database (the job's state, beside a JSONL output).
        jsonl: the JSONL output, or None to keep records in the database.
        append_only: the JSONL output is a stream never to cut back (stdout, which may be
            a user's file opened with ``>>``: cutting it to this run's length erased it).
        """
        self.path = str(path)
        self._jsonl = jsonl
        # a JSONL file this store cuts back on resume and records the committed length of
        self._resumable_jsonl = jsonl is not None and not append_only and jsonl.seekable()
        # what messages call the store: the JSON lines output itself rather than its state
        name = getattr(jsonl, "name", None)
        self.name = name if jsonl is not None and isinstance(name, str) else self.path
        self._conn: sqlite3.Connection | None = None
        self._watch: FileWatch | None = None
        self._lock: StoreLock | None = None
        self.earlier: EarlierRun | None = None  # the run before, if it did not finish
        self._slot = ThreadLimit(1)
        self.run = 0
        self.first_id = 1  # this run's first frontier id: lower ones are earlier runs' rows
        self._next_id = 1
        self._empty_before = True

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

    # --- opening and runs -------------------------------------------------------------------

    async def open(self, argv: Sequence[str], started_at: str) -> None:
        """Open (or create) the database, cut a JSONL output back, and start a run."""
        await self._call(self._open, list(argv), started_at)
        jsonl = self._jsonl if self._resumable_jsonl else None
        self._watch = await self._call(FileWatch.of, self.path, jsonl)

    def _open(self, argv: list[str], started_at: str) -> None:
        self._lock = self._take_lock(argv, started_at)
        try:
            ended = last_write(self.path)
            self._conn = self._connect()
            self._check()
            self._cut_jsonl()
            (last,) = self._conn.execute("SELECT coalesce(max(id), 0) FROM urls").fetchone()
            self.first_id = self._next_id = int(last) + 1
            self._empty_before = last == 0
            self.run, self.earlier = begin_run(self._conn, argv, started_at, ended)
        except BaseException as exc:
            self._close()
            if _is_locked(exc):  # another program (not a corral run) is writing to it
                raise StoreError(
                    f"{self.name} is locked by another program ({exc}); "
                    "wait for it or use another -o"
                ) from None
            raise

    def _take_lock(self, argv: list[str], started_at: str) -> StoreLock:
        command = " ".join(argv[:2]) if argv else "a corral run"
        try:
            return take(
                f"{self.path}.lock",
                pid=os.getpid(),
                host=socket.gethostname(),
                started=started_at,
                command=command,
            )
        except LockHeld as held:
            raise StoreError(
                f"{self.name} is in use by {held}; wait for it or use another -o"
            ) from None
        except OSError as exc:
            raise StoreError(
                f"{self.name}: cannot make its lock file {self.path}.lock: {exc.strerror or exc}"
            ) from None

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            # 16 KiB pages for a new database (an existing one keeps its own): a batch's rows
            # go out in a quarter of the writes, about 1.5 µs a URL less (``docs/design.md``)
            conn.execute("PRAGMA page_size=16384")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Temporary tables and journals in memory: opening a file for them needs a
            # descriptor, which a run short of them (issue 12, item 6) then fails to commit.
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            if _is_locked(exc):
                raise  # _open says who holds it
            raise StoreError(describe_fault(self.path, exc, resumable=self._resumable)) from None
        return conn

    def _check(self) -> None:
        """Refuse a store of a newer schema or of the other kind of job."""
        version = self._meta("schema_version")
        if version is None:
            self._set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(version) > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: made by a newer corral (schema {version})")
        assert self._conn is not None
        try:
            check_kind(self._conn, self.KIND)
        except WrongKind as kind:
            raise StoreError(
                f"{self.name} holds the results of a corral {kind}; "
                f"corral {self.KIND} cannot add to it: use another -o"
            ) from None

    def _close(self) -> None:
        """Close the database, then let go of the lock (closing first: see ``_lock``)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _meta(self, name: str) -> str | None:
        assert self._conn is not None
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, name: str, value: str) -> None:
        assert self._conn is not None
        self._conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def _cut_jsonl(self) -> None:
        if self._jsonl is None or not self._resumable_jsonl:
            return
        committed = int(self._meta("jsonl_length") or 0)
        self._jsonl.seek(0, os.SEEK_END)
        length = self._jsonl.tell()
        if length < committed:
            raise StoreError(
                f"{self.path}: the JSONL output is shorter than this state file recorded; "
                "delete the state file to start over"
            )
        if length > committed:
            self._jsonl.truncate(committed)  # lines whose transaction never committed
        self._jsonl.seek(committed)

    async def finish(self, status: str, finished_at: str, summary: dict[str, Any]) -> None:
        """Record how the run ended, and close the database."""
        await self._call(self._finish, status, finished_at, summary)

    def _finish(self, status: str, finished_at: str, summary: dict[str, Any]) -> None:
        if self._conn is None:
            return
        try:
            with self._conn:
                self._conn.execute("BEGIN")
                self._conn.execute(
                    "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE id = ?",
                    (status, finished_at, json.dumps(summary), self.run),
                )
        finally:  # closed even when the disk is full: the records committed are kept
            self._close()

    # --- the frontier -----------------------------------------------------------------------

    async def add(
        self, batch: Sequence[Request | InvalidLine]
    ) -> tuple[Added, list[tuple[int, Request | InvalidLine]]]:
        """Add input requests to the frontier, once per key; say what was new or known.

        Returns:
            The counts, and the rows new in this call (frontier id and request), to fetch.
        """
        result: tuple[Added, list[tuple[int, Request | InvalidLine]]] = await self._call(
            self._add, batch
        )
        return result

    def _add(
        self, batch: Sequence[Request | InvalidLine]
    ) -> tuple[Added, list[tuple[int, Request | InvalidLine]]]:
        assert self._conn is not None
        rows: dict[str, Request | InvalidLine] = {}
        for item in batch:
            rows.setdefault(_key(item), item)  # the first occurrence wins
        in_batch_dups = len(batch) - len(rows)
        if self._empty_before:
            return self._add_fresh(rows, in_batch_dups)
        known = self._known(list(rows))
        dups = earlier_done = earlier_pending = 0
        fresh: list[tuple[Any, ...]] = []
        adopted: list[tuple[int, int]] = []
        new: list[tuple[int, Request | InvalidLine]] = []
        for key, item in rows.items():
            if key not in known:
                new.append((self._next_id, item))
                fresh.append((self._next_id, *_frontier_row(key, item, self.run)))
                self._next_id += 1
                continue
            ident, run, state = known[key]
            if run == self.run:
                dups += 1
                continue
            # An earlier run's URL becomes this run's (a later line with it is a duplicate);
            # one it left pending is fetched now, where the input has it: counted once, as
            # this run's, never also as "resumed" (issue 12, item 8)
            adopted.append((self.run, ident))
            if state == _DONE:
                earlier_done += 1
            else:
                earlier_pending += 1
                new.append((ident, item))
        with self._conn:
            self._conn.execute("BEGIN")
            insert_rows(self._conn, "INSERT OR IGNORE INTO urls", _URL_COLUMNS, fresh)
            self._conn.executemany("UPDATE urls SET run = ? WHERE id = ?", adopted)
        return Added(len(fresh), dups + in_batch_dups, earlier_done, earlier_pending), new

    def _add_fresh(
        self, rows: dict[str, Request | InvalidLine], in_batch_dups: int
    ) -> tuple[Added, list[tuple[int, Request | InvalidLine]]]:
        """Add to a store that held nothing before this run: a repeated key can only be one
        of this run's own, and an ignored insert says so (no lookup first)."""
        assert self._conn is not None
        first = self._next_id
        new = list(enumerate(rows.values(), first))
        self._next_id = first + len(new)
        with self._conn:
            self._conn.execute("BEGIN")
            before = self._conn.total_changes
            insert_rows(
                self._conn,
                "INSERT OR IGNORE INTO urls",
                _URL_COLUMNS,
                [
                    (ident, *_frontier_row(key, item, self.run))
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

    def _known(self, keys: list[str]) -> dict[str, tuple[int, int, int]]:
        """Return the frontier's (id, run, state) of those of ``keys`` it has."""
        assert self._conn is not None
        known: dict[str, tuple[int, int, int]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, ident, run, state in self._conn.execute(
                f"SELECT key, id, run, state FROM urls WHERE key IN ({marks})", chunk
            ):
                known[key] = (ident, run, state)
        return known

    async def leftovers(self, after: int, limit: int) -> list[PendingRow]:
        """Return up to ``limit`` rows earlier runs left pending that this run has not taken
        over from its input, with ids above ``after``."""
        rows: list[PendingRow] = await self._call(self._leftovers, after, limit)
        return rows

    def _leftovers(self, after: int, limit: int) -> list[PendingRow]:
        assert self._conn is not None
        return [
            PendingRow(*row)
            for row in self._conn.execute(
                "SELECT id, url, host, request, invalid, depth, found_on FROM urls "
                "WHERE id > ? AND id < ? AND state = 0 AND run != ? ORDER BY id LIMIT ?",
                (after, self.first_id, self.run, limit),
            )
        ]

    async def counts(self) -> tuple[int, int]:
        """Return (pending, done) frontier counts."""
        counts: tuple[int, int] = await self._call(self._counts)
        return counts

    def _counts(self) -> tuple[int, int]:
        assert self._conn is not None
        pending = self._conn.execute("SELECT count(*) FROM urls WHERE state = 0").fetchone()[0]
        done = self._conn.execute("SELECT count(*) FROM urls WHERE state = 1").fetchone()[0]
        return int(pending), int(done)

    # --- results ----------------------------------------------------------------------------

    async def complete(self, batch: Sequence[tuple[int, FetchResult]], *, body_as: str) -> None:
        """Write final records (and JSONL lines) and mark their URLs done, atomically."""
        await self._call(self._complete, batch, body_as)

    def _complete(self, batch: Sequence[tuple[int, FetchResult]], body_as: str) -> None:
        assert self._conn is not None
        jsonl = self._jsonl
        start = jsonl.tell() if jsonl is not None and self._resumable_jsonl else None
        try:
            if jsonl is not None:
                text = "".join(
                    json.dumps(r.to_dict(body_as=body_as), separators=(",", ":")) + "\n"
                    for _, r in batch
                )
                write_all(jsonl, text.encode())
            self._commit_batch(batch)
        except BaseException:
            if jsonl is not None and start is not None:  # whole committed lines only
                with contextlib.suppress(OSError):
                    jsonl.truncate(start)
                    jsonl.seek(start)
            raise

    def _commit_batch(self, batch: Sequence[tuple[int, FetchResult]]) -> None:
        assert self._conn is not None
        rows = [
            result_row(ident, r, self.run, store_body=self._jsonl is None) for ident, r in batch
        ]
        ids = [ident for ident, _ in batch]
        with self._conn:
            self._conn.execute("BEGIN")
            if self._jsonl is None:
                insert_rows(self._conn, "INSERT INTO results", RESULT_COLUMNS, rows)
            most = self._conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            for start in range(0, len(ids), most):  # one statement, not one a row
                chunk = ids[start : start + most]
                self._conn.execute(
                    f"UPDATE urls SET state = 1 WHERE id IN ({','.join('?' * len(chunk))})", chunk
                )
            if self._jsonl is not None and self._resumable_jsonl:
                self._set_meta("jsonl_length", str(self._jsonl.tell()))


def write_all(file: IO[bytes], data: bytes) -> None:
    """Write all of ``data`` (an unbuffered file may take part of it) and flush it."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:  # (a regular file raises instead: ENOSPC, EFBIG)
            raise OSError(errno.EIO, "the output took no bytes")
        view = view[written:]
    file.flush()


async def write_through(write: Coroutine[Any, Any, T]) -> T:
    """Await a store write to its end, even if the awaiting task is cancelled meanwhile.

    A writer swaps its batch out before writing it, so once a write has begun its records are
    nowhere else: cancelling it while it waits for the store's thread (the job's ticker is
    cancelled at the end of a run, Ctrl-C cancels everything) would drop them without a
    trace. The write runs as its own task; a cancellation is held until the write has
    ended, then raised. (Seen in a benchmark run: 67 of 20,000 records lost, exit code 0.)
    """
    task = asyncio.ensure_future(write)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():  # the write itself was cancelled (the loop is closing)
                raise
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()


def _is_locked(exc: BaseException) -> bool:
    """Return whether SQLite said another connection holds the database (SQLITE_BUSY)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.OperationalError) and (
        code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in str(exc)
    )


def _key(item: Request | InvalidLine) -> str:
    return item.key if isinstance(item, Request) else f"invalid:{item.text}"


def _frontier_row(key: str, item: Request | InvalidLine, run: int) -> tuple[Any, ...]:
    if isinstance(item, InvalidLine):
        return (key, item.text, "", None, item.reason, 0, None, run)
    return (key, item.url, item.host, item.to_json(), None, item.depth, item.found_on, run)


def result_row(ident: int, r: FetchResult, run: int, *, store_body: bool) -> tuple[Any, ...]:
    return (
        ident,
        r.url,
        r.final_url,
        r.status,
        int(r.ok),
        r.error_kind,
        r.error,
        r.attempts,
        r.elapsed_ms,
        r.fetched_at,
        r.bytes,
        r.content_type,
        headers_json(r.headers) if r.headers is not None else None,
        r.sha256,
        r.body if store_body else None,
        r.body_path,
        r.method,
        r.depth,
        r.found_on,
        run,
    )


def rows_of(path: str, table: str = "results") -> Iterable[dict[str, Any]]:
    """Yield the rows of a store's table as dicts (for export and tests)."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}: one of {', '.join(TABLES)}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY id"):
            yield dict(row)
    finally:
        conn.close()


# json.dumps builds an encoder at every call (2.5 µs for a response's eight headers); the
# same C encoder made once writes the same text in 1.4 µs.
_encode: Callable[[Any, int], Sequence[str]] | None = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, None, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, False
    )
    if getattr(json.encoder, "c_make_encoder", None) is not None
    else None
)


def headers_json(headers: Any) -> str:
    """Return a headers mapping as ``json.dumps(dict(headers))`` writes it."""
    if _encode is None or type(headers) is not dict:
        return json.dumps(dict(headers))
    return "".join(_encode(headers, 0))


_CHUNKS = (256, 32, 4, 1)  # rows a statement: few distinct statements, few steps a batch
_shapes: dict[tuple[str, str, tuple[bool, ...], int], str] = {}


def insert_rows(
    conn: sqlite3.Connection, head: str, columns: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT ``rows``, many to a statement, with their None values written as NULL in the SQL.

    Two costs of ``executemany`` that a batch of records pays per row:

    - Python's sqlite3 binds a None by trying to adapt it, which raises and formats an
      AttributeError inside (about 0.3 µs a None), and a record has several (no error, no
      body). The rows of a batch share a few patterns of None: one statement per pattern,
      with NULL where the pattern has None, binds only the values.
    - Each row's step releases the GIL and takes it back: with the event loop's thread
      waiting for it, two to four futex calls a row (measured: 8.5 a URL). A statement of
      many rows (``VALUES (...), (...)``) is one step.
    """
    groups: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
    is_not, compress = operator.is_not, itertools.compress
    nones = (None,) * (columns.count(",") + 1)  # one a column: map() stops at the shorter
    for row in rows:
        keep = tuple(map(is_not, row, nones))
        values = tuple(compress(row, keep))
        group = groups.get(keep)
        if group is None:
            groups[keep] = [values]
        else:
            group.append(values)
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    for keep, values_list in groups.items():
        most = max(1, limit // len(keep))
        start = 0
        for size in _CHUNKS:
            size = min(size, most)
            while len(values_list) - start >= size:
                chunk = values_list[start : start + size]
                start += size
                conn.execute(_statement(head, columns, keep, size), [*itertools.chain(*chunk)])


def _statement(head: str, columns: str, keep: tuple[bool, ...], rows: int) -> str:
    sql = _shapes.get((head, columns, keep, rows))
    if sql is None:
        one = "(" + ",".join("?" if k else "NULL" for k in keep) + ")"
        sql = _shapes[(head, columns, keep, rows)] = (
            f"{head} ({columns}) VALUES {','.join([one] * rows)}"
        )
    return sql
