"""What happens to a fetched page: parsing off the loop, the callback, links, parking."""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from corral import to_thread
from corral.http.crawler._book import FrontierBook
from corral.http.crawler._callbackerror import ParseErrors
from corral.http.crawler._config import Page, ParseCallback, Parsed
from corral.http.crawler._linkrows import LinkRows
from corral.http.crawler._sameness import name_of
from corral.http.engine._flight import Flight
from corral.http.engine._request import Request
from corral.http.engine._result import FetchResult
from corral.http.store._frontier import Done, Frontier, LinkRow
from corral.http.web._links import PageLinks, parse_pages

if TYPE_CHECKING:
    from corral.http.crawler._deathnote import DeathNote

_UNPARK_BATCH = 50
_PARSE_BATCH = 32  # pages per thread hand-off: one round trip costs about a page's parse
_PARSE_WAIT = 0.002  # seconds a page waits for company before its batch goes anyway
# seconds a parse callback runs on one page before a line names it and the page: one that
# blocks (a lock, a socket without a timeout) stalled the crawl without a word (a trial)
STALL_AFTER = 60.0
_STALLS_SAID = 3  # such lines a run prints at most
_Waiting = tuple[tuple[bytes, str, str | None, str | None], "asyncio.Future[Any]"]


class ParseBatcher:
    """Parse pages in a corral thread, a batch per hand-off (never on the event loop).

    A page waits up to ``_PARSE_WAIT`` for others to share its hand-off, but only while
    other responses are on their way (``company()``): alone, as on a "next page" chain, it
    goes at once (issue 13: the wait was 2 ms of every hop of a chain).
    """

    def __init__(self, company: Callable[[], bool] = lambda: True) -> None:
        self._company = company
        self._waiting: list[_Waiting] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def parse(self, body: bytes, url: str, content_type: str | None) -> PageLinks:
        """Return the links of one page, parsed with others in one thread call.

        Raises:
            BadURL: ``url`` is not an http(s) URL.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting.append(((body, url, content_type, None), future))
        if len(self._waiting) >= _PARSE_BATCH or not self._company():
            self._send()
        elif self._timer is None:
            self._timer = loop.call_later(_PARSE_WAIT, self._send)
        found = await future
        if isinstance(found, BaseException):
            raise found
        assert isinstance(found, PageLinks)
        return found

    def _send(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[_Waiting]) -> None:
        try:
            results: list[Any] = await to_thread(parse_pages, [page for page, _ in batch])
        except Exception as exc:  # parse_pages never raises for a page; only a bug gets here
            results = [exc] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        """Stop: cancel the batches in flight and wait for them."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in list(self._running):
            task.cancel()
        if self._running:
            await asyncio.wait(list(self._running))


