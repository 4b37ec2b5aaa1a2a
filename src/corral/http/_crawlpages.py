"""What happens to a fetched page: parsing off the loop, the callback, links, parking."""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from corral import to_thread
from corral.http._crawlconfig import Page, ParseCallback, Parsed
from corral.http._crawlscope import Scope
from corral.http._engine import Job
from corral.http._frontier import LinkRow, PageDone
from corral.http._links import PageLinks, parse_page
from corral.http._result import FetchResult

if TYPE_CHECKING:
    from corral.http._crawler import Crawler

_UNPARK_BATCH = 50


class PageWork:
    """Turn (job, record) pairs from the engine into pages and their store rows."""

    def __init__(self, crawler: Crawler, scope: Scope, parse: ParseCallback | None) -> None:
        self._crawler = crawler
        self._scope = scope
        self._parse = parse
        self._store_bodies = crawler.config.fetch.save_bodies == "store"
        self._follow_nofollow = crawler.config.follow_nofollow

    async def process(self, item: tuple[Job, FetchResult]) -> tuple[Page | None, PageDone]:
        """Parse a fetched page (in a thread) and run the callback; return page and rows."""
        job, result = item
        if job.request is None:
            assert isinstance(job.ident, int)
            return None, PageDone(job.ident, result)  # decided without a fetch (robots)
        assert isinstance(job.ident, int)
        record = result if self._store_bodies else replace(result, body=None)
        page = Page(
            url=result.url,
            depth=job.request.depth,
            found_on=job.request.found_on,
            result=record,
            body=result.body,
        )
        parsed = self._parses(result)
        if parsed and self._crawler.frontier_full():
            parked = (result.content_type, result.body or b"")
            return page, PageDone(job.ident, record, parked=parked)
        follow: Sequence[str] = ()
        skipped: Sequence[str] = ()
        if parsed:
            found = await to_thread(
                parse_page, result.body or b"", _base(result), result.content_type
            )
            follow, skipped = self._choose(found, result.url)
        items: tuple[Mapping[str, Any], ...] = ()
        if self._parse is not None and parsed:
            items, chosen = await self._callback(replace(page, links=tuple(follow)))
            if chosen is not None:
                follow, skipped = chosen, ()
        rows = self._rows(follow, skipped, page)
        page = replace(page, links=tuple(follow), items=items)
        return page, PageDone(job.ident, record, rows, items)

    def _parses(self, result: FetchResult) -> bool:
        return result.ok and result.body is not None and self._scope.parses(result.content_type)

    def _choose(self, found: PageLinks, url: str) -> tuple[Sequence[str], Sequence[str]]:
        """Return (links to follow, links skipped as nofollow) of a parsed page."""
        if found.canonical is not None and found.canonical != url:
            return (found.canonical,), ()  # a duplicate: follow its canonical only
        if self._follow_nofollow:
            return tuple(link.url for link in found.links), ()
        follow = found.to_follow()
        chosen = set(follow)
        return follow, tuple(link.url for link in found.links if link.url not in chosen)

    def _rows(self, follow: Sequence[str], skipped: Sequence[str], page: Page) -> list[LinkRow]:
        depth = page.depth + 1
        rows = self._crawler.link_rows(follow, depth=depth, found_on=page.url)
        rows.extend(
            self._crawler.link_rows(skipped, depth=depth, found_on=page.url, skip="nofollow")
        )
        return rows

    async def _callback(
        self, page: Page
    ) -> tuple[tuple[Mapping[str, Any], ...], Sequence[str] | None]:
        assert self._parse is not None
        if inspect.iscoroutinefunction(self._parse):
            produced = await self._parse(page)
        else:
            produced = await to_thread(self._parse, page)  # sync callbacks run off the loop
            if inspect.isawaitable(produced):
                produced = await produced
        return _items_and_links(produced)

    async def unpark_loop(self) -> None:
        """Parse parked bodies whenever the frontier has room again."""
        crawler = self._crawler
        while True:
            if not crawler.may_unpark():
                await crawler.wait_progress()
                continue
            store = crawler.store()
            rows = await store.unpark(_UNPARK_BATCH)
            links: list[LinkRow] = []
            for _ident, url, depth, content_type, body in rows:
                found = await to_thread(parse_page, body, url, content_type)
                follow, skipped = self._choose(found, url)
                page = Page(url=url, depth=depth, found_on=None, result=FetchResult(url=url))
                links.extend(self._rows(follow, skipped, page))
            committed = await store.unparked([row[0] for row in rows], links)
            crawler.unparked(len(rows), committed)


def _base(result: FetchResult) -> str:
    return result.final_url or result.url


def _items_and_links(
    produced: object,
) -> tuple[tuple[Mapping[str, Any], ...], Sequence[str] | None]:
    if produced is None:
        return (), None
    if isinstance(produced, Parsed):
        return tuple(produced.items), (
            tuple(produced.links) if produced.links is not None else None
        )
    if isinstance(produced, Mapping):
        return (produced,), None
    if isinstance(produced, Iterable):
        return tuple(produced), None
    raise TypeError(
        f"a parse callback returns Parsed, items or None, not {type(produced).__name__}"
    )
