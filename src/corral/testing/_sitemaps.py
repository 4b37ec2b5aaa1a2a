"""Sitemaps: an index, plain sitemaps of the generated pages, and a gzipped one of the orphans.

``/sitemap.xml`` is a sitemap index (the file ``robots.txt`` names). It lists
``/sitemaps/pages-{k}.xml``, plain urlsets of the generated pages (at most 50,000 URLs each, the
protocol's limit), and ``/sitemaps/orphans.xml.gz``, a gzipped urlset of pages no page links
to. The gzipped file is served as ``application/gzip`` without ``Content-Encoding``, as a
``.gz`` sitemap file is on real sites, so the client must gunzip it itself.
"""

from __future__ import annotations

import functools
import gzip

from aiohttp import web

from corral.testing._layout import Origins, SiteLayout
from corral.testing._params import path_int

_PER_SITEMAP = 50_000  # sitemaps.org: at most 50,000 URLs per sitemap file
_XMLNS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_XML = "application/xml"


def _urlset(locations: list[str]) -> bytes:
    entries = "".join(f"  <url><loc>{loc}</loc></url>\n" for loc in locations)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{_XMLNS}">\n{entries}</urlset>\n'
    ).encode()


@functools.lru_cache(maxsize=16)
def _pages_sitemap(base: str, pages: int, part: int) -> bytes:
    first = part * _PER_SITEMAP
    numbers = range(first, min(pages, first + _PER_SITEMAP))
    head = [f"{base}/"] if part == 0 else []
    return _urlset(head + [f"{base}/site/{i}.html" for i in numbers])


@functools.lru_cache(maxsize=16)
def _orphans_sitemap(base: str, orphans: int) -> bytes:
    xml = _urlset([f"{base}/orphan/{i}.html" for i in range(orphans)])
    return gzip.compress(xml, mtime=0)


class Sitemaps:
    """Handlers for the sitemap index and its sitemaps."""

    __slots__ = ("_layout", "_origins", "_parts")

    def __init__(self, layout: SiteLayout, origins: Origins) -> None:
        self._layout = layout
        self._origins = origins
        self._parts = -(-layout.pages // _PER_SITEMAP)

    def routes(self) -> list[web.RouteDef]:
        """Return this module's routes."""
        return [
            web.get("/sitemap.xml", self.index),
            web.get(r"/sitemaps/pages-{k:\d+}.xml", self.pages),
            web.get("/sitemaps/orphans.xml.gz", self.orphans),
        ]

    async def index(self, request: web.Request) -> web.StreamResponse:
        """``/sitemap.xml``: the sitemap index."""
        base = self._origins.own(request)
        names = [f"pages-{k}.xml" for k in range(self._parts)] + ["orphans.xml.gz"]
        entries = "".join(f"  <sitemap><loc>{base}/sitemaps/{n}</loc></sitemap>\n" for n in names)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<sitemapindex xmlns="{_XMLNS}">\n{entries}</sitemapindex>\n'
        )
        return web.Response(body=body.encode(), headers={"Content-Type": _XML})

    async def pages(self, request: web.Request) -> web.StreamResponse:
        """``/sitemaps/pages-{k}.xml``: part k of the generated pages (the home page in part 0)."""
        part = path_int(request, "k")
        if part >= self._parts:
            raise web.HTTPNotFound(text=f"there are {self._parts} page sitemaps\n")
        body = _pages_sitemap(self._origins.own(request), self._layout.pages, part)
        return web.Response(body=body, headers={"Content-Type": _XML})

    async def orphans(self, request: web.Request) -> web.StreamResponse:
        """``/sitemaps/orphans.xml.gz``: the gzipped sitemap of the orphan pages."""
        body = _orphans_sitemap(self._origins.own(request), self._layout.orphans)
        return web.Response(body=body, headers={"Content-Type": "application/gzip"})
