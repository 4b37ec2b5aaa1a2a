"""robots.txt policies and their cache (corral.http.web._robots), after RFC 9309."""

from __future__ import annotations

import pickle

import pytest

from corral.http.web._robots import (
    DEFAULT_MAX_AGE,
    MAX_ROBOTS_BYTES,
    Rate,
    RobotsCache,
    RobotsPolicy,
    robots_url,
)

UA = "corral/0.1 (+https://example.com/bot)"
ROBOTS = b"""\
User-agent: *
Disallow: /private
Allow: /private/public
Disallow: /*.pdf$
Disallow: /tmp*/cache
Allow: /shop/$
Disallow: /shop/
Crawl-delay: 2.5
Request-rate: 3/10s
Sitemap: https://example.com/sitemap.xml
Sitemap: /relative-sitemap.xml.gz

User-agent: corral
Disallow: /no-corral
Crawl-delay: 1

User-agent: grabby
Disallow: /
"""


def policy(body: bytes = ROBOTS) -> RobotsPolicy:
    return RobotsPolicy.from_response(200, body, url="https://example.com/robots.txt")


@pytest.mark.parametrize(
    ("path", "agent", "allowed"),
    [
        pytest.param("/", "otherbot", True, id="root"),
        pytest.param("/private", "otherbot", False, id="disallow"),
        pytest.param("/private/x", "otherbot", False, id="disallow-prefix"),
        pytest.param("/private/public/x", "otherbot", True, id="longer-allow-wins"),
        pytest.param("/file.pdf", "otherbot", False, id="wildcard-end-anchor"),
        pytest.param("/file.pdf?x=1", "otherbot", True, id="anchor-not-matched"),
        pytest.param("/tmp123/cache/a", "otherbot", False, id="wildcard-middle"),
        pytest.param("/shop/", "otherbot", True, id="allow-exact-beats-disallow"),
        pytest.param("/shop/item", "otherbot", False, id="disallow-below"),
        pytest.param("/private", UA, True, id="own-group-replaces-star"),
        pytest.param("/no-corral", UA, False, id="own-group-rule"),
        pytest.param("/no-corral", "Corral", False, id="agent-case-insensitive"),
        pytest.param("/anything", "grabby/2.0", False, id="disallow-all-group"),
        pytest.param("/robots.txt", "grabby", True, id="robots-txt-always"),
        pytest.param("/dir/robots.txt", "grabby", False, id="nested-robots-txt-not-special"),
    ],
)
def test_can_fetch(path: str, agent: str, allowed: bool) -> None:
    """Disallow/Allow precedence (longest match), wildcards and per-agent groups."""
    assert policy().can_fetch("https://example.com" + path, agent) is allowed


def test_crawl_delay_and_request_rate() -> None:
    """Crawl-delay and Request-rate are read for the agent's group."""
    robots = policy()
    assert robots.crawl_delay("otherbot") == 2.5
    assert robots.crawl_delay(UA) == 1.0
    assert robots.request_rate("otherbot") == Rate(3, 10.0)
    assert robots.request_rate(UA) is None
    assert Rate(3, 10.0).interval == pytest.approx(10 / 3)


@pytest.mark.parametrize(
    ("body", "interval"),
    [
        pytest.param(b"User-agent: *\nCrawl-delay: 2\nRequest-rate: 1/5s\n", 5.0, id="rate-larger"),
        pytest.param(
            b"User-agent: *\nCrawl-delay: 7\nRequest-rate: 1/5s\n", 7.0, id="delay-larger"
        ),
        pytest.param(b"User-agent: *\nRequest-rate: 1/1m\n", 60.0, id="rate-minutes"),
        pytest.param(b"User-agent: *\nDisallow: /x\n", None, id="none"),
        pytest.param(b"User-agent: *\nCrawl-delay: soon\nRequest-rate: 0/5s\n", None, id="junk"),
    ],
)
def test_min_interval(body: bytes, interval: float | None) -> None:
    """``min_interval`` is the larger of Crawl-delay and Request-rate's spacing."""
    assert policy(body).min_interval("bot") == interval


def test_sitemaps_made_absolute() -> None:
    """``Sitemap:`` lines come out absolute and normalised."""
    assert policy().sitemaps == (
        "https://example.com/sitemap.xml",
        "https://example.com/relative-sitemap.xml.gz",
    )


@pytest.mark.parametrize(
    ("status", "verdict", "allowed"),
    [
        pytest.param(200, "parsed", False, id="2xx-parsed"),
        pytest.param(404, "allow_all", True, id="404-allow"),
        pytest.param(401, "allow_all", True, id="401-allow"),
        pytest.param(403, "allow_all", True, id="403-allow"),
        pytest.param(410, "allow_all", True, id="410-allow"),
        pytest.param(429, "disallow_all", False, id="429-disallow"),
        pytest.param(500, "disallow_all", False, id="500-disallow"),
        pytest.param(503, "disallow_all", False, id="503-disallow"),
        pytest.param(None, "disallow_all", False, id="network-error-disallow"),
        pytest.param(301, "allow_all", True, id="redirect-loop-allow"),
    ],
)
def test_status_handling(status: int | None, verdict: str, allowed: bool) -> None:
    """RFC 9309: 4xx allows all, 5xx and no answer disallow all (429 is a 5xx here)."""
    robots = RobotsPolicy.from_response(status, b"User-agent: *\nDisallow: /\n")
    assert robots.verdict == verdict
    assert robots.status == status
    assert robots.can_fetch("https://example.com/page", UA) is allowed
    assert robots.crawl_delay(UA) is None


