"""The one place a job's request in flight (``Flight``) is built: from a caller's target, a
line of input, a stored frontier row, or a row the crawl's robots gate refused.

A flight that cannot be fetched carries its final record already (``preset``): the engine
hands it to the sink without an attempt.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable

from corral.http.engine._engine import utc_now
from corral.http.engine._flight import Flight
from corral.http.engine._request import InvalidLine, Request, request_for
from corral.http.engine._result import FetchResult
from corral.http.store._frontier import PendingRow
from corral.http.store._refresh import conditional
from corral.http.web._urls import BadURL, mask_credentials

Target = str | Request


def flight_for(target: Target, ident: object = None) -> Flight:
    """Return the flight for a URL or request (invalid: its record preset)."""
    if isinstance(target, Request):
        return Flight(target, ident)
    try:
        return Flight(request_for(target), ident)
    except BadURL as exc:
        return Flight(None, ident, preset=invalid_record(target, str(exc)))


def flight_of_line(ident: int, item: Request | InvalidLine) -> Flight:
    """Return the flight for a line of input the store has given frontier id ``ident``."""
    if isinstance(item, InvalidLine):
        return Flight(None, ident, preset=invalid_record(item.text, item.reason))
    return Flight(item, ident)


def flight_of_row(row: PendingRow) -> Flight:
    """Return the flight for a pending frontier row (left by an earlier run, or claimed)."""
    if row.invalid is not None:
        return Flight(None, row.id, preset=invalid_record(row.url, row.invalid))
    request = Request.from_stored(row.url, row.host, row.request, row.depth, row.found_on)
    if row.etag is not None or row.last_modified is not None:  # fetched again: --refresh
        request = conditional(request, row.etag, row.last_modified)
    return Flight(request, row.id)


def refused_flight(row: PendingRow, why: str) -> Flight:
    """Return the flight of a row robots.txt does not let the crawl fetch: skipped as such."""
    record = FetchResult(
        url=mask_credentials(row.url),
        error_kind="robots",
        error=why,
        depth=row.depth,
        found_on=row.found_on,
        fetched_at=utc_now(),
    )
    return Flight(None, row.id, preset=record)


def invalid_record(text: str, reason: str) -> FetchResult:
    """Return the final record of input that is not a fetchable URL."""
    return FetchResult(
        url=mask_credentials(text),
        error_kind="invalid_url",
        error=mask_credentials(reason),
        attempts=0,
        fetched_at=utc_now(),
    )


async def flights_for(targets: Iterable[Target] | AsyncIterable[Target]) -> AsyncIterator[Flight]:
    """Yield the flight of each target, reading ``targets`` lazily."""
    if isinstance(targets, AsyncIterable):
        async for target in targets:
            yield flight_for(target)
    else:
        for target in targets:
            yield flight_for(target)


def require_many(targets: object, what: str, fix: str) -> None:
    """Refuse one URL where an iterable of them is expected (a string iterates by character).

    Raises:
        TypeError: ``targets`` is a string, bytes or a single request; the message says
            ``what`` is expected and ``fix``.
    """
    if isinstance(targets, str | bytes | bytearray | Request):
        raise TypeError(f"{what}, not a single {type(targets).__name__}: {fix}")
