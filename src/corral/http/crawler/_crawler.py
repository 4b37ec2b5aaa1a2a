"""The Python API of the crawler: ``open_crawler`` owns a store and a session per crawl.

The crawl itself is ``_core``'s; this is what ``docs/crawl.md`` documents of it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from corral._clock import Clock
from corral._offload import to_thread
from corral.http.crawler._config import CrawlConfig, Page, ParseCallback
from corral.http.crawler._core import CrawlCore
from corral.http.engine._config import FetchConfig
from corral.http.engine._engine import streamed
from corral.http.report._heldback import HeldBack
from corral.http.report._stats import FetchStatistics
from corral.http.store._output import check_store_file


class Crawler:
    """Crawl sites politely into a store; see ``open_crawler``."""

    def __init__(
        self,
        config: CrawlConfig,
        *,
        store: str | Path | None = None,
        parse: ParseCallback | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._core = CrawlCore(config, store=store, parse=parse, clock=clock)
        self._store = store

    async def __aenter__(self) -> Crawler:
        if self._store is not None:  # (the command line checks its -o before its job starts)
            await to_thread(check_store_file, str(self._store))
        await self._core.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._core.close(self._core.status)

    @property
    def parse_errors(self) -> int:
        """Return how many pages' parse callback raised (their outcome: ``parse_error``)."""
        return self._core.parse_errors.count

    @property
    def held_back(self) -> list[HeldBack]:
        """Return the hosts not crawled in this run because their robots.txt did not answer
        (5xx, 429, a connect or proxy error) after ``robots_backoff``'s tries: their URLs
        are still pending in the store, for the next run."""
        return self._core.held_back()

    def statistics(self) -> FetchStatistics:
        """Return a snapshot of the crawl so far (the frontier size included)."""
        return self._core.statistics()

    def crawl(self, seeds: Iterable[str]) -> AsyncGenerator[Page, None]:
        """Crawl from ``seeds``, yielding each fetched page as it is processed.

        Raises:
            BadScope: a seed is not an http(s) URL, or a pattern does not compile.
            TypeError: ``seeds`` is one URL, not a list of them.
        """
        core = self._core
        core.set_rules(seeds)
        run = streamed(core.run, core.runtime.config.concurrency)
        core.runtime.track(run)
        return run

    async def run(self, seeds: Iterable[str]) -> None:
        """Crawl from ``seeds`` to the end without handing out pages.

        Raises:
            BadScope: a seed is not an http(s) URL, or a pattern does not compile.
            TypeError: ``seeds`` is one URL, not a list of them.
        """
        self._core.set_rules(seeds)
        await self._core.run(None)


def open_crawler(
    config: CrawlConfig | None = None,
    *,
    store: str | Path | None = None,
    parse: ParseCallback | None = None,
    clock: Clock | None = None,
    **options: Any,
) -> Crawler:
    """Open a crawler: ``async with corral.http.open_crawler(max_pages=1000) as crawler:``.

    Args:
        config: a ``CrawlConfig``; keyword ``options`` override its fields, and options named
            like ``FetchConfig`` fields (``per_host``, ``rate``, ...) override its ``fetch``.
        store: the SQLite store (frontier, results, items); None: a temporary one.
        parse: a callback given each parsed page, returning items (and links); a sync one runs
            in a thread, never on the event loop.
        clock: the politeness clock (default the running loop's).
        **options: ``CrawlConfig`` or ``FetchConfig`` fields.

    Returns:
        The crawler; its session and store live for the ``async with`` block.
    """
    base = config or CrawlConfig()
    fetch_options = {k: v for k, v in options.items() if k in FetchConfig.__dataclass_fields__}
    crawl_options = {k: v for k, v in options.items() if k not in fetch_options}
    if fetch_options:
        base = replace(base, fetch=replace(base.fetch, **fetch_options))
    if crawl_options:
        base = replace(base, **crawl_options)
    return Crawler(base, store=store, parse=parse, clock=clock)