def test_unreachable_expires_sooner() -> None:
    """A disallow-all policy lasts ``retry_after``; a parsed one the full max age."""
    assert RobotsPolicy.from_response(503, retry_after=30.0).max_age == 30.0
    assert RobotsPolicy.from_response(200, b"").max_age == DEFAULT_MAX_AGE
    assert RobotsPolicy.from_response(404, max_age=60.0).max_age == 60.0


@pytest.mark.parametrize(
    ("body", "allowed"),
    [
        pytest.param(b"", True, id="empty"),
        pytest.param(b"<html><body>Not found</body></html>", True, id="html-soft-404"),
        pytest.param(b"\xef\xbb\xbfUser-agent: *\nDisallow: /x\n", False, id="bom"),
        pytest.param(b"User-agent: *\r\nDisallow: /x\r\n", False, id="crlf"),
        pytest.param(b"\xff\xfe\x00garbage\nUser-agent: *\nDisallow: /x", False, id="bad-bytes"),
        pytest.param(b"user-AGENT: *\ndisallow: /x", False, id="case-of-fields"),
    ],
)
def test_odd_bodies(body: bytes, allowed: bool) -> None:
    """Bodies are read leniently: junk lines are ignored, never raised on."""
    assert policy(body).can_fetch("https://example.com/x", UA) is allowed


def test_oversized_file_truncated_at_500_kib() -> None:
    """Only the first 500 KiB are read, cut at a line end: later rules do not count."""
    filler = b"# " + b"x" * 97 + b"\n"
    early = b"User-agent: *\nDisallow: /early\n"
    late = b"Disallow: /late\n"
    body = early + filler * (MAX_ROBOTS_BYTES // len(filler)) + late
    robots = policy(body)
    assert robots.truncated
    assert not robots.can_fetch("https://example.com/early", UA)
    assert robots.can_fetch("https://example.com/late", UA)
    assert not policy(early + late).truncated


@pytest.mark.parametrize(
    ("url", "robots"),
    [
        pytest.param("http://Example.com/a/b?c#d", "http://example.com/robots.txt", id="http"),
        pytest.param("https://example.com:443/x", "https://example.com/robots.txt", id="https"),
        pytest.param("http://example.com:8080/x", "http://example.com:8080/robots.txt", id="port"),
        pytest.param("http://Bücher.de/", "http://xn--bcher-kva.de/robots.txt", id="idna"),
    ],
)
def test_robots_url(url: str, robots: str) -> None:
    """robots.txt lives at the root of the same scheme, host and port (RFC 9309 2.3)."""
    assert robots_url(url) == robots


class FakeClock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cache_expires_by_policy_age() -> None:
    """Entries read as missing once their policy's max age has passed."""
    clock = FakeClock()
    cache = RobotsCache(clock=clock)
    cache.put("a", RobotsPolicy.from_response(503, retry_after=60.0))
    cache.put("b", RobotsPolicy.from_response(200, b""))
    clock.now = 59.9
    assert cache.get("a") is not None
    clock.now = 60.0
    assert cache.get("a") is None
    assert cache.get("b") is not None
    assert len(cache) == 1


def test_cache_is_bounded_lru() -> None:
    """With more origins than ``maxsize``, the least recently used goes first."""
    cache = RobotsCache(maxsize=3, clock=FakeClock())
    policies = {key: RobotsPolicy.from_response(404) for key in "abcd"}
    for key in "abc":
        cache.put(key, policies[key])
    assert cache.get("a") is policies["a"]  # a is now the most recent
    cache.put("d", policies["d"])
    assert cache.get("b") is None
    assert [cache.get(key) is not None for key in "acd"] == [True, True, True]
    assert len(cache) == 3


def test_cache_memory_stays_flat_with_many_hosts() -> None:
    """Ten thousand hosts through a cache of 100 keep 100 entries."""
    cache = RobotsCache(maxsize=100, clock=FakeClock())
    for n in range(10_000):
        cache.put(f"http://h{n}.example/robots.txt", RobotsPolicy.from_response(404))
    assert len(cache) == 100


def test_cache_rejects_zero_size() -> None:
    """A cache must hold at least one entry."""
    with pytest.raises(ValueError, match="maxsize"):
        RobotsCache(maxsize=0)


def test_policy_pickles() -> None:
    """A parsed policy pickles, so it can be built in a worker and cached on the loop."""
    robots = pickle.loads(pickle.dumps(policy()))
    assert not robots.can_fetch("https://example.com/private", "otherbot")
    assert robots.sitemaps == policy().sitemaps


def test_sitemaps_without_or_with_bad_robots_url() -> None:
    """Without a usable robots.txt URL, only absolute ``Sitemap:`` lines are kept."""
    body = b"Sitemap: https://example.com/a.xml\nSitemap: /relative.xml\nSitemap: ftp://x/\n"
    for url in (None, "not a url"):
        robots = RobotsPolicy.from_response(200, body, url=url)
        assert robots.sitemaps == ("https://example.com/a.xml",)
