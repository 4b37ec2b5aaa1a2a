"""The crawl's frontier operations on a SQLite store: claims, links, leases, skips, parking.

Rows of ``urls`` move pending -> leased -> done (``_schema``). A claim leases a host's next
rows (breadth first: lowest depth, then discovery order) to the run. One run uses a store at
a time (it holds the store's lock, ``_lock``), so at the start every lease is a dead run's:
all are pending again. That is what lets a crawl killed with ``kill -9`` go on at once when
restarted, whatever became of the killed process (a zombie's process id still answers).

Each function runs in the store's thread, inside the caller's transaction where it says so.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

from corral.http.engine._result import FetchResult
from corral.http.store._frontier import Committed, Done, LinkRow, ParkedBody, PendingRow
from corral.http.store._refresh import DUE, VALIDATORS, Bounds
from corral.http.store._rows import result_row
from corral.http.store._schema import (
    CRAWL_INDEXES,
    DONE,
    LEASED,
    PENDING,
    PENDING_COLUMNS,
    RESULT_COLUMNS,
)
from corral.http.web._traps import DEFAULT_MAX_DEPTH, repeated_segment
from corral.http.web._urls import mask_credentials

_MARKS = ",".join("?" * (RESULT_COLUMNS.count(",") + 1))


def reap(conn: sqlite3.Connection) -> int:
    """Make the crawl's indexes, then return every lease to pending; give their count.

    Called as a run opens the store: every lease is then an earlier run's, and dead.
    """
    conn.executescript(CRAWL_INDEXES)
    with conn:
        conn.execute("BEGIN")
        cursor = conn.execute(
            f"UPDATE urls SET state = {PENDING}, lease_run = NULL WHERE state = {LEASED}"
        )
    return int(cursor.rowcount)


def claim(
    conn: sqlite3.Connection, run: int, host: str, limit: int, *, refresh: bool = False
) -> list[PendingRow]:
    """Lease up to ``limit`` pending rows of ``host`` (lowest depth first) to ``run``; in a
    refresh, with the validators of their earlier records."""
    if refresh:
        columns = ", ".join(f"u.{name}" for name in PENDING_COLUMNS.split(", "))
        query = (
            f"SELECT {columns}, {VALIDATORS} FROM urls u LEFT JOIN results r ON r.id = u.id "
            f"WHERE u.host = ? AND u.state = {PENDING} ORDER BY u.depth, u.id LIMIT ?"
        )
    else:
        query = (
            f"SELECT {PENDING_COLUMNS} FROM urls "
            f"WHERE host = ? AND state = {PENDING} ORDER BY depth, id LIMIT ?"
        )
    rows = [PendingRow(*row) for row in conn.execute(query, (host, limit))]
    with conn:
        conn.execute("BEGIN")
        conn.executemany(
            f"UPDATE urls SET state = {LEASED}, lease_run = ? WHERE id = ?",
            [(run, row.id) for row in rows],
        )
    return rows


def requeue(conn: sqlite3.Connection, due: Bounds, *, mark: bool = True) -> int:
    """Make the rows whose records are due again (``--refresh``) pending; give their count;
    ``mark``: a later run resuming this one labels what changed (not ``--retry-failed``).

    Every recorded page of the crawl is fetched again, so a page that answers 304 (and is
    not parsed) loses nothing: the pages it links to are in the frontier already and come
    again on their own (elastic/crawler#221 dropped such a page's subtree).
    """
    with conn:
        conn.execute("BEGIN")
        cursor = conn.execute(
            f"UPDATE urls SET state = {PENDING}, lease_run = NULL WHERE state = {DONE} "
            f"AND id IN (SELECT r.id FROM results r WHERE {DUE})",
            due.params(),
        )
        if cursor.rowcount:  # a later run that resumes this one compares its commits too
            verb = "REPLACE" if mark else "IGNORE"  # ('1': and labels them)
            conn.execute(
                f"INSERT OR {verb} INTO meta (name, value) VALUES ('requeued', ?)",
                ("1" if mark else "0",),
            )
    return int(cursor.rowcount)


class Budget(NamedTuple):
    """How far a crawl goes: ``max_pages`` fetched in all its runs (None: no bound), links
    at most ``max_depth`` from a seed (None: no bound), and whether the ``repeated_segment``
    rule holds (``traps``). Each may change from run to run (``revive``)."""

    max_pages: int | None
    max_depth: int | None = None
    traps: bool = True


def revive(conn: sqlite3.Connection, run: int, budget: Budget) -> tuple[int, Counter[str]]:
    """Make the rows earlier runs recorded as not fetched for ``max_pages``, ``max_depth``
    or ``repeated_segment`` pending again when ``budget`` lets them be fetched, then record
    the pending rows it stops (``prune``). Give the count of revived rows pending (those of
    an earlier run that revived them too), and ``prune``'s counts. The revived rows' records
    stay until a fetch replaces them (moved to ``history``), or a run that does not reach
    them keeps them (``skip_rest``)."""
    kinds = [f"(error_kind = 'max_depth' AND {_within(budget, 'r.')})"]
    fetched = conn.execute("SELECT count(*) FROM results WHERE attempts > 0").fetchone()[0]
    if budget.max_pages is None or int(fetched) < budget.max_pages:
        kinds.append("error_kind = 'max_pages'")
    if not budget.traps:
        kinds.append("error_kind = 'repeated_segment'")
    revivable = f"SELECT r.id FROM results r WHERE r.attempts = 0 AND ({' OR '.join(kinds)})"
    with conn:
        conn.execute("BEGIN")
        conn.execute(
            f"UPDATE urls SET state = {PENDING}, lease_run = NULL "
            f"WHERE state = {DONE} AND id IN ({revivable})"
        )
    pruned = prune(conn, run, budget)
    skipped = (
        "SELECT id FROM results WHERE attempts = 0 "
        "AND error_kind IN ('max_pages', 'max_depth', 'repeated_segment')"
    )
    (pending,) = conn.execute(
        f"SELECT count(*) FROM urls WHERE state = {PENDING} AND id IN ({skipped})"
    ).fetchone()
    return int(pending), pruned


def _within(budget: Budget, prefix: str = "") -> str:
    """Return the SQL condition on a row's ``depth`` that ``budget``'s depth bound keeps."""
    return "1" if budget.max_depth is None else f"{prefix}depth <= {int(budget.max_depth)}"


def prune(conn: sqlite3.Connection, run: int, budget: Budget) -> Counter[str]:
    """Record the rows left pending (by an interrupted run) that ``budget``'s depth bound or
    trap guards now stop, as a crawl with them from the start would have, with this run's
    ``max_depth`` or ``repeated_segment`` records; give their counts by reason. A row with
    a page fetched (queued again by ``--refresh``) is left to be fetched.

    Only when an earlier run had a looser bound (``meta`` keeps the loosest): otherwise
    every row fits, and the repeated-segment check of every pending URL is spared."""
    deeper, unguarded = _looser_before(conn, budget)
    rules = []
    if deeper:
        rules.append(("max_depth", f"NOT ({_within(budget)})"))
    if unguarded:
        conn.create_function("repeated_segment", 1, repeated_segment, deterministic=True)
        rules.append(("repeated_segment", "depth > 0 AND repeated_segment(url)"))
    if not rules:
        return Counter()
    conn.create_function("mask_credentials", 1, mask_credentials, deterministic=True)
    fetched = "SELECT 1 FROM results r WHERE r.id = urls.id AND r.attempts > 0"
    # each rule read once over the pending rows (a repeated-segment check is a Python call)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS pruned (id INTEGER PRIMARY KEY, reason TEXT)")
    with conn:
        conn.execute("BEGIN")
        conn.execute("DELETE FROM temp.pruned")
        for reason, rule in rules:
            conn.execute(
                "INSERT OR IGNORE INTO temp.pruned (id, reason) SELECT id, ? FROM urls "
                f"WHERE state = {PENDING} AND {rule} AND NOT EXISTS ({fetched})",
                (reason,),
            )
        ids = "SELECT id FROM temp.pruned"
        conn.execute(f"DELETE FROM results WHERE id IN ({ids})")
        conn.execute(
            f"INSERT INTO results ({RESULT_COLUMNS}) "
            "SELECT u.id, mask_credentials(u.url), NULL, NULL, 0, p.reason, "
            "'not fetched: ' || replace(p.reason, '_', ' '), 0, 0, '', 0, NULL, NULL, NULL, "
            "NULL, NULL, 'GET', u.depth, u.found_on, ?, NULL, NULL, NULL, NULL "
            "FROM temp.pruned p JOIN urls u ON u.id = p.id",
            (run,),
        )
        conn.execute(f"UPDATE urls SET state = {DONE}, lease_run = NULL WHERE id IN ({ids})")
        counts = Counter(
            dict(conn.execute("SELECT reason, count(*) FROM temp.pruned GROUP BY reason"))
        )
        conn.execute("DELETE FROM temp.pruned")
    return counts


def _looser_before(conn: sqlite3.Connection, budget: Budget) -> tuple[bool, bool]:
    """Return whether an earlier run of the crawl went deeper than ``budget`` lets, and
    whether one had no trap guards while ``budget`` has them; record the loosest bounds so
    far, this run's included (the rows pending, or skipped for ``max_pages``, fit them)."""
    row = conn.execute("SELECT value FROM meta WHERE name = 'loosest_bounds'").fetchone()
    depth, traps = json.loads(row[0]) if row is not None else _identity_bounds(conn, budget)
    bound = budget.max_depth
    deeper = bound is not None and (depth is None or depth > bound)
    unguarded = budget.traps and not traps
    depth = None if depth is None or bound is None else max(depth, bound)
    traps = traps and budget.traps
    conn.execute(
        "INSERT OR REPLACE INTO meta (name, value) VALUES ('loosest_bounds', ?)",
        (json.dumps([depth, traps]),),
    )
    return deeper, unguarded


def _identity_bounds(conn: sqlite3.Connection, budget: Budget) -> tuple[int | None, bool]:
    """Return the depth bound and trap guards of a store's runs from before the loosest
    were kept: its crawl's identity had them (``crawler/_sameness``), so every run had the
    same; a new store (nothing pending) takes this run's."""
    row = conn.execute("SELECT value FROM meta WHERE name = 'job_identity'").fetchone()
    job = json.loads(row[0]) if row is not None else {}
    if "--max-depth" not in job:
        return budget.max_depth, budget.traps
    traps = not job.get("--no-trap-guards", False)
    depth = job["--max-depth"]
    return (DEFAULT_MAX_DEPTH if depth is None and traps else depth), traps  # (depth_bound)


def requeued(conn: sqlite3.Connection, *, clear: bool = False) -> bool:
    """Return whether rows a refresh queued again may be left (a refresh run was cut short);
    ``clear``: none are (the crawl finished)."""
    if clear:
        conn.execute("DELETE FROM meta WHERE name = 'requeued'")
        return False
    return conn.execute("SELECT 1 FROM meta WHERE name = 'requeued'").fetchone() is not None


def labelled(conn: sqlite3.Connection) -> bool:
    """Return whether the rows queued again left are a refresh's (not ``--retry-failed``'s):
    their records say what changed."""
    row = conn.execute("SELECT value FROM meta WHERE name = 'requeued'").fetchone()
    return row is not None and row[0] == "1"


def found(conn: sqlite3.Connection, run: int, done: Sequence[Done]) -> Committed:
    """Store the items, parked bodies and links of committed rows (in the caller's
    transaction)."""
    items = [
        (d.ident, d.result.url, json.dumps(item, default=str), run)
        for d in done
        for item in d.items
    ]
    if items:
        conn.executemany("INSERT INTO items (url_id, url, data, run) VALUES (?, ?, ?, ?)", items)
    parked = [
        (d.ident, d.result.final_url or d.result.url, d.result.depth, *d.parked)
        for d in done
        if d.parked is not None
    ]
    if parked:
        conn.executemany(
            "INSERT INTO parked (id, url, depth, content_type, body) VALUES (?, ?, ?, ?, ?)",
            parked,
        )
    links = [link for d in done for link in d.links]
    committed = add_links(conn, run, links) if links else Committed({}, {}, 0)
    return Committed(committed.new_by_host, committed.skipped, len(items))


def add_links(conn: sqlite3.Connection, run: int, links: Sequence[LinkRow]) -> Committed:
    """Insert links once each (in the caller's transaction); skipped ones get their record."""
    new: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for link in links:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO urls (id, key, url, host, depth, found_on, state, run) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                link.ident,
                link.key,
                link.url,
                link.host,
                link.depth,
                link.found_on,
                PENDING if link.skip is None else DONE,
                run,
            ),
        )
        if not cursor.rowcount:
            continue
        if link.skip is None:
            new[link.host] += 1
            continue
        skipped[link.skip] += 1
        conn.execute(
            f"INSERT INTO results ({RESULT_COLUMNS}) VALUES ({_MARKS})",
            result_row(int(cursor.lastrowid or 0), _skip_record(link), run, store_body=False),
        )
    return Committed(new, skipped, 0)


