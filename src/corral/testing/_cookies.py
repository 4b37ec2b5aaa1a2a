"""A cookie-gated area for the fetcher's cookie tests (issue 17).

``/cookie/start`` sets ``session=<token>`` and links to the area's pages; ``/cookie/page/{i}``
answers 200 to a request that sends the cookie back and 401 to one without it. A crawl from
``/cookie/start`` with cookies kept fetches every page; without cookies, each page is a 401.
"""

from __future__ import annotations

from aiohttp import web

TOKEN = "corral-test-session"  # the one value /cookie/start sets
PAGES = 5  # pages /cookie/start links to
_HTML = "text/html; charset=utf-8"


def routes() -> list[web.RouteDef]:
    """Return the area's routes."""
    return [web.get("/cookie/start", _start), web.get(r"/cookie/page/{i:\d+}", _page)]


async def _start(request: web.Request) -> web.StreamResponse:
    """``/cookie/start``: set the session cookie; link to ``/cookie/page/1`` .. ``/5``."""
    links = "".join(f'<a href="/cookie/page/{i}">page {i}</a>\n' for i in range(1, PAGES + 1))
    response = web.Response(body=f"<!doctype html>\n{links}".encode(), content_type="text/html")
    response.set_cookie("session", TOKEN, path="/cookie", max_age=3600, httponly=True)
    return response


async def _page(request: web.Request) -> web.StreamResponse:
    """``/cookie/page/{i}``: 200 with the session cookie, 401 without it."""
    if request.cookies.get("session") != TOKEN:
        return web.Response(status=401, text="no session cookie: fetch /cookie/start first\n")
    body = f"<!doctype html><title>Member page {request.match_info['i']}</title>\n"
    return web.Response(body=body.encode(), headers={"Content-Type": _HTML})
