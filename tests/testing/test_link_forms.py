"""The ``/links/`` pages: base href, link rel, nofollow, and every form of href."""

from __future__ import annotations

import aiohttp

from corral.testing import Site

from ._links import Links, extract


async def _links(session: aiohttp.ClientSession, url: str) -> Links:
    async with session.get(url) as response:
        assert response.status == 200
        return extract(await response.text())


async def test_forms_page_resolves_to_known_urls(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """Every href form on ``/links/forms.html`` resolves to the URL the docs list."""
    page = corral_site.url("/links/forms.html")
    links = await _links(session, page)
    base, other = corral_site.base_url, corral_site.other_base_url
    assert links.followable(page) == [
        f"{base}/links/relative.html",
        f"{base}/links/dot.html",
        f"{base}/site/1.html",
        f"{base}/site/2.html",
        f"{base}/site/3.html",
        f"{other}/site/4.html",
        f"{other}/site/5.html",
        page,  # "#section": the page itself once the fragment is dropped
        f"{base}/site/6.html",
        f"{page}?page=2",
        f"{base}/site/7.html",
        f"{base}/site/8.html?a=1&b=2",
        page,  # the empty href
    ]
    schemes = {a.href.split(":")[0] for a in links.anchors if ":" in a.href and "//" not in a.href}
    assert schemes == {"mailto", "javascript", "tel", "data"}


async def test_base_href_changes_where_relative_links_point(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``/links/base.html`` has ``<base href="/links/based/">``: ``a.html`` is based/a.html."""
    page = corral_site.url("/links/base.html")
    links = await _links(session, page)
    assert links.base == "/links/based/"
    resolved = links.followable(page)
    assert resolved == [corral_site.url("/links/based/a.html"), corral_site.url("/links/dot.html")]
    async with session.get(resolved[0]) as response:
        assert response.status == 200


async def test_link_rel_canonical_next_and_prev(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``rel.html`` names its canonical URL and its next page; page 2 points back."""
    first = await _links(session, corral_site.url("/links/rel.html"))
    assert first.link_rels == {
        "canonical": corral_site.url("/links/rel.html"),
        "next": "/links/rel-2.html",
        "stylesheet": "/content/notes.txt",
    }
    second = await _links(session, corral_site.url("/links/rel-2.html"))
    assert second.link_rels == {"prev": "/links/rel.html"}


async def test_nofollow_marks_two_of_three_links(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``nofollow.html`` has one plain link and two with nofollow among their rel values."""
    page = corral_site.url("/links/nofollow.html")
    links = await _links(session, page)
    assert [(a.href, a.rel) for a in links.anchors] == [
        ("/links/followed.html", ""),
        ("/links/nofollowed.html", "nofollow"),
        ("/links/nofollowed-2.html", "external nofollow"),
    ]
    assert links.followable(page) == [corral_site.url("/links/followed.html")]
    for anchor in links.anchors:  # the targets exist, so only the rel keeps a crawler away
        async with session.get(corral_site.url(anchor.href)) as response:
            assert response.status == 200


async def test_unknown_link_target_is_404(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """Only the listed link targets exist under ``/links/``."""
    async with session.get(corral_site.url("/links/missing.html")) as response:
        assert response.status == 404
