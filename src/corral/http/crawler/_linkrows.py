"""A page's links as frontier rows: URLs not seen lately, each with the crawl rules's verdict."""

from __future__ import annotations

from collections.abc import Iterable

from corral.http.crawler._recent import RecentSet
from corral.http.engine._request import split_normal
from corral.http.store._frontier import LinkRow
from corral.http.web._rules import CrawlRules
from corral.http.web._urls import host_key, parse

SEEN_CACHE = 100_000  # recently seen URLs kept in memory in front of the store's index


class LinkRows:
    """Build frontier rows for links, skipping those seen lately (``RecentSet``)."""

    def __init__(self, rules: CrawlRules, seen: int = SEEN_CACHE) -> None:
        self._rules = rules
        self._seen = RecentSet(seen)

    def __call__(
        self, urls: Iterable[str], *, depth: int, found_on: str | None, skip: str | None = None
    ) -> list[LinkRow]:
        """Return frontier rows for URLs not seen lately, with the rules's verdict on each
        (``skip`` forces a reason, such as ``nofollow``)."""
        rules, seen = self._rules, self._seen
        rows: list[LinkRow] = []
        for url in urls:
            if seen.seen(url):
                continue
            host = split_normal(url)
            if host is not None:  # already normal (as the parser hands links out): no reparse
                reason = skip or rules.allows_normal(url, host, depth).reason
                rows.append(LinkRow(url, url, host, depth, found_on, reason))
                continue
            reason = skip or rules.allows(url, depth).reason
            try:
                parsed = parse(url)
            except ValueError:
                continue  # the rules said invalid_url: a link that leads nowhere is dropped
            text = str(parsed)
            rows.append(LinkRow(text, text, host_key(parsed), depth, found_on, reason))
        return rows