def _skip_record(link: LinkRow) -> FetchResult:
    assert link.skip is not None
    return FetchResult(
        url=mask_credentials(link.url),
        error_kind=link.skip,
        error=f"not fetched: {link.skip.replace('_', ' ')}",
        depth=link.depth,
        found_on=link.found_on,
        fetched_at="",
    )


def unpark(conn: sqlite3.Connection, limit: int) -> list[ParkedBody]:
    """Return up to ``limit`` parked bodies, oldest first."""
    return [
        ParkedBody(*row)
        for row in conn.execute(
            "SELECT id, url, depth, content_type, body FROM parked ORDER BY id LIMIT ?", (limit,)
        )
    ]


def unparked(
    conn: sqlite3.Connection, run: int, ids: Sequence[int], links: Sequence[LinkRow]
) -> Committed:
    """Drop parsed parked bodies and add the links found in them, in one transaction."""
    with conn:
        conn.execute("BEGIN")
        conn.executemany("DELETE FROM parked WHERE id = ?", [(i,) for i in ids])
        return add_links(conn, run, links)


def pending_by_host(conn: sqlite3.Connection) -> Counter[str]:
    """Return how many pending rows each host has."""
    rows = conn.execute(f"SELECT host, count(*) FROM urls WHERE state = {PENDING} GROUP BY host")
    return Counter(dict(rows))


