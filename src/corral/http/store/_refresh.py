"""``--refresh``: which recorded URLs are fetched again, with what validators, and what
became of them against their earlier record.

A URL is fetched again when its latest record made an attempt, is older than ``max_age``
(when given), and was written before this job began: a run that resumes a killed or
interrupted one does not fetch again what that one already refreshed. The request carries
the earlier record's ``ETag`` as ``If-None-Match`` and its ``Last-Modified`` as
``If-Modified-Since`` (only a record with a body has validators worth sending).

At commit, the new record is compared with the earlier one (``changes``): a 304 is
``not_modified`` and takes over the earlier body (its digest, its file, its stored bytes,
which stay where they are); a body with the earlier digest is ``unchanged`` whatever the server did
with the validators (many ignore them); another body is ``changed``; a URL with no earlier
body is ``new``. The earlier record moves to ``history`` (``_sqlite``).

``--retry-failed`` (``Refresh(failed_only=True)``) is a refresh restricted to the records
that failed (``FAILED``), with no validators (a failed record has none) and no ``change``
labels: the earlier record still moves to ``history``.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from corral.http.engine._proxies import REFUSED
from corral.http.engine._request import Request
from corral.http.store._frontier import Done
from corral.http.store._schema import RESULT_COLUMNS


@dataclass(frozen=True, slots=True, kw_only=True)
class Refresh:
    """Fetch again the URLs earlier runs recorded, with conditional requests.

    Attributes:
        max_age: seconds; only records older than this are fetched again (None: every
            record an earlier job wrote).
        failed_only: only records that failed (``--retry-failed``): an error, or a status
            that is not an answer (401, 403, 407, 408, 429, 5xx); a 4xx such as 404 or 410
            is the server's answer and stays. No validators are sent, no ``change`` set.
    """

    max_age: float | None = None
    failed_only: bool = False

    def __post_init__(self) -> None:
        if self.max_age is not None and not self.max_age > 0:
            raise ValueError("max_age must be positive")


# A record worth another try (``--retry-failed``): not ok, and not a 4xx answer. A 404 or
# 410 is the server's word on the URL; 401/403/407 (credentials, a proxy's), 408, 429, 5xx,
# a transport or proxy error, and too_large (--max-bytes may have been raised) may pass later.
FAILED = (
    "(NOT r.ok AND (r.status IS NULL OR r.status < 400 OR r.status >= 500 "
    "OR r.status IN (401, 403, 407, 408, 429)))"
)
# The columns of ``results r`` that say whether its URL is fetched again (``Bounds``'s
# four parameters), and the validators of a record that has a body.
_AGE = "r.run <= ? AND (? IS NULL OR r.fetched_at < ?)"
DUE = f"(r.attempts > 0 AND {_AGE} AND (? = 0 OR {FAILED}))"
VALIDATORS = (
    "CASE WHEN r.ok AND r.sha256 IS NOT NULL THEN r.etag END, "
    "CASE WHEN r.ok AND r.sha256 IS NOT NULL THEN r.last_modified END"
)


class Bounds(NamedTuple):
    """This run's refresh bounds: records of runs up to ``since``, fetched before ``cutoff``
    (only those that ``failed``, with ``--retry-failed``)."""

    since: int
    cutoff: str | None
    failed: bool = False

    def params(self) -> tuple[Any, ...]:
        return (self.since, self.cutoff, self.cutoff, int(self.failed))


def bounds(conn: sqlite3.Connection, run: int, refresh: Refresh) -> Bounds:
    """Return the bounds of ``run``: the last run before it that was not cut short (a run
    resuming killed or interrupted ones leaves their records alone), and the age cutoff."""
    (since,) = conn.execute(
        "SELECT coalesce(max(id), 0) FROM runs WHERE id < ? "
        "AND status NOT IN ('killed', 'interrupted', 'running')",
        (run,),
    ).fetchone()
    cutoff = None
    if refresh.max_age is not None:
        when = datetime.now(UTC) - timedelta(seconds=refresh.max_age)
        cutoff = when.isoformat(timespec="milliseconds")
    return Bounds(int(since), cutoff, refresh.failed_only)


def failed_count(conn: sqlite3.Connection, run: int, crawl: bool) -> tuple[int, int]:
    """Return how many records a later ``--retry-failed`` run fetches again (a fetch's of
    the URLs of ``run``, its input's; a crawl's of every page), and how many of them a
    proxy refused for its credentials (which must change first)."""
    where = "" if crawl else "AND r.id IN (SELECT id FROM urls WHERE run = ?)"
    failed, refused = conn.execute(
        "SELECT count(*), coalesce(sum(r.error_kind = 'proxy' AND instr(r.error, ?) > 0), 0) "
        f"FROM results r WHERE r.attempts > 0 AND {FAILED} {where}",
        (REFUSED,) if crawl else (REFUSED, run),
    ).fetchone()
    return int(failed), int(refused)


# A fetch's refresh under way, kept in ``meta`` until a run of the store finishes: a run
# resuming a killed or interrupted refresh, with or without ``--refresh``, fetches again
# what that one had not reached, with its bounds (a crawl keeps its refresh in the
# frontier's rows instead: ``_crawlrows.requeue``).
_UNDER_WAY = "refresh"


def remember(conn: sqlite3.Connection, due: Bounds | None) -> Bounds | None:
    """Record ``due`` as the store's refresh under way and return it; None: return the one
    an interrupted run left (None if none did)."""
    if due is not None:
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                (_UNDER_WAY, json.dumps(list(due))),
            )
        return due
    row = conn.execute("SELECT value FROM meta WHERE name = ?", (_UNDER_WAY,)).fetchone()
    if row is None:
        return None
    since, cutoff, *failed = json.loads(row[0])  # (failed: a --retry-failed run's)
    return Bounds(int(since), cutoff, bool(failed and failed[0]))


def forget(conn: sqlite3.Connection) -> None:
    """Drop the refresh under way: the run that finished went through the input (in the
    caller's transaction)."""
    conn.execute("DELETE FROM meta WHERE name = ?", (_UNDER_WAY,))


def conditional(request: Request, etag: str | None, last_modified: str | None) -> Request:
    """Return ``request`` with the validators of its earlier record (a caller's own
    conditional headers win)."""
    if etag is None and last_modified is None:
        return request
    headers = dict(request.headers)
    names = {name.lower() for name in headers}
    if etag is not None and "if-none-match" not in names:
        headers["If-None-Match"] = etag
    if last_modified is not None and "if-modified-since" not in names:
        headers["If-Modified-Since"] = last_modified
    return replace(request, headers=headers)


class Earlier(NamedTuple):
    """What commit needs of a URL's earlier record."""

    run: int
    sha256: str | None
    etag: str | None
    last_modified: str | None
    body_path: str | None
    content_type: str | None
    has_body: bool


class Moves(NamedTuple):
    """What a commit does with the earlier records of its rows (by row id)."""

    earlier: list[int]  # rows with an earlier record: it moves to history
    kept: set[int]  # not_modified with a stored body: updated in place, the body stays
    bodiless: set[int]  # unchanged with a stored body: history gets the earlier without it
    parsed: list[int]  # pages with new content: their earlier items are replaced


def earlier_records(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, Earlier]:
    """Return the current records of rows ``ids`` (before this commit replaces them)."""
    found: dict[int, Earlier] = {}
    most = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    for start in range(0, len(ids), most):
        chunk = ids[start : start + most]
        marks = ",".join("?" * len(chunk))
        for ident, run, sha256, etag, modified, path, kind, has_body in conn.execute(
            "SELECT id, run, sha256, etag, last_modified, body_path, content_type, "
            f"body IS NOT NULL FROM results WHERE id IN ({marks})",
            chunk,
        ):
            found[ident] = Earlier(run, sha256, etag, modified, path, kind, bool(has_body))
    return found


def changes(
    done: Sequence[Done], earlier: Mapping[int, Earlier], *, stores_bodies: bool, label: bool
) -> tuple[list[Done], Moves]:
    """Return the records with their ``change`` set (a 304 with the earlier body's digest,
    file and validators), and what the commit moves. Not ``label``: not a refresh (a crawl
    fetching what an earlier run's ``max_pages`` skipped): the earlier records move to
    history, and no record says what changed."""
    out: list[Done] = []
    moves = Moves([], set(), set(), [])
    for d in done:
        before = earlier.get(d.ident)
        record = d.result
        if before is not None:
            moves.earlier.append(d.ident)
        if not label:
            out.append(d)
            continue
        if record.status == 304 and before is not None and before.sha256 is not None:
            record = replace(
                record,
                change="not_modified",
                sha256=before.sha256,
                body_path=before.body_path,
                content_type=record.content_type or before.content_type,
                headers=_carried(record.headers, before),
            )
            if before.has_body and stores_bodies:
                moves.kept.add(d.ident)
        elif record.ok and record.sha256 is not None:
            old = before.sha256 if before is not None else None
            change = "new" if old is None else "unchanged" if old == record.sha256 else "changed"
            record = replace(record, change=change)
            if (
                change == "unchanged"
                and before is not None
                and before.has_body
                and (stores_bodies and record.body is not None)
            ):
                moves.bodiless.add(d.ident)
            if before is not None:
                moves.parsed.append(d.ident)
        out.append(d._replace(result=record) if record is not d.result else d)
    return out, moves


# ``tally``'s name for a record of a URL the store had no record of (a crawl's new page,
# a new line of a fetch's input): fetched, but not again, so not in the refresh's figure
NEW_URL = "new_url"


def tally(done: Sequence[Done], moves: Moves) -> Counter[str]:
    """Count a refresh's commit by ``change``: a URL fetched again whose record is no body
    (a 404, a timeout) as ``failed``, a URL new to the store as ``NEW_URL``."""
    again = set(moves.earlier)
    counts: Counter[str] = Counter()
    for d in done:
        counts[(d.result.change or "failed") if d.ident in again else NEW_URL] += 1
    return counts


def _carried(headers: Mapping[str, str] | None, before: Earlier) -> dict[str, str]:
    """Return a 304's headers with the earlier validators where it sent none (the record
    keeps them for the next refresh)."""
    carried = dict(headers or {})
    names = {name.lower() for name in carried}
    if before.etag is not None and "etag" not in names:
        carried["ETag"] = before.etag
    if before.last_modified is not None and "last-modified" not in names:
        carried["Last-Modified"] = before.last_modified
    return carried


def apply(conn: sqlite3.Connection, moves: Moves, *, history: bool) -> None:
    """Move the earlier records of a commit to ``history`` (unless the records live in a JSON
    lines output) and out of ``results``, before the new ones go in.

    A stored body is written once: a not-modified record is updated in place around it
    (``update_kept``), and history keeps a copy only of a body that changed. (Moving the
    bodies to history and back made a refresh of 10,000 stored 256 KB bodies twice as slow
    as the first run: ``docs/benchmarks.md``.)
    """
    if history:
        full = [i for i in moves.earlier if i not in moves.kept and i not in moves.bodiless]
        _each_chunk(conn, "INSERT INTO history SELECT * FROM results WHERE id IN ({})", full)
        light = [i for i in moves.earlier if i in moves.kept or i in moves.bodiless]
        _each_chunk(
            conn, f"INSERT INTO history SELECT {_NO_BODY} FROM results WHERE id IN ({{}})", light
        )
    gone = [i for i in moves.earlier if i not in moves.kept]
    _each_chunk(conn, "DELETE FROM results WHERE id IN ({})", gone)


def _each_chunk(conn: sqlite3.Connection, sql: str, ids: Sequence[int]) -> None:
    most = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    for start in range(0, len(ids), most):
        chunk = ids[start : start + most]
        conn.execute(sql.format(",".join("?" * len(chunk))), chunk)


_NO_BODY = RESULT_COLUMNS.replace(" body,", " NULL,")
_UPDATE = ", ".join(f"{name} = ?" for name in RESULT_COLUMNS.split(", ")[1:] if name != "body")


def update_kept(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Write not-modified records (``result_row`` tuples) over their earlier ones, leaving
    the stored body where it is."""
    body = RESULT_COLUMNS.split(", ").index("body")
    conn.executemany(
        f"UPDATE results SET {_UPDATE} WHERE id = ?",
        [(*row[1:body], *row[body + 1 :], row[0]) for row in rows],
    )


def after_insert(conn: sqlite3.Connection, run: int, moves: Moves) -> None:
    """Mark the earlier items of pages parsed anew as replaced (a crawl's store)."""
    conn.executemany(
        "UPDATE items SET replaced_in = ? WHERE url_id = ? AND run < ? AND replaced_in IS NULL",
        [(run, ident, run) for ident in moves.parsed],
    )
