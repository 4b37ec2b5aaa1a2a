"""The frontier protocol: what a job needs from where its URLs live.

A frontier holds one job's URLs, each once (by its key), and their records. A URL row is
*pending* (waiting), *leased* (handed to a run that fetches it) or *done* (its record is
committed). A run opens the frontier, adds URLs, takes rows to fetch, commits what became of
them, and finishes. ``SQLiteFrontier`` (``_sqlite.py``) is the first implementation; a second
backend implements ``Frontier`` and passes ``tests/http/test_frontier_contract.py``.

A frontier serves one kind of job, fixed when the store is made (``StoreError`` for the
other kind): a *fetch* takes its rows from ``add`` (the input, in its order) and
``leftovers``; a *crawl* adds ``LinkRow``s and takes rows with ``claim``, host by host.

Ids are the frontier's: every row has a positive integer id, unique in the store and kept
across runs; a record is committed under its row's id, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from corral.http.engine._request import InvalidLine, Request
from corral.http.engine._result import FetchResult
from corral.http.store._runs import EarlierRun


@dataclass(frozen=True, slots=True)
class Added:
    """What one ingested batch did to the frontier."""

    new: int
    duplicates: int  # already in this run
    earlier_done: int  # recorded by an earlier run: not fetched again
    earlier_pending: int  # left unfinished by an earlier run: will be fetched
    refreshed: int = 0  # recorded by an earlier run, fetched again (--refresh)


@dataclass(frozen=True, slots=True)
class PendingRow:
    """A frontier row to fetch (as ``claim`` and ``leftovers`` hand it out)."""

    id: int
    url: str
    host: str
    request: str | None  # the request's JSON (method, headers, ...) when not a plain GET
    invalid: str | None  # why the input line is not a URL (the row is then recorded so)
    depth: int
    found_on: str | None
    etag: str | None = None  # a refresh: the earlier record's validators
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class LinkRow:
    """A URL found on a page: where it goes, how deep, and whether it is followed."""

    key: str
    url: str
    host: str
    depth: int
    found_on: str | None
    skip: str | None  # None: follow; else the reason it is skipped (out_of_scope, ...)
    ident: int | None = None  # its id when given elsewhere (a crawl over Redis); None: new


class Done(NamedTuple):
    """Everything one fetched row leaves in the frontier, committed together.

    (A named tuple, not a frozen dataclass: one is made per URL, in half the time.)
    """

    ident: int
    result: FetchResult
    links: Sequence[LinkRow] = ()
    items: Sequence[Mapping[str, Any]] = ()
    parked: tuple[str | None, bytes] | None = None  # (content type, body) to parse later


@dataclass(frozen=True, slots=True)
class Committed:
    """What a commit added to the frontier (for the claimer's counts and the summary)."""

    new_by_host: Mapping[str, int]  # new pending rows, by host
    skipped: Mapping[str, int]  # links recorded as skipped, by reason (not those known before)
    items: int
    changes: Mapping[str, int] = field(default_factory=dict)  # a refresh's, by change


class ParkedBody(NamedTuple):
    """A fetched body parked to be parsed later (``Done.parked``)."""

    id: int
    url: str
    depth: int
    content_type: str | None
    body: bytes


class Frontier(Protocol):
    """The operations a job needs from where its URLs live.

    Every operation is a coroutine; a fault of the storage raises ``StoreError`` (one line:
    what, where, what to do), and whatever was committed before it is kept. Operations of
    one run are awaited one at a time or concurrently; a backend serialises them itself.
    """

    name: str  # what messages call the store (a path, an address)
    run: int  # this run's id, once open: runs of a store are numbered upwards from 1
    earlier: EarlierRun | None  # once open: the run before, if it did not finish

    async def open(self, argv: Sequence[str], started_at: str) -> int:
        """Take the store for a new run, record the run, and reap dead runs' leases.

        Args:
            argv: the command line, recorded with the run.
            started_at: ISO 8601 UTC.

        Returns:
            How many leases of dead runs went back to pending (as ``reap``).

        Raises:
            StoreError: another run holds the store, it serves the other kind of job, it was
                made by a newer corral, or it cannot be used.
        """
        ...

    async def add(
        self, batch: Sequence[Request | InvalidLine]
    ) -> tuple[Added, list[tuple[int, Request | InvalidLine]]]:
        """Add a fetch's input lines, once per key, and hand back the ones to fetch now.

        A key new to the store gets a row (the first occurrence in ``batch`` wins). A key this
        run added before is a duplicate. A key an earlier run recorded is not fetched again
        (``earlier_done``); one an earlier run left unfinished is fetched now
        (``earlier_pending``). Either way the row becomes this run's: a later line with it is
        a duplicate, and ``leftovers`` no longer returns it.

        Returns:
            The counts, and the (id, line) pairs to fetch: every new key and every earlier
            pending one, in ``batch`` order. They are the caller's to fetch; nothing else
            hands them out in this run.
        """
        ...

    async def leftovers(self, after: int, limit: int) -> list[PendingRow]:
        """Return up to ``limit`` rows earlier runs left unfinished that this run has not
        taken over through ``add``, with ids above ``after``, by id (a fetch's resume).

        Paging with ``after`` set to the last id returned visits each such row once.
        """
        ...

    async def add_links(self, links: Sequence[LinkRow]) -> Committed:
        """Add a crawl's URLs (seeds, sitemap URLs, links of parsed parked pages), once each.

        A key the store has (from any run) is ignored. A new ``LinkRow`` with ``skip`` None is
        pending, claimable by its host; one with a reason is done at once, with a record
        ``error_kind=skip``, ``error="not fetched: ..."`` (credentials masked), no attempt.

        Returns:
            New pending rows by host, new skipped records by reason, ``items=0``.
        """
        ...

    async def claim(self, host: str, limit: int) -> list[PendingRow]:
        """Lease up to ``limit`` of ``host``'s pending rows to this run and return them:
        lowest depth first, then in the order they were added (breadth first).

        A leased row is not claimed again, by this run or any other, until it is committed,
        skipped (``skip_rest``), or its lease is reaped. Fairness across hosts is the
        caller's: it claims host by host (round-robin), and hosts do not share a limit.
        """
        ...

    async def renew(self, ids: Sequence[int]) -> None:
        """Extend this run's leases of rows ``ids`` (still in flight) by the lease time.

        SQLite: nothing to do. A run holds the store (an OS lock) for its whole life, so no
        other run can claim or reap while it lives, and its leases last as long as it does.
        """
        ...

    async def reap(self) -> int:
        """Return expired leases to pending, and say how many.

        A lease expires when the run holding it is dead (or, in a backend shared by live
        runs, when it was not renewed in time). A lease of this run that it renews never
        expires. SQLite: at ``open`` every lease is a dead run's (this run holds the store),
        so ``open`` reaps them all; later this run's leases are the only ones, and ``reap``
        returns 0.
        """
        ...

    async def commit(self, done: Sequence[Done]) -> Committed:
        """Commit fetched rows, all or none: for each, its record, its row done (lease
        ended), the links found on it (as ``add_links``), its items and its parked body.

        Where records go (the store's table or a JSON lines output) and whether bodies are
        kept is how the frontier was made, not a per-call choice. A row is committed once:
        after the commit it is neither claimed nor a leftover in any later run.

        Returns:
            What the links added (as ``add_links``) and how many items were stored.
        """
        ...

    async def unpark(self, limit: int) -> list[ParkedBody]:
        """Return up to ``limit`` parked bodies, oldest first (they stay until ``unparked``)."""
        ...

    async def unparked(self, ids: Sequence[int], links: Sequence[LinkRow]) -> Committed:
        """Drop the parked bodies ``ids`` and add the links found in them, all or none."""
        ...

    async def pending_by_host(self) -> Mapping[str, int]:
        """Return how many pending (not leased) rows each host has; hosts with none absent."""
        ...

    async def earlier_records(self) -> tuple[int, int]:
        """Return how many records earlier runs committed, and how many of those are rows
        fetched (the rest, skipped links and robots decisions, made no attempt)."""
        ...

    async def skip_rest(self, reason: str) -> int:
        """Record every pending row, and every row this run leased and did not commit, as
        done, not fetched, for ``reason`` (``max_pages``); return how many."""
        ...

    async def finish(self, status: str, finished_at: str, summary: Mapping[str, Any]) -> None:
        """Record how the run ended (``finished``, ``interrupted``, ``failed``...) with its
        summary, and let go of the store. The store is closed even when this raises."""
        ...


def link_row(request: Request, skip: str | None) -> LinkRow:
    """Return the frontier row for a request (followed, or skipped for ``skip``)."""
    return LinkRow(request.key, request.url, request.host, request.depth, request.found_on, skip)