class PageExaminer:
    """Parse a fetched page for links (in a thread) and run the parse callback on it: the
    part of a page's work a crawl's worker process does too (``_child``)."""

    def __init__(
        self,
        parses: Callable[[str | None], bool],
        parse: ParseCallback | None,
        *,
        follow_nofollow: bool,
        failures: ParseErrors,
        company: Callable[[], bool],
    ) -> None:
        self.parses = parses
        self._parse = parse
        self.calls_back = parse is not None  # a parse callback runs on each page
        self._follow_nofollow = follow_nofollow
        self.failures = failures
        self.parser = ParseBatcher(company)
        self._stalls = 0  # callbacks that ran past STALL_AFTER

    async def examine(
        self, result: FetchResult, body: bytes | None, request: Request
    ) -> tuple[FetchResult, Examined]:
        """Return the record (a callback's failure in it) and what the page gave."""
        parsed = result.ok and body is not None and self.parses(result.content_type)
        follow: Sequence[str] = ()
        skipped: Sequence[str] = ()
        if parsed:
            found = await self.parser.parse(body or b"", _base(result), result.content_type)
            follow, skipped = self.choose(found, result.url)
        items: tuple[Mapping[str, Any], ...] = ()
        if self._parse is not None and parsed:
            seen = Page(url=result.url, depth=request.depth, found_on=request.found_on,
                        result=result, body=body, links=tuple(follow))  # fmt: skip
            try:
                items, chosen = await self._callback(seen)
            # the callback's bug: this page's outcome, not the crawl's (a SystemExit too: it
            # ended the crawl, or its worker, with "Task exception was never retrieved")
            except (Exception, SystemExit) as exc:
                result = self.failures.record(result, exc, self._parse)
            else:
                if chosen is not None:
                    follow, skipped = chosen, ()
        return result, Examined(tuple(follow), tuple(skipped), items)

    def choose(self, found: PageLinks, url: str) -> tuple[Sequence[str], Sequence[str]]:
        """Return (links to follow, links skipped as nofollow) of a parsed page."""
        if found.canonical is not None and found.canonical != url:
            return (found.canonical,), ()  # a duplicate: follow its canonical only
        if self._follow_nofollow:
            return tuple(link.url for link in found.links), ()
        follow = found.to_follow()
        chosen = set(follow)
        return follow, tuple(link.url for link in found.links if link.url not in chosen)

    async def _callback(
        self, page: Page
    ) -> tuple[tuple[Mapping[str, Any], ...], Sequence[str] | None]:
        assert self._parse is not None
        timer = asyncio.get_running_loop().call_later(STALL_AFTER, self._stalled, page.url)
        try:
            if inspect.iscoroutinefunction(self._parse):
                produced = await self._parse(page)
            else:
                produced = await to_thread(self._parse, page)  # sync callbacks off the loop
                if inspect.isawaitable(produced):
                    produced = await produced
        finally:
            timer.cancel()
        return _items_and_links(produced)

    def _stalled(self, url: str) -> None:
        """Say that the callback has run ``STALL_AFTER`` seconds on ``url`` (a few times)."""
        self._stalls += 1
        if self._stalls <= _STALLS_SAID:
            notice(
                f"corral: the parse callback {name_of(self._parse)} has not returned after "
                f"{STALL_AFTER:g} s on {url}; the crawl cannot end until it does (a call "
                "blocked without a timeout?)"
            )

    async def close(self) -> None:
        """Stop the parses in flight."""
        await self.parser.close()


def notice(line: str) -> None:
    """Print a line on the crawl's progress to stderr (a worker process's goes there too)."""
    print(line, file=sys.stderr, flush=True)


class Examined(NamedTuple):
    """What a page gave: links to follow, links skipped as nofollow, the callback's items."""

    follow: tuple[str, ...]
    skipped: tuple[str, ...]
    items: tuple[Mapping[str, Any], ...]

    def to_wire(self, failure: str | None) -> dict[str, Any]:
        """Return it as JSON-ready data, with the callback's traceback if it failed (the
        items as the store keeps them: ``json.dumps(..., default=str)``)."""
        items = json.loads(json.dumps(self.items, default=str)) if self.items else []
        data: dict[str, Any] = {"f": self.follow, "s": self.skipped, "i": items}
        if failure is not None:
            data["e"] = failure
        return data

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Examined:
        return cls(tuple(data["f"]), tuple(data["s"]), tuple(data["i"]))


