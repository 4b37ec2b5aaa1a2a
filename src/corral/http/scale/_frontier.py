"""``RedisFrontier``: a job's frontier, seen set, leases and records in Redis (issue 15).

The ``Frontier`` protocol (``store/_frontier.py``) on Redis >= 7.0, core commands and Lua
only: every step is one script (``_frontier_lua``), atomic, and a batch is validated whole
before anything is written, so a refused commit keeps nothing of it. Several runs may share
one frontier at once (a crawl's coordinator and its workers, each opening it as a run): a
run lives while it calls within the lease time, its leases are renewed by ``renew`` and
reaped, on Redis's clock, when they run out or their run is gone (finished, interrupted, or
silent for the lease time: taken for dead, its later calls refused).

Keys, beside a ``JobQueue``'s under the same job (``corral:{JOB}:``, one hash tag) but all
under ``f:``, so neither ever reads the other's keys and a future script may touch both in
one slot::

    f:meta      HASH   kind (fetch | crawl), version
    f:runs      STRING the run counter;  f:run:<n> HASH status, lease_ms (its own), argv,
                       started, ended, summary
    f:live      ZSET   run -> ms its life ends unless it calls again
    f:id        STRING the row id counter (ids are integers, unique, kept across runs)
    f:s:<xxxx>  HASH   the seen set: 2**16 buckets by the key's fingerprint's first 2 bytes,
                       field its other 6 bytes, value the row id while pending, -run once
                       done (the run that recorded it or, a fetch, last took it over); a done
                       URL costs its entry only (about 12 bytes in a bucket), never its URL
    f:q:<host>:<depth>  LIST  a crawl's pending elements, in id order (reaped ones go back
                       in their place);  f:d:<host> ZSET its depths with rows;  f:hosts ZSET
                       host -> pending rows
    f:pend      ZSET   a fetch's pending elements by id;  f:took:<run> SET ids of earlier
                       runs' rows that run took over through ``add``
    f:lease     ZSET   row id -> lease deadline ms;  f:ld HASH id -> run, host, depth, element
    f:rec       STREAM one entry per record (fetched: its JSON and body; skipped: the row) for
                       a coordinator to drain;  f:stats HASH records, fetched
    f:pq        ZSET   parked body ids;  f:pk:<id> HASH url, depth, type, body

A crawl's coordinator would drain ``f:rec`` into its SQLite store (``records``, then
``forget`` once stored), as it drains a ``JobQueue``'s results today; docs/scale.md ("A
crawl's frontier in Redis") says how ``crawl --redis`` would use it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from corral.http._errors import ScaleError
from corral.http._faults import StoreError
from corral.http.engine._request import InvalidLine, Request
from corral.http.scale._frontier_commit_lua import COMMIT_SCRIPTS, DONE_FIELDS
from corral.http.scale._frontier_lua import SCRIPTS
from corral.http.scale._frontier_rows import (
    Record,
    counts,
    input_fields,
    input_key,
    iso,
    link_args,
    pack,
    read_record,
    row,
)
from corral.http.scale._queue import fingerprint
from corral.http.scale._redis import check_job, masked, open_client, outage_errors
from corral.http.scale._wire import encode_result
from corral.http.store._frontier import (
    Added,
    Committed,
    Done,
    Frontier,
    LinkRow,
    ParkedBody,
    PendingRow,
)
from corral.http.store._runs import EarlierRun
from corral.http.web._urls import mask_credentials, public_argv

if TYPE_CHECKING:
    import redis.asyncio

VERSION = 1
LEASE = 30.0  # seconds a lease (and a run's life) lasts unless renewed
SKIP_CHUNK = 1000  # rows ``skip_rest`` records per script (each chunk atomic)
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class RedisFrontier:
    """A job's frontier in Redis: ``RedisFrontier(url, job, kind=...)``, then ``open``.

    Args:
        url: the Redis URL (``redis://``, ``rediss://``, ``unix://``).
        job: the job's name (its keys' hash tag).
        kind: the job the frontier serves: one made by a crawl refuses a fetch.
        lease: seconds a lease, and a run's life, last without a renewal.
    """

    def __init__(
        self, url: str, job: str, *, kind: Literal["fetch", "crawl"] = "crawl", lease: float = LEASE
    ) -> None:
        self.url, self.job, self.kind = url, job, kind
        self.name = f"job {job} on {masked(url)}"
        self.prefix = f"corral:{{{job}}}:f:"
        self.run = 0
        self.earlier: EarlierRun | None = None
        self._lease_ms = max(1, round(lease * 1000))
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._first_id = 1
        self._earlier_records = (0, 0)

    # --- calling Redis ---------------------------------------------------------------------

    async def _run(self, name: str, args: Sequence[Any]) -> Any:
        """Run one script (see ``_guarded``)."""
        assert self._client is not None, "the frontier is not open"
        return await self._guarded(
            self._scripts[name](keys=[self.prefix + "meta"], args=list(args))
        )

    async def _guarded(self, call: Awaitable[Any]) -> Any:
        """Await one call to Redis; a refusal or Redis away becomes a one-line
        ``StoreError`` (what, where, what to do)."""
        from redis.exceptions import RedisError, ResponseError

        try:
            return await call
        except ResponseError as exc:
            text = str(exc).split(" script: ", 1)[0]
            if "maxmemory" in text:  # (OOM: a script refused whole, nothing of it written)
                text = (
                    "Redis is out of memory (maxmemory); what was committed before is kept: "
                    "give it more memory, then run the same command again to resume"
                )
            raise StoreError(f"{self.name}: {text.removeprefix('CORRAL ')}") from None
        except outage_errors() as exc:
            why = mask_credentials(str(exc).strip().rstrip(".")) or type(exc).__name__
            raise StoreError(
                f"{self.name}: Redis unreachable ({why}); what was committed before is "
                "kept: start Redis, then run the same command again to resume"
            ) from None
        except RedisError as exc:
            raise StoreError(f"{self.name}: Redis refused a step ({exc})") from None

    # --- opening and finishing -------------------------------------------------------------

    async def open(self, argv: Sequence[str], started_at: str) -> int:
        """Connect, start a run, mark runs gone silent as killed, and reap every lease whose
        run is gone or whose time ran out (``Frontier.open``).

        Raises:
            StoreError: Redis unreachable or older than 7.0, a bad job name, a frontier of
                the other kind of job or made by a newer corral.
        """
        try:
            check_job(self.job)
            client: redis.asyncio.Redis = await open_client(self.url)
        except ScaleError as exc:
            raise StoreError(str(exc)) from None
        self._client = client
        self._scripts = {
            name: client.register_script(text) for name, text in (SCRIPTS | COMMIT_SCRIPTS).items()
        }
        argv_json = json.dumps(public_argv(list(argv)))
        try:
            answer = await self._run(
                "OPEN", [self.kind, self._lease_ms, argv_json, started_at, VERSION]
            )
        except BaseException:
            await self._close()
            raise
        if answer[0] == b"kind":
            await self._close()
            known = answer[1].decode()
            raise StoreError(
                f"{self.name} holds a {known} job's frontier, not a {self.kind}'s; "
                "give this run another --job name"
            )
        run, status, ended, last_ms, reaped, records, fetched, first = answer
        self.run, self._first_id = int(run), int(first)
        self._earlier_records = (int(records), int(fetched))
        if status:
            end = ended.decode() if ended else iso(int(last_ms)) if last_ms else None
            self.earlier = EarlierRun(status.decode(), end)
        return int(reaped)

    async def finish(self, status: str, finished_at: str, summary: Mapping[str, Any]) -> None:
        """Record how the run ended and disconnect (even when that fails); its leases left
        go back at the next ``open`` or ``reap``."""
        if self._client is None:
            return
        try:
            await self._run("FINISH", [self.run, status, finished_at, _dumps(dict(summary))])
        finally:
            await self._close()

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # --- a fetch's input -------------------------------------------------------------------

    async def add(
        self, batch: Sequence[Request | InvalidLine]
    ) -> tuple[Added, list[tuple[int, Request | InvalidLine]]]:
        """Add a fetch's input lines once per key (``Frontier.add``)."""
        rows: dict[str, Request | InvalidLine] = {}
        for item in batch:
            rows.setdefault(input_key(item), item)  # the first occurrence wins
        args: list[Any] = [self.run, self._first_id]
        for key, item in rows.items():
            args += (fingerprint(key), pack(input_fields(item)))
        flat = await self._run("ADD", args) if rows else []
        counts: Counter[int] = Counter()
        handed: list[tuple[int, Request | InvalidLine]] = []
        for item, code, ident in zip(rows.values(), flat[::2], flat[1::2], strict=True):
            counts[code] += 1
            if code in (1, 4):
                handed.append((int(ident), item))
        dups = counts[2] + len(batch) - len(rows)
        return Added(counts[1], dups, counts[3], counts[4]), handed

    async def leftovers(self, after: int, limit: int) -> list[PendingRow]:
        """Return earlier runs' pending rows this run did not take over, by id."""
        elements = await self._run("LEFTOVERS", [self.run, after, self._first_id, limit])
        return [row(element) for element in elements]

    # --- a crawl's rows --------------------------------------------------------------------

    async def add_links(self, links: Sequence[LinkRow]) -> Committed:
        """Add a crawl's URLs once each (``Frontier.add_links``)."""
        if not links:
            return Committed({}, {}, 0)
        new, skipped = await self._run("ADD_LINKS", [self.run, *link_args(links)])
        return Committed(counts(new), counts(skipped), 0)

    async def claim(self, host: str, limit: int) -> list[PendingRow]:
        """Lease up to ``limit`` of ``host``'s rows to this run, lowest depth first, then in
        the order they were added (``Frontier.claim``)."""
        if limit <= 0:
            return []
        flat = await self._run("CLAIM", [self.run, host, limit])
        return [row(el, host, int(depth)) for depth, el in zip(flat[::2], flat[1::2], strict=True)]

    async def renew(self, ids: Sequence[int]) -> None:
        """Extend this run's leases of ``ids`` by the lease time, and the run's life."""
        await self.renew_held(ids)

    async def renew_held(self, ids: Sequence[int]) -> list[int]:
        """Renew as ``renew``; return the ids this run no longer holds (reaped: another run
        may have them, and ``commit_held`` would drop them)."""
        lost = await self._run("RENEW", [self.run, *ids])
        return [int(ident) for ident in lost]

    async def reap(self) -> int:
        """Return expired leases, and leases of runs that are gone, to pending."""
        reaped: int = await self._run("REAP", [self.run])
        return reaped

    # --- committing ------------------------------------------------------------------------

    async def commit(self, done: Sequence[Done]) -> Committed:
        """Commit rows this run holds with their records, links, items and parked bodies,
        all or none (``Frontier.commit``).

        Raises:
            StoreError: a row of the batch is not this run's to commit (a crawl's row not
                leased to it, a fetch's row not pending): committed before, or reaped.
        """
        committed, _ = await self._commit(done, fenced=False)
        return committed

    async def commit_held(self, done: Sequence[Done]) -> tuple[Committed, list[int]]:
        """Commit the rows whose lease this run still holds, in one step, and drop the rest
        with their links (fenced: their leases were reaped, another run fetches them).

        Returns:
            What the committed rows added, and the ids dropped.
        """
        return await self._commit(done, fenced=True)

    async def _commit(self, done: Sequence[Done], *, fenced: bool) -> tuple[Committed, list[int]]:
        if not done:
            return Committed({}, {}, 0), []
        rows: list[Any] = []
        links: list[Any] = []
        for d in done:
            data, body = encode_result(d.result)
            items = _dumps(list(d.items)) if d.items else ""
            rows += (d.ident, int(d.result.attempts > 0), data, int(body is not None), body or b"")
            rows.append(items)
            if d.parked is None:
                rows += (0, "", b"", "", 0)
            else:
                url = d.result.final_url or d.result.url
                rows += (1, d.parked[0] or "", d.parked[1], url, d.result.depth)
            rows.append(len(d.links))
            links += link_args(d.links)
        assert len(rows) == DONE_FIELDS * len(done)
        new, skipped, stale = await self._run(
            "COMMIT", [self.run, int(fenced), len(done), *rows, *links]
        )
        dropped = {int(ident) for ident in stale}
        stored = sum(len(d.items) for d in done if d.ident not in dropped)
        return Committed(counts(new), counts(skipped), stored), sorted(dropped)

    async def unpark(self, limit: int) -> list[ParkedBody]:
        """Return up to ``limit`` parked bodies, oldest first (``Frontier.unpark``)."""
        flat = await self._run("UNPARK", [max(0, limit)]) if limit > 0 else []
        return [
            ParkedBody(int(i), url.decode(), int(depth), ctype.decode() or None, body)
            for i, url, depth, ctype, body in zip(*[iter(flat)] * 5, strict=True)
        ]

    async def unparked(self, ids: Sequence[int], links: Sequence[LinkRow]) -> Committed:
        """Drop parked bodies and add the links found in them, in one step."""
        new, skipped = await self._run("UNPARKED", [self.run, len(ids), *ids, *link_args(links)])
        return Committed(counts(new), counts(skipped), 0)

    async def skip_rest(self, reason: str) -> int:
        """Record this run's leased rows and every pending row as not fetched for
        ``reason``, ``SKIP_CHUNK`` rows a step; return how many."""
        total = 0
        while True:
            count = int(await self._run("SKIP", [self.run, reason, SKIP_CHUNK]))
            total += count
            if count < SKIP_CHUNK:
                return total

    # --- counts and records ----------------------------------------------------------------

    async def pending_by_host(self) -> Counter[str]:
        """Return how many pending (not leased) rows each host has (a crawl's)."""
        assert self._client is not None, "the frontier is not open"
        flat = await self._guarded(
            self._client.zrange(self.prefix + "hosts", 0, -1, withscores=True)
        )
        return Counter({host.decode(): int(count) for host, count in flat if count > 0})

    async def earlier_records(self) -> tuple[int, int]:
        """Return how many records earlier runs committed (as the run opened), and how
        many of them were fetched."""
        return self._earlier_records

    async def records(self, after: str = "-", count: int = 1000) -> list[Record]:
        """Return up to ``count`` records of the stream after entry ``after`` (exclusive;
        ``"-"``: from the first), oldest first."""
        start = after if after == "-" else f"({after}"
        entries = await self._guarded(
            self._client.xrange(self.prefix + "rec", start, "+", count=count)
        )
        return [read_record(entry, fields) for entry, fields in entries]

    async def forget(self, entries: Sequence[str]) -> None:
        """Delete records from the stream (once a coordinator has stored them)."""
        if entries:
            await self._guarded(self._client.xdel(self.prefix + "rec", *entries))


_: type[Frontier] = RedisFrontier  # mypy checks that it is a Frontier
