"""A timed-out attempt's record says what timed out, not a bare "TimeoutError:".

aiohttp raises its total timeout as a ``TimeoutError`` with no message; the record's ``error``
names the phase (no response yet, or a body not complete) and the limit that was hit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from corral.http import FetchResult, open_fetcher
from corral.testing import Site, open_site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


async def _one(url: str) -> FetchResult:
    async with open_fetcher(timeout=0.3, retries=0) as fetcher:
        return await fetcher.fetch(url)


async def test_no_response_in_time_says_so(site: Site) -> None:
    """A server that sends nothing within the timeout: "no response within 0.3 s"."""
    record = await _one(site.url("/delay/600000"))
    assert record.error_kind == "timeout"
    assert record.error == (
        "TimeoutError: no response within 0.3 s (the timeout for a whole attempt)"
    )


async def test_a_body_not_complete_in_time_says_so(site: Site) -> None:
    """Headers came, the body stalled: the record says the body was not complete in time."""
    record = await _one(site.url("/stall?after=10"))
    assert record.error_kind == "timeout"
    assert record.status == 200
    assert record.error == (
        "TimeoutError: HTTP 200 received, but the body was not complete within 0.3 s "
        "(the timeout for a whole attempt)"
    )


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        pytest.param("/delay/600000", "timeout", id="timeout"),
        pytest.param("/drop", "reset", id="drop"),
        pytest.param("/reset", "reset", id="reset"),
    ],
)
async def test_no_error_text_ends_in_an_empty_message(site: Site, path: str, kind: str) -> None:
    """Whatever the failure, the error text carries a message after the exception's name."""
    record = await _one(site.url(path))
    assert record.error_kind == kind
    assert record.error is not None
    _name, _, message = record.error.partition(": ")
    assert message.strip(), record.error
