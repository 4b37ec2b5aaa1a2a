"""Hosts whose robots.txt is unreachable: their URLs wait, are tried again, or are left for
the next run; never recorded as refused.

RFC 9309 (section 2.3.1.4) says an unreachable robots.txt (5xx, 429, no answer) disallows
the whole site. Recording each URL as a ``robots`` skip made that final: a crawl behind a
dead proxy, or during a site's short outage, finished "done" with every seed skipped, and a
resume had nothing left to do. Google holds such a site back and asks again later; so does
this: a held host's rows stay leased in memory, robots.txt is read again after a backoff
(``CrawlConfig.robots_backoff``, or the server's ``Retry-After`` up to ``MAX_RETRY_AFTER``),
and after the last try the host is held back for the run: its rows are left pending in the
store (a lease the next run takes back), the summary names the host and the cause, and the
same command tries again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from corral.http.report._heldback import HeldBack
from corral.http.store._frontier import PendingRow

MAX_RETRY_AFTER = 60.0  # seconds: a longer Retry-After is for the next run, not a wait in this


@dataclass(slots=True)
class _Host:
    reason: str  # the last try's failure (the connect error, the proxy, the status)
    tries: int = 1
    due: float | None = None  # when robots.txt is read again; None: held back for the run
    rows: list[PendingRow] = field(default_factory=list)  # leased rows waiting for the try
    left: int = 0  # rows of a host held back for the run (leased or pending in the store)


class RobotsHold:
    """The hosts waiting for their robots.txt, and those held back for the run."""

    def __init__(self, backoff: Sequence[float], wake: Callable[[], None]) -> None:
        self._backoff = tuple(backoff)
        self._wake = wake  # called when a host's next try is due (the claimer's notice)
        self._hosts: dict[str, _Host] = {}

    def blocks(self, host: str) -> bool:
        """Return whether ``host`` is held (its rows are not claimed meanwhile)."""
        return host in self._hosts

    def waiting(self) -> bool:
        """Return whether a host waits for another try (the claimer must not end yet)."""
        return any(held.due is not None for held in self._hosts.values())

    def rows(self) -> int:
        """Return how many leased rows wait in memory (for the frontier size)."""
        return sum(len(held.rows) for held in self._hosts.values())

    def left(self) -> int:
        """Return how many rows the hosts held back for the run leave pending (the frontier
        size counts them: they are not crawled, and not done)."""
        return sum(held.left for held in self._hosts.values() if held.due is None)

    def keep(self, row: PendingRow) -> bool:
        """Keep ``row`` if its host is held (waiting: with the host's rows; held back: left
        for the next run); return whether it was. False for the first row of a host whose
        try is now (``due`` handed its rows out): that row reads robots.txt again."""
        held = self._hosts.get(row.host)
        if held is None:
            return False
        if held.due is None:
            held.left += 1
        elif held.rows:
            held.rows.append(row)
        else:
            return False
        return True

    def failed(self, row: PendingRow, reason: str, retry_after: float | None) -> None:
        """Hold ``row``: its host's robots.txt did not answer (``reason``) on this try."""
        held = self._hosts.get(row.host)
        if held is None:
            held = self._hosts[row.host] = _Host(reason)
        else:
            held.tries += 1
            held.reason = reason
        held.rows.append(row)
        if held.tries > len(self._backoff):
            held.due = None  # held back for the run
            held.left += len(held.rows)
            held.rows = []
            return
        delay = max(self._backoff[held.tries - 1], min(retry_after or 0.0, MAX_RETRY_AFTER))
        held.due = _now() + delay
        asyncio.get_running_loop().call_later(delay, self._wake)

    def cleared(self, host: str) -> None:
        """Forget ``host``: its robots.txt answered."""
        self._hosts.pop(host, None)

    def gave_up(self, host: str) -> bool:
        """Return whether ``host`` is held back for the run."""
        held = self._hosts.get(host)
        return held is not None and held.due is None

    def leave(self, host: str, n: int) -> None:
        """Count ``n`` more rows of a held-back ``host`` left pending in the store."""
        self._hosts[host].left += n

    def due(self) -> list[PendingRow]:
        """Return the rows of hosts whose next try is due (their host then reads robots.txt
        again at its first row)."""
        now, found = _now(), []
        for held in self._hosts.values():
            if held.due is not None and held.due <= now and held.rows:
                found.extend(held.rows)
                held.rows = []
        return found

    def held_back(self) -> list[HeldBack]:
        """Return the hosts held back for the run, most URLs first."""
        found = [
            HeldBack(host, held.left, held.tries, held.reason)
            for host, held in self._hosts.items()
            if held.due is None
        ]
        return sorted(found, key=lambda h: (-h.urls, h.host))


def _now() -> float:
    return asyncio.get_running_loop().time()


def held_back_note(hosts: Sequence[HeldBack]) -> str:
    """Return what ``corral status`` says of the hosts a finished job held back ("" none)."""
    if not hosts:
        return ""
    urls = sum(h.urls for h in hosts)
    return (
        f"{urls:,} URL{'' if urls == 1 else 's'} of {len(hosts):,} "
        f"host{'' if len(hosts) == 1 else 's'} left pending in the store "
        "(robots.txt did not answer)"
    )


def held_back_lines(hosts: Sequence[HeldBack], shown: int = 5) -> list[str]:
    """Return the summary's lines on hosts held back: how many, why, and what to do."""
    if not hosts:
        return []
    urls = sum(h.urls for h in hosts)
    head = (
        f"  held back   {_many(len(hosts), 'host')} not crawled: robots.txt did not answer "
        f"(tried {hosts[0].tries}x); {_many(urls, 'URL')} left pending: {_fix(hosts)}"
    )
    lines = [head]
    lines.extend(f"    {h.host}  {_many(h.urls, 'URL')}: {h.reason}" for h in hosts[:shown])
    if len(hosts) > shown:
        lines.append(f"    ... and {len(hosts) - shown:,} more")
    return lines


# Causes a retry cannot cure, by what the attempt's error says (engine/_attempt.py), and
# what does: the same command would fail the same way (a new user's trial).
_FIXES = (
    (
        ("to trust its certificate: --proxy-ca",),
        (
            "the proxy's certificate is not trusted: run the command again with --proxy-ca FILE "
            "(its CA)"
        ),
    ),
    (
        ("it wants other credentials", "407, message='Proxy Authentication Required'"),
        (
            "the proxy refused its credentials: correct the user:password of --proxy, then run "
            "the command again"
        ),
    ),
)


def _fix(hosts: Sequence[HeldBack]) -> str:
    """Return what to do: the fix of a cause every host shares, or run the command again."""
    for marks, fix in _FIXES:
        if all(any(mark in h.reason for mark in marks) for h in hosts):
            return fix
    return "run the same command again to crawl them"


def _many(n: int, what: str) -> str:
    return f"{n:,} {what}" if n == 1 else f"{n:,} {what}s"
