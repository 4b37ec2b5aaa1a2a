"""The crawl site (issue 4): an index, interlinked generated pages, a depth chain, duplicates
with a canonical, a robots-disallowed area, sitemap-only orphans, an endless calendar trap
and a self-appending relative link (``/repeat/``).

Every page is a pure function of its URL and the :class:`SiteLayout`, so a crawl of the same
site always meets the same graph. Links are root-relative except those that leave the host.
"""

from __future__ import annotations

from aiohttp import web

from corral.testing._html import document, html_response, links
from corral.testing._layout import Origins, SiteLayout
from corral.testing._params import path_int

_DUPLICATES = ("original.html", "copy.html", "copy-2.html")
_DUPLICATE_BODY = "<p>The same text under several URLs; the canonical one is original.html.</p>\n"
# Generated pages whose number is a multiple of this also link off-host and to non-HTML files.
_FEATURE_EVERY = 100


class CrawlPages:
    """Handlers for the generated, deterministic crawl site."""

    __slots__ = ("_layout", "_origins")

    def __init__(self, layout: SiteLayout, origins: Origins) -> None:
        self._layout = layout
        self._origins = origins

    def routes(self) -> list[web.RouteDef]:
        """Return this module's routes."""
        return [
            web.get("/", self.index),
            web.get(r"/site/{i:\d+}.html", self.site_page),
            web.get(r"/chain/{i:\d+}.html", self.chain_page),
            web.get(r"/calendar/{year:\d+}/{month:\d+}", self.calendar),
            web.get("/repeat/{tail:.*}", self.repeat),
            web.get("/dup/{name}", self.duplicate),
            web.get("/private/{name}", self.private),
            web.get(r"/orphan/{i:\d+}.html", self.orphan),
        ]

    async def index(self, request: web.Request) -> web.StreamResponse:
        """``/``: the home page, linking to every part of the crawl site."""
        other = self._origins.other(request)
        body = links(
            [
                ("/site/0.html", "Generated site"),
                ("/chain/0.html", "Depth chain"),
                ("/links/", "Link forms"),
                ("/dup/original.html", "Original"),
                ("/dup/copy.html", "A copy"),
                ("/dup/original.html?utm_source=index", "The original, with tracking"),
                ("/calendar/2026/11", "Calendar"),
                ("/private/secret.html", "Private"),
                ("/private/public.html", "Private but allowed"),
                ("/content/report.pdf", "A PDF"),
                ("/content/data.json", "Some JSON"),
                (f"{other}/", "This site under another host name"),
            ]
        )
        return html_response(document("corral test site", body))

    async def site_page(self, request: web.Request) -> web.StreamResponse:
        """``/site/{i}.html``: a generated page linking to its children, parent and one more."""
        pages = self._layout.pages
        i = path_int(request, "i")
        if i >= pages:
            raise web.HTTPNotFound(text=f"the site has {pages} pages: 0 to {pages - 1}\n")
        # A binary tree (children 2i+1, 2i+2) makes every page reachable from page 0; the
        # cross link (a fragment on it, to be dropped) makes the graph more than a tree.
        hrefs = [(f"/site/{c}.html", f"Page {c}") for c in (2 * i + 1, 2 * i + 2) if c < pages]
        hrefs.append((f"/site/{(i * 31 + 7) % pages}.html#top", "Elsewhere"))
        if i:
            hrefs.append((f"/site/{(i - 1) // 2}.html", "Up"))
        hrefs.append(("/", "Home"))
        if i % _FEATURE_EVERY == 0:
            other = self._origins.other(request)
            hrefs.append((f"{other}/site/{i}.html", "This page on another host"))
            hrefs.append(("/content/report.pdf", "Report (PDF)"))
            hrefs.append(("/content/data.json", "Data (JSON)"))
        return html_response(document(f"Site page {i}", links(hrefs)))

    async def chain_page(self, request: web.Request) -> web.StreamResponse:
        """``/chain/{i}.html``: page i of the depth chain, linking only to page i+1."""
        length = self._layout.chain_length
        i = path_int(request, "i")
        if i >= length:
            raise web.HTTPNotFound(text=f"the chain has {length} pages: 0 to {length - 1}\n")
        nxt = [(f"/chain/{i + 1}.html", "Deeper")] if i + 1 < length else []
        return html_response(document(f"Chain page {i}", links(nxt)))

    async def calendar(self, request: web.Request) -> web.StreamResponse:
        """``/calendar/{year}/{month}``: a crawler trap, linking to the next and previous month."""
        year = path_int(request, "year")
        month = path_int(request, "month", low=1, high=12)
        after = (year + month // 12, month % 12 + 1)
        before = (year - (month == 1), (month - 2) % 12 + 1)
        hrefs = [(f"/calendar/{after[0]}/{after[1]}", "Next month")]
        if before[0] >= 0:
            hrefs.append((f"/calendar/{before[0]}/{before[1]}", "Previous month"))
        return html_response(document(f"Calendar {year}-{month:02d}", links(hrefs)))

    async def repeat(self, request: web.Request) -> web.StreamResponse:
        """``/repeat/...``: a trap of a catch-all path whose relative link appends itself.

        Every path under ``/repeat/`` answers with a link to ``again/`` below itself, so
        ``/repeat/`` leads to ``/repeat/again/``, ``/repeat/again/again/``, ... forever.
        """
        return html_response(document("Again", links([("again/", "Once more")])))

    async def duplicate(self, request: web.Request) -> web.StreamResponse:
        """``/dup/{name}``: the same content under several URLs, with a canonical link."""
        if request.match_info["name"] not in _DUPLICATES:
            raise web.HTTPNotFound(text=f"duplicates are {', '.join(_DUPLICATES)}\n")
        canonical = f"{self._origins.own(request)}/dup/original.html"
        head = f'<link rel="canonical" href="{canonical}">\n'
        return html_response(document("Duplicated page", _DUPLICATE_BODY, head=head))

    async def private(self, request: web.Request) -> web.StreamResponse:
        """``/private/{name}``: pages robots.txt disallows (except ``public.html``)."""
        name = request.match_info["name"]
        return html_response(document(f"Private {name}", "<p>Robots may not read this.</p>\n"))

    async def orphan(self, request: web.Request) -> web.StreamResponse:
        """``/orphan/{i}.html``: a page only the sitemap lists."""
        i = path_int(request, "i")
        if i >= self._layout.orphans:
            raise web.HTTPNotFound(text=f"there are {self._layout.orphans} orphan pages\n")
        return html_response(document(f"Orphan {i}", "<p>Only the sitemap knows me.</p>\n"))
