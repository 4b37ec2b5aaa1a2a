"""Pages that exercise link extraction: ``<base href>``, ``link[rel]``, ``rel=nofollow``, and
every form an ``href`` takes (relative, root-relative, absolute, other host, fragments, ...).

``docs/testing.md`` lists what each link on these pages resolves to.
"""

from __future__ import annotations

from aiohttp import web

from corral.testing._html import document, html_response, links
from corral.testing._layout import Origins

# Pages that exist only as link targets of the pages below.
_TARGETS = frozenset(
    {"relative.html", "dot.html", "followed.html", "nofollowed.html", "nofollowed-2.html"}
)


class LinkForms:
    """Handlers for the ``/links/`` pages."""

    __slots__ = ("_origins",)

    def __init__(self, origins: Origins) -> None:
        self._origins = origins

    def routes(self) -> list[web.RouteDef]:
        """Return this module's routes."""
        return [
            web.get("/links/", self.index),
            web.get("/links/base.html", self.base),
            web.get("/links/based/{name}", self.based),
            web.get("/links/rel.html", self.rel),
            web.get("/links/rel-2.html", self.rel_2),
            web.get("/links/nofollow.html", self.nofollow),
            web.get("/links/forms.html", self.forms),
            web.get("/links/{name}", self.target),
        ]

    async def index(self, request: web.Request) -> web.StreamResponse:
        """``/links/``: the list of link-form pages."""
        hrefs = [
            ("base.html", "A base href"),
            ("rel.html", "link rel canonical and next"),
            ("nofollow.html", "rel=nofollow"),
            ("forms.html", "Every form of href"),
        ]
        return html_response(document("Link forms", links(hrefs)))

    async def base(self, request: web.Request) -> web.StreamResponse:
        """``/links/base.html``: ``<base href="/links/based/">``, so ``a.html`` is based/a.html."""
        head = '<base href="/links/based/">\n'
        hrefs = [("a.html", "A (resolves under /links/based/)"), ("../dot.html", "Dot")]
        return html_response(document("Base href", links(hrefs), head=head))

    async def based(self, request: web.Request) -> web.StreamResponse:
        """``/links/based/{name}``: any page under the base href of ``base.html``."""
        name = request.match_info["name"]
        return html_response(document(f"Based {name}", "<p>Reached through base href.</p>\n"))

    async def rel(self, request: web.Request) -> web.StreamResponse:
        """``/links/rel.html``: ``<link rel>`` canonical (itself), next, and a stylesheet."""
        own = self._origins.own(request)
        head = (
            f'<link rel="canonical" href="{own}/links/rel.html">\n'
            '<link rel="next" href="/links/rel-2.html">\n'
            '<link rel="stylesheet" href="/content/notes.txt">\n'
        )
        return html_response(document("Link rel, page 1", "<p>Page 1 of 2.</p>\n", head=head))

    async def rel_2(self, request: web.Request) -> web.StreamResponse:
        """``/links/rel-2.html``: page 2 of the ``rel=next`` series, with ``rel=prev``."""
        head = '<link rel="prev" href="/links/rel.html">\n'
        return html_response(document("Link rel, page 2", "<p>Page 2 of 2.</p>\n", head=head))

    async def nofollow(self, request: web.Request) -> web.StreamResponse:
        """``/links/nofollow.html``: one followable link and two marked ``rel=nofollow``."""
        body = (
            '<p><a href="/links/followed.html">Follow me</a></p>\n'
            '<p><a rel="nofollow" href="/links/nofollowed.html">Do not follow</a></p>\n'
            '<p><a rel="external nofollow" href="/links/nofollowed-2.html">Nor me</a></p>\n'
        )
        return html_response(document("Nofollow", body))

    async def forms(self, request: web.Request) -> web.StreamResponse:
        """``/links/forms.html``: one anchor per form of ``href``."""
        own = self._origins.own(request)
        other = self._origins.other(request)
        hrefs = [
            ("relative.html", "relative"),
            ("./dot.html", "dot-relative"),
            ("../site/1.html", "parent-relative"),
            ("/site/2.html", "root-relative"),
            (f"{own}/site/3.html", "absolute, same host"),
            (f"{other}/site/4.html", "absolute, other host"),
            (f"//{other.partition('://')[2]}/site/5.html", "scheme-relative, other host"),
            ("#section", "fragment only"),
            ("/site/6.html#part", "with a fragment"),
            ("?page=2", "query only"),
            ("  /site/7.html  ", "padded with spaces"),
            ("/site/8.html?a=1&amp;b=2", "with an entity"),
            ("", "empty"),
            ("mailto:someone@example.invalid", "mailto"),
            ("javascript:void(0)", "javascript"),
            ("tel:+10000000000", "tel"),
            ("data:text/plain,hello", "data"),
        ]
        body = links(hrefs) + '<p id="section"><a name="anchor-without-href">no href</a></p>\n'
        return html_response(document("Link forms", body))

    async def target(self, request: web.Request) -> web.StreamResponse:
        """``/links/{name}``: a plain page that other link pages point to."""
        name = request.match_info["name"]
        if name not in _TARGETS:
            raise web.HTTPNotFound(text=f"no link target {name!r}\n")
        return html_response(document(f"Target {name}", "<p>A link target.</p>\n"))
