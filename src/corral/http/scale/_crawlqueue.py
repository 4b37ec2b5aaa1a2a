"""A crawl's frontier and seen set on the job's queue in Redis (issue 15).

The job queue (``_queue``) stays the one claim, lease and politeness mechanism; a crawl adds
(``_crawlscripts``): a worker's commit that takes each page's links and queues the ones new
to the crawl, atomically with the page's record; the ``--max-pages`` budget; the counters
the coordinator raises as the job starts; the figures that say the crawl is over.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from corral.http.engine._result import FetchResult
from corral.http.scale import _crawlscripts
from corral.http.scale._claimed import Committed
from corral.http.scale._queue import REPLACED, JobQueue, Outcome, fingerprint
from corral.http.scale._wire import ProxyFigures, encode_result
from corral.http.store._frontier import LinkRow

_SCRIPTS = ("COMMIT", "TAKE", "AT_LEAST", "FIGURES", "SEE")


@dataclass(frozen=True, slots=True)
class PageLinks:
    """A page's links as a worker commits them: judged by the crawl's rules, not deduplicated."""

    depth: int  # theirs: the page's depth + 1
    found_on: str  # the page's URL
    links: Sequence[tuple[str, str, str | None]]  # (url, host, skip reason or None: follow)

    def request(self) -> str:
        """Return what their tasks keep beside URL and host (``_wire.task_request``)."""
        return json.dumps({"depth": self.depth, "found_on": self.found_on})


@dataclass(frozen=True, slots=True)
class Figures:
    """The crawl's state in Redis, read in one step."""

    hosts: int  # hosts with URLs queued
    leased: int  # URLs leased to workers
    records: int  # records not yet drained (or drained and not yet acknowledged)
    queued: int  # URLs queued


class CrawlQueue:
    """The crawl's steps on a job's queue (the same connection and keys)."""

    def __init__(self, queue: JobQueue) -> None:
        self.queue = queue
        client: Any = queue._client
        self._client = client
        self._keys = [queue.prefix + "meta"]
        self._scripts = {
            name: client.register_script(getattr(_crawlscripts, name)) for name in _SCRIPTS
        }

    async def _run(self, name: str, args: Sequence[Any] = ()) -> Any:
        return await self._scripts[name](keys=self._keys, args=list(args))

    async def commit(
        self,
        worker: str,
        done: Sequence[tuple[str, FetchResult, object, PageLinks | None]],
        proxies: ProxyFigures | None = None,
    ) -> tuple[int, int]:
        """Record ``(token, result, extra, links)`` as ``JobQueue.commit`` does, and queue
        each page's links new to the crawl, all in one step.

        Returns:
            (committed, stale).
        """
        committed = await self.commit_and_claim(worker, done, proxies)
        return committed.ok, committed.stale

    async def commit_and_claim(
        self,
        worker: str,
        done: Sequence[tuple[str, FetchResult, object, PageLinks | None]],
        proxies: ProxyFigures | None = None,
        *,
        fetched: Sequence[str] = (),
        claim: int = 0,
    ) -> Committed:
        """Commit as ``commit`` does, then free and claim as ``JobQueue.commit_and_claim``,
        in the same step."""
        args: list[Any] = [self.queue.fence, worker, claim, len(fetched), *fetched]
        for n, (token, result, extra, found) in enumerate(done, 1):
            data, body = encode_result(result, extra, proxies if n == len(done) else None)
            args += (token, data, b"0" if body is None else b"1", body or b"")
            links = found.links if found is not None else ()
            keys = [fingerprint(url) for url, _, _ in links]
            text = "\x1e".join(
                f"{link_id(key)}\x1f{host}\x1f{url}\x1f{skip or ''}"
                for key, (url, host, skip) in zip(keys, links, strict=True)
            )
            args += (found.request() if found is not None else "", b"".join(keys), text)
        self.queue._retried.difference_update(token for token, _, _, _ in done)
        ok, stale, _, claimed = await self._run("COMMIT", args)
        return Committed(int(ok), int(stale), self.queue._claimed(claimed))

    async def take(self, n: int) -> int:
        """Take up to ``n`` pages of the ``--max-pages`` budget; return how many were given
        (none to a worker of the job before it was started afresh)."""
        granted: int = await self._run("TAKE", [self.queue.fence, n])
        if granted == REPLACED:  # (fenced: the budget is the new job's)
            self.queue.on_replaced()
            return 0
        return granted

    async def at_least(self, name: str, n: int) -> None:
        """Raise the counter ``name`` ("pages") to ``n`` if it is lower."""
        await self._run("AT_LEAST", [name, n])

    async def see(self, urls: Sequence[str]) -> None:
        """Put ``urls`` in the seen set (recorded already: never queued by a commit)."""
        if urls:
            await self._run("SEE", [fingerprint(url) for url in urls])

    async def marked(self, done: bool = False) -> bool:
        """Return whether the store's recorded URLs are in the seen set; ``done``: they
        are now."""
        key = self.queue.prefix + "marked"
        if done:
            await self._client.set(key, "1")
        return bool(await self._client.exists(key))

    async def figures(self) -> Figures:
        """Return the crawl's state in Redis (one step)."""
        return Figures(*(int(x) for x in await self._run("FIGURES")))


def link_id(key: bytes) -> int:
    """Return the row id of a URL a worker found: its fingerprint's top 63 bits (the same
    URL, the same id, whatever Redis forgot; two URLs share one only when their
    fingerprints nearly do, as rare as the seen set's collisions)."""
    return int.from_bytes(key, "big") >> 1 or 1


def new_links(outcome: Outcome) -> list[LinkRow]:
    """Return the rows of the links new to the crawl that ``outcome``'s page brought, each
    with the id Redis gave it."""
    if not outcome.found:
        return []
    depth, page = outcome.result.depth + 1, outcome.result.url
    rows = []
    for line in outcome.found.decode().split("\x1e"):
        ident, host, url, skip = line.split("\x1f")
        rows.append(LinkRow(url, url, host, depth, page, skip or None, int(ident)))
    return rows
