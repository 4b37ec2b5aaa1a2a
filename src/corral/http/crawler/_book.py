"""The crawl's frontier bookkeeping: what is pending per host, in flight, parked, and the
signal that something changed (a batch committed, parked pages parsed).

Counts only, in memory, updated on the loop thread: the rows themselves live in the store.
The claimer reads them to decide what to lease; the page work reads them to decide whether
to park bodies (the frontier past ``frontier_bound``) or parse them again.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Sequence

from corral.http.engine._runtime import count
from corral.http.report._stats import RunCounters
from corral.http.store._frontier import Committed, Done


class FrontierBook:
    """Pending rows per host (with the hosts' rotation), pages in flight and parked."""

    def __init__(self, counters: RunCounters, frontier_bound: int) -> None:
        self._counters = counters
        self._bound = frontier_bound
        self.pending: Counter[str] = Counter()  # pending rows per host (in the store)
        self.rotation: deque[str] = deque()  # hosts with pending rows, in claiming order
        self.active = 0  # claimed rows not yet committed
        self.parked = 0
        self._progress = asyncio.Event()  # replaced at every notice: a broadcast

    def add_pending(self, host: str, n: int) -> None:
        """Count ``n`` more pending rows of ``host``."""
        if n <= 0:
            return
        if not self.pending.get(host):
            self.rotation.append(host)
        self.pending[host] += n

    def pending_total(self) -> int:
        """Return the rows pending in the store."""
        return sum(self.pending.values())

    def clear_pending(self) -> None:
        """Forget every pending row (the rest was skipped: ``--max-pages``)."""
        self.pending.clear()
        self.rotation.clear()

    def note(self, result: Committed) -> None:
        """Account for rows a commit added (pending ones) or recorded unfetched (skips)."""
        for host, n in result.new_by_host.items():
            self.add_pending(host, n)
        self._counters.by_skip.update(result.skipped)

    def note_skips(self, reason: str, n: int) -> None:
        """Count ``n`` rows recorded unfetched for ``reason``."""
        self._counters.by_skip[reason] += n

    def committed(self, done: Sequence[Done], result: Committed) -> None:
        """Account for a committed batch: new pending rows, records, finished pages."""
        counters = self._counters
        self.note(result)
        for page in done:
            kind = page.result.error_kind
            if kind == "robots" or (kind == "max_pages" and not page.result.attempts):
                counters.by_skip[kind] += 1  # decided without a fetch: a skip
            else:
                count(counters, page.result)
            if page.parked is not None:
                self.parked += 1
        if counters.items is not None:
            counters.items += result.items
        self.active -= len(done)
        self.notify()

    def unparked(self, n: int, result: Committed) -> None:
        """Account for parked pages parsed at last."""
        self.note(result)
        self.parked -= n
        self.notify()

    def frontier_full(self) -> bool:
        """Return whether link extraction should pause (park bodies) for now."""
        return self.pending_total() > self._bound

    def may_unpark(self) -> bool:
        """Return whether parked bodies may be parsed now."""
        return self.parked > 0 and self.pending_total() <= self._bound // 2

    async def wait(self) -> None:
        """Wait until a batch commits (or parked pages are parsed, or a slot frees)."""
        await self._progress.wait()

    def next_notice(self) -> asyncio.Event:
        """Return the event the next ``notify`` sets (take it before doing what may notify,
        then wait on it: a notice given in between is not missed)."""
        return self._progress

    def notify(self) -> None:
        """Wake every waiter (``wait``)."""
        self._progress.set()
        self._progress = asyncio.Event()