class PageWork:
    """Turn (flight, record) pairs from the engine into pages and their store rows.

    Its collaborators are narrow: the examiner (parse and callback), the link rows builder
    (seen cache and rules), the frontier bookkeeping (park or parse, and the progress
    signal) and the store (parked bodies). A flight a worker process fetched comes with
    the examination done there (``flight.remote``).
    """

    def __init__(
        self,
        examiner: PageExaminer,
        *,
        links: LinkRows,
        book: FrontierBook,
        store: Frontier,
    ) -> None:
        self.examiner = examiner
        self._links = links
        self._book = book
        self._store = store
        self.note: DeathNote | None = None  # the pages under examination (one process)

    async def process(self, flight: Flight, result: FetchResult) -> tuple[Page | None, Done]:
        """Parse a fetched page (in a thread) and run the callback; return page and rows."""
        assert isinstance(flight.ident, int)
        if flight.request is None:
            return None, Done(flight.ident, result)  # decided without a fetch (robots)
        body, request = flight.body, flight.request
        if isinstance(flight.remote, dict):
            examined = Examined.from_wire(flight.remote)
            if "e" in flight.remote:
                died = bool(flight.remote.get("d"))  # (the callback ended its worker)
                self.examiner.failures.note(str(flight.remote["e"]), died=died)
        else:
            parsed = result.ok and body is not None and self.examiner.parses(result.content_type)
            # (a page parked is parsed for links later, without the parse callback: with one,
            # every page is examined as it comes, or its items would be lost)
            if parsed and not self.examiner.calls_back and self._book.frontier_full():
                page = Page(url=result.url, depth=request.depth, found_on=request.found_on,
                            result=result, body=body)  # fmt: skip
                parked = (result.content_type, body or b"")
                return page, Done(flight.ident, result, parked=parked)
            result, examined = await self._examine(flight.ident, result, body, request, parsed)
        page = Page(
            url=result.url,
            depth=request.depth,
            found_on=request.found_on,
            result=result,
            body=body,
            links=examined.follow,
            items=examined.items,
        )
        rows = self._rows(examined.follow, examined.skipped, page)
        return page, Done(flight.ident, result, rows, examined.items)

    async def _examine(
        self, ident: int, result: FetchResult, body: bytes | None, request: Request, parsed: bool
    ) -> tuple[FetchResult, Examined]:
        """Examine the page, noted under examination (``_deathnote``), or record it
        ``parse_error`` if the process died examining it ``PAGE_DEATHS`` times."""
        note = self.note
        if note is None:
            return await self.examiner.examine(result, body, request)
        if parsed and note.doomed(ident):
            error = note.error()
            notice(f"corral: {result.url}: {error}: recorded as parse_error")
            self.examiner.failures.note(f"{result.url}: {error}", died=True)
            failed = replace(result, ok=False, error_kind="parse_error", error=error)
            return failed, Examined((), (), ())
        return await note.examine(ident, lambda: self.examiner.examine(result, body, request))

    def _rows(self, follow: Sequence[str], skipped: Sequence[str], page: Page) -> list[LinkRow]:
        depth = page.depth + 1
        rows = self._links(follow, depth=depth, found_on=page.url)
        rows.extend(self._links(skipped, depth=depth, found_on=page.url, skip="nofollow"))
        return rows

    async def unpark_loop(self) -> None:
        """Parse parked bodies whenever the frontier has room again."""
        book, store = self._book, self._store
        while True:
            if not book.may_unpark():
                await book.wait()
                continue
            rows = await store.unpark(_UNPARK_BATCH)
            links: list[LinkRow] = []
            for _ident, url, depth, content_type, body in rows:
                found = await self.examiner.parser.parse(body, url, content_type)
                follow, skipped = self.examiner.choose(found, url)
                page = Page(url=url, depth=depth, found_on=None, result=FetchResult(url=url))
                links.extend(self._rows(follow, skipped, page))
            committed = await store.unparked([row[0] for row in rows], links)
            book.unparked(len(rows), committed)


def _base(result: FetchResult) -> str:
    return result.final_url or result.url


def _items_and_links(
    produced: object,
) -> tuple[tuple[Mapping[str, Any], ...], Sequence[str] | None]:
    links: Sequence[str] | None = None
    if produced is None:
        return (), None
    if isinstance(produced, Parsed):
        items = tuple(produced.items)
        links = tuple(produced.links) if produced.links is not None else None
    elif isinstance(produced, Mapping):
        items = (produced,)
    elif isinstance(produced, Iterable):
        items = tuple(produced)
    else:
        raise TypeError(
            f"a parse callback returns Parsed, items or None, not {type(produced).__name__}"
        )
    for index, item in enumerate(items):
        _check_json(item, f"item {index}: ", "")
    return items, links


def _check_json(value: object, prefix: str, path: str) -> None:
    """Raise ValueError naming the field if ``value`` holds NaN or an infinity.

    ``json.dumps`` writes them as bare ``NaN`` / ``Infinity``, which is not JSON: sqlite's
    json functions, jq and most JSON readers reject the row. The page's outcome says which
    field (a ``parse_error``) rather than the store holding what no tool can read, or corral
    guessing null for the user.
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            name = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
            raise ValueError(
                f"{prefix}{path or 'the item'} is {name}, not JSON (store null or skip it)"
            )
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            _check_json(inner, prefix, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            _check_json(inner, prefix, f"{path}[{index}]")
