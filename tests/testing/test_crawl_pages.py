"""The crawl site: generated pages, depth chain, calendar trap, duplicates, orphans, hosts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import pytest

from corral.testing import Site, SiteLayout, open_site

from ._links import extract

_LAYOUT = SiteLayout(pages=40, chain_length=6, orphans=3)


@pytest.fixture
async def small_site() -> AsyncIterator[Site]:
    """A site with a small generated part, so a test can crawl all of it."""
    async with open_site(layout=_LAYOUT) as site:
        yield site


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url, allow_redirects=False) as response:
        return response.status, await response.text(errors="replace")


async def _crawl(
    session: aiohttp.ClientSession, site: Site, start: str
) -> tuple[dict[str, int], dict[str, int]]:
    """Crawl breadth-first on the site's host, skipping the trap; return statuses and depths."""
    statuses: dict[str, int] = {}
    depths = {site.url(start): 0}
    frontier = [site.url(start)]
    while frontier:
        url = frontier.pop(0)
        status, text = await _get(session, url)
        statuses[url] = status
        if status != 200 or "<html" not in text:
            continue
        for link in extract(text).followable(url):
            if link.startswith(site.base_url) and "/calendar/" not in link and link not in depths:
                depths[link] = depths[url] + 1
                frontier.append(link)
    return statuses, depths


async def test_every_link_of_the_site_resolves(
    small_site: Site, session: aiohttp.ClientSession
) -> None:
    """A crawl from ``/`` (trap aside) meets no broken link and reaches every generated page."""
    statuses, _ = await _crawl(session, small_site, "/")
    assert set(statuses.values()) == {200}
    paths = {urlsplit(url).path for url in statuses}
    assert {f"/site/{i}.html" for i in range(_LAYOUT.pages)} <= paths
    assert {f"/chain/{i}.html" for i in range(_LAYOUT.chain_length)} <= paths
    assert {"/links/based/a.html", "/links/relative.html", "/private/secret.html"} <= paths
    assert not any(path.startswith("/orphan/") for path in paths)  # only the sitemap has them
    assert "/links/nofollowed.html" not in paths


async def test_generated_pages_are_deterministic(
    small_site: Site, session: aiohttp.ClientSession
) -> None:
    """The same page has the same bytes on every request and on every site instance."""
    first = await _get(session, small_site.url("/site/7.html"))
    async with open_site(layout=_LAYOUT) as other:
        second = await _get(session, other.url("/site/7.html"))
    assert first == second
    assert first[0] == 200


async def test_generated_pages_end_at_the_layout_size(
    small_site: Site, session: aiohttp.ClientSession
) -> None:
    """Page numbers at or past ``SiteLayout.pages`` are 404."""
    assert (await _get(session, small_site.url(f"/site/{_LAYOUT.pages - 1}.html")))[0] == 200
    assert (await _get(session, small_site.url(f"/site/{_LAYOUT.pages}.html")))[0] == 404


async def test_feature_pages_link_off_host_and_to_files(
    small_site: Site, session: aiohttp.ClientSession
) -> None:
    """Page 0 links to the other host name and to a PDF and a JSON document."""
    _, text = await _get(session, small_site.url("/site/0.html"))
    links = extract(text).followable(small_site.url("/site/0.html"))
    assert f"{small_site.other_base_url}/site/0.html" in links
    assert small_site.url("/content/report.pdf") in links
    assert small_site.url("/content/data.json") in links


async def test_other_host_is_the_same_server_under_another_name(
    small_site: Site, session: aiohttp.ClientSession
) -> None:
    """The other host serves the same site, and its "other host" links point back."""
    status, text = await _get(session, f"{small_site.other_base_url}/")
    assert status == 200
    assert urlsplit(small_site.other_base_url).hostname == "localhost"
    assert f'href="{small_site.base_url}/"' in text


async def test_chain_depth_is_the_page_number(
    small_site: Site, session: aiohttp.ClientSession
) -> None:
    """From ``/chain/0.html``, page i is at depth i and the chain ends at its length."""
    statuses, depths = await _crawl(session, small_site, "/chain/0.html")
    assert depths == {small_site.url(f"/chain/{i}.html"): i for i in range(_LAYOUT.chain_length)}
    assert set(statuses.values()) == {200}


async def test_calendar_is_an_endless_trap(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """Following "next month" never runs out: every step is a new page (120 steps here)."""
    path = "/calendar/2026/11"
    seen = set()
    for _ in range(120):
        status, text = await _get(session, corral_site.url(path))
        assert status == 200
        seen.add(path)
        hrefs = extract(text).by_text()
        path = hrefs["Next month"]
    assert len(seen) == 120
    assert path == "/calendar/2036/11"


@pytest.mark.parametrize(
    ("page", "after", "before"),
    [
        pytest.param("2026/12", "/calendar/2027/1", "/calendar/2026/11", id="december"),
        pytest.param("2026/1", "/calendar/2026/2", "/calendar/2025/12", id="january"),
        pytest.param("0/1", "/calendar/0/2", None, id="year-zero"),
    ],
)
async def test_calendar_links_next_and_previous_month(
    corral_site: Site, session: aiohttp.ClientSession, page: str, after: str, before: str | None
) -> None:
    """Months roll over years both ways; only year 0 has no previous month."""
    _, text = await _get(session, corral_site.url(f"/calendar/{page}"))
    hrefs = extract(text).by_text()
    assert hrefs.get("Next month") == after
    assert hrefs.get("Previous month") == before


async def test_duplicates_share_content_and_a_canonical(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """Every duplicate URL, query variants included, has one body and names the original."""
    paths = ["/dup/original.html", "/dup/copy.html", "/dup/copy-2.html", "/dup/copy.html?utm=x"]
    bodies = {await _get(session, corral_site.url(path)) for path in paths}
    assert len(bodies) == 1
    status, text = bodies.pop()
    assert status == 200
    assert extract(text).link_rels["canonical"] == corral_site.url("/dup/original.html")
    assert (await _get(session, corral_site.url("/dup/other.html")))[0] == 404


async def test_orphans_exist_up_to_the_layout_count(
    small_site: Site, session: aiohttp.ClientSession
) -> None:
    """``/orphan/{i}.html`` is served for i below ``SiteLayout.orphans``, 404 past it."""
    assert (await _get(session, small_site.url("/orphan/2.html")))[0] == 200
    assert (await _get(session, small_site.url("/orphan/3.html")))[0] == 404


async def test_private_pages_are_served_anyway(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """The server does not enforce robots.txt: a crawler that ignores it can read /private/."""
    status, text = await _get(session, corral_site.url("/private/secret.html"))
    assert status == 200
    assert "Private secret.html" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"pages": 0}, "pages must be >= 1", id="pages"),
        pytest.param({"chain_length": 0}, "chain_length must be >= 1", id="chain"),
        pytest.param({"orphans": -1}, "orphans must be >= 0", id="orphans"),
        pytest.param({"other_host": ""}, "other_host must not be empty", id="other-host"),
    ],
)
def test_layout_rejects_values_out_of_range(kwargs: dict[str, object], message: str) -> None:
    """A layout value out of range is a ValueError that names the field."""
    with pytest.raises(ValueError, match=message):
        SiteLayout(**kwargs)  # type: ignore[arg-type]
