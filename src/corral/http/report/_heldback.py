"""The hosts a crawl held back for the run: their robots.txt did not answer (the crawler's
``_robotshold`` decides; a crawl over Redis's coordinator counts its workers' verdicts)."""

from __future__ import annotations

from dataclasses import dataclass

# A crawl over Redis: a worker that gave up on a host's robots.txt sends the URL's record
# with this error's prefix; the coordinator stores no record for it (the URL stays pending
# in the store for the next run) and counts the host held back, as one process does.
HELD_PREFIX = "held back: "


@dataclass(frozen=True, slots=True)
class HeldBack:
    """A host not crawled in this run because its robots.txt did not answer."""

    host: str
    urls: int  # its URLs left pending for the next run
    tries: int
    reason: str


class HeldHosts:
    """The hosts a crawl over Redis held back, from its workers' records (``HELD_PREFIX``)."""

    def __init__(self) -> None:
        self._hosts: dict[str, HeldBack] = {}

    def add(self, host: str, tries: int, reason: str) -> None:
        """Count one more URL of ``host`` left pending (its last try failed with ``reason``)."""
        held = self._hosts.get(host)
        urls = 1 if held is None else held.urls + 1
        self._hosts[host] = HeldBack(host, urls, tries, reason)

    def held_back(self) -> list[HeldBack]:
        """Return the hosts held back, most URLs first."""
        return sorted(self._hosts.values(), key=lambda h: (-h.urls, h.host))