def earlier_records(conn: sqlite3.Connection) -> tuple[int, int]:
    """Return how many records the store holds, and how many of them are pages fetched
    (read as the run opens: all are earlier runs')."""
    records, fetched = conn.execute(
        "SELECT count(*), coalesce(sum(attempts > 0), 0) FROM results"
    ).fetchone()
    return int(records), int(fetched)


def skip_rest(conn: sqlite3.Connection, run: int, reason: str) -> int:
    """Record every URL still pending (or leased by ``run``) as skipped for ``reason``."""
    # the frontier keeps a URL's password; its record shows user:***@
    conn.create_function("mask_credentials", 1, mask_credentials, deterministic=True)
    rest = f"state = {PENDING} OR (state = {LEASED} AND lease_run = ?)"
    with conn:
        conn.execute("BEGIN")
        # (OR IGNORE: a page a refresh queued again and did not reach keeps its record)
        cursor = conn.execute(
            f"INSERT OR IGNORE INTO results ({RESULT_COLUMNS}) "
            "SELECT id, mask_credentials(url), NULL, NULL, 0, ?, ?, 0, 0, '', 0, NULL, NULL, "
            f"NULL, NULL, NULL, 'GET', depth, found_on, ?, NULL, NULL, NULL, NULL FROM urls "
            f"WHERE {rest}",
            (reason, f"not fetched: {reason.replace('_', ' ')}", run, run),
        )
        conn.execute(f"UPDATE urls SET state = {DONE}, lease_run = NULL WHERE {rest}", (run,))
    return int(cursor.rowcount)


def undone(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, str]:
    """Return which of ``ids`` have a row whose record is not committed yet, with its key."""
    found: dict[int, str] = {}
    most = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    for start in range(0, len(ids), most):
        chunk = ids[start : start + most]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT id, key FROM urls WHERE id IN ({marks}) AND state != {DONE}"
        found.update(conn.execute(query, chunk))
    return found


def not_done(
    conn: sqlite3.Connection, after: int, limit: int, *, done: bool = False
) -> list[PendingRow]:
    """Return up to ``limit`` rows not recorded yet (``done``: recorded) with ids above
    ``after``, by id, with the validators of their earlier records (a refresh's)."""
    columns = ", ".join(f"u.{name}" for name in PENDING_COLUMNS.split(", "))
    query = (
        f"SELECT {columns}, {VALIDATORS} FROM urls u LEFT JOIN results r ON r.id = u.id "
        f"WHERE u.state {'=' if done else '!='} {DONE} AND u.id > ? ORDER BY u.id LIMIT ?"
    )
    return [PendingRow(*row) for row in conn.execute(query, (after, limit))]
