"""The rate-limited area: 429 with Retry-After above the rate, then a site-wide ban (403).

Every test drives the policy with a manual clock, so nothing here depends on wall time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from corral.testing import ClientStatistics, RateLimitPolicy, Site, open_site


class ManualClock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    """Return a fresh manual clock."""
    return ManualClock()


@pytest.fixture
async def strict_site(clock: ManualClock) -> AsyncIterator[Site]:
    """A site allowing 1 request/s (burst 2), banning after 3 throttled requests within 10 s."""
    policy = RateLimitPolicy(rate=1, burst=2, ban_after=3, ban_window=10)
    async with open_site(rate_limit=policy, clock=clock) as site:
        yield site


async def _statuses(session: aiohttp.ClientSession, url: str, count: int) -> list[int]:
    statuses = []
    for _ in range(count):
        async with session.get(url) as response:
            statuses.append(response.status)
    return statuses


async def test_burst_then_429_with_retry_after(
    strict_site: Site, session: aiohttp.ClientSession
) -> None:
    """The burst passes; the next request is 429 with the whole seconds until a slot frees."""
    assert await _statuses(session, strict_site.url("/limited/a"), 2) == [200, 200]
    async with session.get(strict_site.url("/limited/a")) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "1"


async def test_retry_after_rounds_a_long_wait_up(
    clock: ManualClock, session: aiohttp.ClientSession
) -> None:
    """At one request per 8 s, an early second request is told to wait 8 s, then 5 after 3."""
    async with open_site(rate_limit=RateLimitPolicy(rate=1 / 8, burst=1), clock=clock) as site:
        url = site.url("/limited/x")
        assert await _statuses(session, url, 1) == [200]
        async with session.get(url) as response:
            assert response.headers["Retry-After"] == "8"
        clock.advance(2.5)
        async with session.get(url) as response:
            assert response.headers["Retry-After"] == "6"  # 5.5 s left, rounded up


async def test_a_client_keeping_to_the_rate_is_never_throttled(
    strict_site: Site, clock: ManualClock, session: aiohttp.ClientSession
) -> None:
    """Requests spaced at exactly the rate all pass, however many there are."""
    url = strict_site.url("/limited/paced")
    for _ in range(30):
        assert await _statuses(session, url, 1) == [200]
        clock.advance(1.0)
    assert strict_site.statistics().clients["127.0.0.1"].throttled == 0


async def test_waiting_as_told_lets_the_client_in_again(
    strict_site: Site, clock: ManualClock, session: aiohttp.ClientSession
) -> None:
    """After a 429, waiting Retry-After seconds is enough for the next request to pass."""
    url = strict_site.url("/limited/b")
    assert await _statuses(session, url, 3) == [200, 200, 429]
    clock.advance(1.0)
    assert await _statuses(session, url, 1) == [200]


async def test_pushing_past_the_limit_bans_site_wide(
    strict_site: Site, session: aiohttp.ClientSession
) -> None:
    """ban_after 429s, then a 403 that starts a ban; a banned client gets 403 everywhere."""
    statuses = await _statuses(session, strict_site.url("/limited/c"), 7)
    assert statuses == [200, 200, 429, 429, 429, 403, 403]
    for path in ["/page/1", "/", "/robots.txt"]:
        async with session.get(strict_site.url(path)) as response:
            assert response.status == 403
    assert strict_site.statistics().clients == {
        "127.0.0.1": ClientStatistics(
            requests=6, allowed=2, throttled=3, forbidden=5, bans=1, banned=True
        )
    }


async def test_a_ban_lasts_ban_seconds(clock: ManualClock, session: aiohttp.ClientSession) -> None:
    """With ``ban_seconds`` the ban ends after that long and the client starts afresh."""
    policy = RateLimitPolicy(rate=1, burst=1, ban_after=1, ban_seconds=60)
    async with open_site(rate_limit=policy, clock=clock) as site:
        url = site.url("/limited/d")
        assert await _statuses(session, url, 3) == [200, 429, 403]
        clock.advance(59)
        assert await _statuses(session, site.url("/page/1"), 1) == [403]
        assert site.statistics().clients["127.0.0.1"].banned
        clock.advance(1)
        assert not site.statistics().clients["127.0.0.1"].banned
        assert await _statuses(session, url, 2) == [200, 429]


async def test_a_ban_without_ban_seconds_is_for_good(
    strict_site: Site, clock: ManualClock, session: aiohttp.ClientSession
) -> None:
    """By default a ban lasts as long as the site."""
    await _statuses(session, strict_site.url("/limited/e"), 6)
    clock.advance(10**9)
    assert await _statuses(session, strict_site.url("/limited/e"), 1) == [403]


async def test_throttles_spread_out_do_not_ban(
    strict_site: Site, clock: ManualClock, session: aiohttp.ClientSession
) -> None:
    """429s count toward a ban only within ``ban_window``: occasional ones are forgiven."""
    url = strict_site.url("/limited/f")
    for _ in range(10):
        assert await _statuses(session, url, 3) == [200, 200, 429]
        clock.advance(6.0)  # one 429 per 6 s: never 4 within 10 s
    assert not strict_site.statistics().clients["127.0.0.1"].banned


async def test_ban_after_none_never_bans(
    clock: ManualClock, session: aiohttp.ClientSession
) -> None:
    """``ban_after=None`` throttles forever without banning."""
    policy = RateLimitPolicy(rate=1, burst=1, ban_after=None)
    async with open_site(rate_limit=policy, clock=clock) as site:
        statuses = await _statuses(session, site.url("/limited/g"), 50)
    assert statuses == [200] + [429] * 49


async def test_client_header_separates_clients(
    clock: ManualClock, session: aiohttp.ClientSession
) -> None:
    """With ``client_header``, each header value is its own client with its own budget."""
    policy = RateLimitPolicy(rate=1, burst=1, ban_after=1, client_header="X-Client")
    async with open_site(rate_limit=policy, clock=clock) as site:
        url = site.url("/limited/h")
        for _ in range(3):
            async with session.get(url, headers={"X-Client": "greedy"}) as response:
                await response.read()
        async with session.get(url, headers={"X-Client": "polite"}) as response:
            assert response.status == 200
        clients = site.statistics().clients
    assert clients["greedy"].banned
    assert not clients["polite"].banned
    assert clients["polite"].allowed == 1


async def test_other_paths_are_not_rate_limited(
    strict_site: Site, session: aiohttp.ClientSession
) -> None:
    """Only ``/limited/...`` counts; the rest of the site serves an unbanned client freely."""
    assert set(await _statuses(session, strict_site.url("/page/1"), 20)) == {200}
    assert strict_site.statistics().clients == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"rate": 0}, "rate must be > 0", id="rate"),
        pytest.param({"burst": 0}, "burst must be >= 1", id="burst"),
        pytest.param({"ban_after": 0}, "ban_after must be >= 1", id="ban-after"),
        pytest.param({"ban_window": -1.0}, "ban_window must be > 0", id="ban-window"),
        pytest.param({"ban_seconds": 0.0}, "ban_seconds must be > 0", id="ban-seconds"),
    ],
)
def test_policy_rejects_values_out_of_range(kwargs: dict[str, float], message: str) -> None:
    """A policy value out of range is a ValueError that names the field."""
    with pytest.raises(ValueError, match=message):
        RateLimitPolicy(**kwargs)  # type: ignore[arg-type]
