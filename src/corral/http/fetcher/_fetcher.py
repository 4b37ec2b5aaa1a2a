"""The Python API of the fetcher: ``open_fetcher`` owns one aiohttp session per job."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from dataclasses import replace
from types import TracebackType
from typing import Any

from corral._bridge import run_sync
from corral._clock import Clock
from corral.http.engine._config import FetchConfig
from corral.http.engine._flight import Flight
from corral.http.engine._result import FetchResult
from corral.http.engine._runtime import Runtime, count
from corral.http.pipeline._flights import Target, flight_for, flights_for, require_many
from corral.http.report._stats import FetchStatistics


class Fetcher:
    """Fetch URLs politely over one session; see ``open_fetcher``."""

    def __init__(self, config: FetchConfig, *, clock: Clock | None = None) -> None:
        self._runtime = Runtime(config, clock=clock)

    @property
    def config(self) -> FetchConfig:
        """Return the configuration (its concurrency within the open-files limit, once open)."""
        return self._runtime.config

    async def __aenter__(self) -> Fetcher:
        await self._runtime.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._runtime.close()

    def statistics(self) -> FetchStatistics:
        """Return a snapshot of everything this fetcher has done so far."""
        return self._runtime.statistics()

    async def fetch(self, target: Target) -> FetchResult:
        """Fetch one URL (with politeness and retries) and return its final record."""
        async for result in self.fetch_all([target]):
            return result
        raise AssertionError("fetch_all yields one record per input")

    def fetch_all(
        self, targets: Iterable[Target] | AsyncIterable[Target]
    ) -> AsyncGenerator[FetchResult, None]:
        """Fetch many URLs, yielding each final record as it is ready (completion order).

        Targets are read lazily, so memory follows ``concurrency``, not the number of URLs.
        A malformed URL gives an ``invalid_url`` record; nothing is dropped. Leaving the loop
        early is fine: the run is closed when the fetcher closes (or call ``aclose()``).

        Raises:
            TypeError: ``targets`` is one URL (a string, bytes or a request), not an iterable
                of them: ``fetch(url)`` fetches one.
        """
        require_many(targets, "fetch_all() takes URLs", "use fetcher.fetch(url) for one URL")
        run = self._fetch_all(targets)
        self._runtime.track(run)
        return run

    async def _fetch_all(
        self, targets: Iterable[Target] | AsyncIterable[Target]
    ) -> AsyncGenerator[FetchResult, None]:
        runtime = self._runtime
        async with runtime.engine.run(flights_for(targets), runtime.counters) as stream:
            async for _flight, result in stream:
                count(runtime.counters, result)
                yield result


def open_fetcher(config: FetchConfig | None = None, **options: Any) -> Fetcher:
    """Open a fetcher: ``async with corral.http.open_fetcher(per_host=4) as f:``.

    Args:
        config: a ``FetchConfig``; keyword ``options`` override its fields.
        **options: any ``FetchConfig`` field.

    Returns:
        The fetcher; its session lives for the ``async with`` block.
    """
    base = config or FetchConfig()
    return Fetcher(replace(base, **options) if options else base)


def fetch(
    targets: Iterable[Target], *, config: FetchConfig | None = None, **options: Any
) -> list[FetchResult]:
    """Fetch URLs from sync code (also inside Jupyter's running loop); results in input order.

    Duplicates (after normalisation) are fetched once and share their record.

    Raises:
        TypeError: ``targets`` is one URL (a string, bytes or a request), not a list: a list
            comes back, so one URL is ``fetch([url])`` (its record: ``fetch([url])[0]``).
    """
    require_many(targets, "fetch() takes a list of URLs", "write fetch([url]) for one URL")
    wanted = list(targets)
    base = config or FetchConfig()

    async def main() -> list[FetchResult]:
        unique: dict[str, Flight] = {}
        keys: list[str] = []
        for target in wanted:
            flight = flight_for(target)
            key = _key_of(flight)
            keys.append(key)
            unique.setdefault(key, flight)
        by_key: dict[str, FetchResult] = {}
        runtime = Runtime(replace(base, **options) if options else base)
        async with runtime, runtime.engine.run(_from(unique.values()), runtime.counters) as run:
            async for flight, result in run:
                by_key[_key_of(flight)] = result
        return [by_key[key] for key in keys]

    return run_sync(main)


def _key_of(flight: Flight) -> str:
    if flight.request is not None:
        return flight.request.key
    assert flight.preset is not None
    return f"invalid:{flight.preset.url}"


async def _from(flights: Iterable[Flight]) -> AsyncIterator[Flight]:
    for flight in flights:
        yield flight
