"""robots.txt and the sitemaps: the rules a crawler must obey and the URLs it can discover."""

from __future__ import annotations

import gzip
import urllib.robotparser
import xml.etree.ElementTree as ET

import aiohttp
import pytest

from corral.testing import RobotsPolicy, Site, SiteLayout, open_site

_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


async def _robots(session: aiohttp.ClientSession, site: Site) -> urllib.robotparser.RobotFileParser:
    async with session.get(site.url("/robots.txt")) as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    parser = urllib.robotparser.RobotFileParser()
    parser.parse(text.splitlines())
    return parser


def _locations(xml: bytes, tag: str) -> list[str]:
    return [loc.text or "" for loc in ET.fromstring(xml).findall(f"sm:{tag}/sm:loc", _NS)]


async def test_default_robots_disallows_private_but_one_page(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """By default /private/ is disallowed except /private/public.html; the rest is open."""
    robots = await _robots(session, corral_site)
    assert not robots.can_fetch("corral", corral_site.url("/private/secret.html"))
    assert robots.can_fetch("corral", corral_site.url("/private/public.html"))
    assert robots.can_fetch("corral", corral_site.url("/site/0.html"))
    assert not robots.can_fetch("corral-test-blocked", corral_site.url("/site/0.html"))
    assert robots.crawl_delay("corral") is None
    assert robots.site_maps() == [corral_site.url("/sitemap.xml")]


@pytest.mark.parametrize(
    ("delay", "line"),
    [
        pytest.param(2.0, "Crawl-delay: 2", id="whole"),
        pytest.param(0.5, "Crawl-delay: 0.5", id="fraction"),
    ],
)
async def test_robots_carries_crawl_delay_and_request_rate(
    session: aiohttp.ClientSession, delay: float, line: str
) -> None:
    """``RobotsPolicy`` fields become the agent's group with Crawl-delay and Request-rate."""
    policy = RobotsPolicy(
        user_agent="corral", disallow=("/site/",), allow=(), crawl_delay=delay, request_rate="1/5"
    )
    async with open_site(robots=policy) as site:
        async with session.get(site.url("/robots.txt")) as response:
            text = await response.text()
        robots = await _robots(session, site)
    assert f"User-agent: corral\nDisallow: /site/\n{line}\nRequest-rate: 1/5\n" in text
    if delay == 2.0:  # urllib.robotparser reads whole seconds only
        assert str(robots.crawl_delay("corral")) == "2"
    rate = robots.request_rate("corral")
    assert rate is not None
    assert (rate.requests, rate.seconds) == (1, 5)
    assert not robots.can_fetch("corral", site.url("/site/1.html"))
    assert robots.can_fetch("someone-else", site.url("/site/1.html"))


async def test_robots_text_is_served_verbatim(session: aiohttp.ClientSession) -> None:
    """``RobotsPolicy(text=...)`` is served as is, with ``{base_url}`` filled in."""
    text = "User-agent: *\nDisallow: /\nSitemap: {base_url}/other.xml\n"
    async with (
        open_site(robots=RobotsPolicy(text=text)) as site,
        session.get(site.url("/robots.txt")) as response,
    ):
        served = await response.text()
    assert served == f"User-agent: *\nDisallow: /\nSitemap: {site.base_url}/other.xml\n"


@pytest.mark.parametrize(
    "status",
    [pytest.param(404, id="missing"), pytest.param(503, id="unavailable")],
)
async def test_robots_status(session: aiohttp.ClientSession, status: int) -> None:
    """``RobotsPolicy(status=...)`` makes robots.txt missing (4xx) or unreachable (5xx)."""
    async with (
        open_site(robots=RobotsPolicy(status=status)) as site,
        session.get(site.url("/robots.txt")) as response,
    ):
        assert response.status == status


async def test_sitemap_index_leads_to_every_page_and_the_orphans(
    session: aiohttp.ClientSession,
) -> None:
    """The index lists plain page sitemaps and a gzipped one; together they list every page."""
    layout = SiteLayout(pages=120, orphans=4)
    async with open_site(layout=layout) as site:
        async with session.get(site.url("/sitemap.xml")) as response:
            assert response.content_type == "application/xml"
            sitemaps = _locations(await response.read(), "sitemap")
        assert sitemaps == [
            site.url("/sitemaps/pages-0.xml"),
            site.url("/sitemaps/orphans.xml.gz"),
        ]
        async with session.get(sitemaps[0]) as response:
            pages = _locations(await response.read(), "url")
        async with session.get(sitemaps[1]) as response:
            assert response.content_type == "application/gzip"
            assert "Content-Encoding" not in response.headers
            orphans = _locations(gzip.decompress(await response.read()), "url")
    assert pages == [site.url("/")] + [site.url(f"/site/{i}.html") for i in range(120)]
    assert orphans == [site.url(f"/orphan/{i}.html") for i in range(4)]


async def test_large_sites_split_their_sitemaps(session: aiohttp.ClientSession) -> None:
    """Past 50,000 URLs (the protocol's limit) the pages are split over several sitemaps."""
    async with open_site(layout=SiteLayout(pages=50_001)) as site:
        async with session.get(site.url("/sitemap.xml")) as response:
            sitemaps = _locations(await response.read(), "sitemap")
        assert len(sitemaps) == 3  # two page sitemaps and the orphans
        async with session.get(sitemaps[1]) as response:
            assert _locations(await response.read(), "url") == [site.url("/site/50000.html")]
        async with session.get(site.url("/sitemaps/pages-2.xml")) as response:
            assert response.status == 404


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"status": 99}, "status must be in", id="status"),
        pytest.param({"crawl_delay": -1.0}, "crawl_delay must be >= 0", id="crawl-delay"),
    ],
)
def test_robots_policy_rejects_values_out_of_range(kwargs: dict[str, object], message: str) -> None:
    """A robots value out of range is a ValueError that names the field."""
    with pytest.raises(ValueError, match=message):
        RobotsPolicy(**kwargs)  # type: ignore[arg-type]
