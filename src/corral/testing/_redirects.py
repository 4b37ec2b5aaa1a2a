"""Redirect endpoints: chains of any length and status, loops, and a redirect to a given URL."""

from __future__ import annotations

import ipaddress

from aiohttp import web
from yarl import URL

from corral.testing._params import bad_request, path_int, query_choice

_STATUSES = ("301", "302", "303", "307", "308")
_LOCATIONS = ("root", "relative", "absolute")


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(
        status=status,
        text=f"redirecting to {location}\n",
        headers={"Location": location},
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def redirect_chain(request: web.Request) -> web.StreamResponse:
    """``/redirect/{n}``: redirect n times, then answer 200 at ``/redirect/0``.

    ``?status=`` is 301, 302 (default), 303, 307 or 308. ``?location=`` is ``root``
    (``/redirect/2``, the default), ``relative`` (``2``) or ``absolute`` (with scheme and host);
    the query string is carried along so every hop behaves alike.
    """
    n = path_int(request, "n")
    status = int(query_choice(request, "status", "302", _STATUSES))
    form = query_choice(request, "location", "root", _LOCATIONS)
    if n == 0:
        return web.Response(text="redirect chain ended\n")
    query = f"?{request.query_string}" if request.query_string else ""
    if form == "relative":
        return _redirect(status, f"{n - 1}{query}")
    location = f"/redirect/{n - 1}{query}"
    if form == "absolute":
        location = f"{request.url.origin()}{location}"
    return _redirect(status, location)


async def redirect_loop(request: web.Request) -> web.StreamResponse:
    """``/redirect-loop/{n}[/{i}]``: redirect around a cycle of n URLs forever (302)."""
    n = path_int(request, "n", low=1, high=1000)
    step = request.match_info.get("i")
    i = 0 if step is None else int(step) % n
    return _redirect(302, f"/redirect-loop/{n}/{(i + 1) % n}")


async def redirect_to(request: web.Request) -> web.StreamResponse:
    """``/redirect-to?url=...``: redirect (``?status=``, default 302) to a URL on this machine.

    Raises:
        web.HTTPBadRequest: ``url`` is missing, or points off this machine (a test site never
            sends a client elsewhere).
    """
    target = request.query.get("url")
    if not target:
        raise bad_request("url is required")
    status = int(query_choice(request, "status", "302", _STATUSES))
    try:
        url = URL(target)
    except ValueError:
        raise bad_request(f"url={target!r} is not a URL") from None
    if url.is_absolute() and not (url.scheme in ("http", "https") and _is_loopback(url.host or "")):
        raise bad_request(f"url={target!r} is not on this machine (use localhost or 127.x.x.x)")
    return _redirect(status, target)


def routes() -> list[web.RouteDef]:
    """Return the redirect routes."""
    return [
        web.route("*", r"/redirect/{n:\d+}", redirect_chain),
        web.get(r"/redirect-loop/{n:\d+}", redirect_loop),
        web.get(r"/redirect-loop/{n:\d+}/{i:\d+}", redirect_loop),
        web.route("*", "/redirect-to", redirect_to),
    ]
