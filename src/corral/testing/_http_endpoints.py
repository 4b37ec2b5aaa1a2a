"""Endpoints for the fetcher's tests (issue 3): statuses, delays, Retry-After, flaky URLs,
a request echo, typed content and many small pages.
"""

from __future__ import annotations

import base64
import email.utils
import json
import time
from http import HTTPStatus

from aiohttp import web

from corral.testing._connections import drop_connection, reset_connection
from corral.testing._params import bad_request, path_int, query_choice, query_int
from corral.testing._shutdown import ShutdownSignal

_HTML = "text/html; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
_NO_BODY = frozenset({204, 304})
_PAGE = (
    '<!doctype html>\n<html><head><meta charset="utf-8"><title>Page {i}</title></head>\n'
    "<body><h1>Page {i}</h1><p>Page {i} of the corral test site.</p></body></html>\n"
)
# A PDF-ish binary: the magic, a NUL and high bytes (so it is not text), and the trailer.
_PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n\x00\xff\xfe\n%%EOF\n"
# The smallest valid PNG: one transparent pixel.
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
_CONTENT: dict[str, tuple[str, bytes]] = {
    "page.html": (_HTML, b"<!doctype html><title>A page</title><p>Some <b>HTML</b>.</p>\n"),
    "data.json": ("application/json", b'{"items": [1, 2, 3], "name": "corral"}\n'),
    "notes.txt": (_TEXT, b"Plain text notes.\n"),
    "feed.xml": ("application/xml", b'<?xml version="1.0"?><feed><title>Feed</title></feed>\n'),
    "table.csv": ("text/csv; charset=utf-8", b"id,name\n1,alpha\n2,beta\n"),
    "report.pdf": ("application/pdf", _PDF),
    "image.png": ("image/png", _PNG),
    "blob.bin": ("application/octet-stream", bytes(range(256))),
}
_FAILURES = ("drop", "reset")


def _plain(text: str, status: int = 200) -> web.Response:
    return web.Response(status=status, body=text.encode(), headers={"Content-Type": _TEXT})


class HttpEndpoints:
    """The fetch endpoints, with the per-key attempt counters of the flaky ones."""

    __slots__ = ("_shutdown", "flaky_attempts")

    def __init__(self, shutdown: ShutdownSignal) -> None:
        self._shutdown = shutdown
        self.flaky_attempts: dict[str, int] = {}

    def routes(self) -> list[web.RouteDef]:
        """Return this module's routes."""
        return [
            web.get(r"/page/{i:\d+}", self.page),
            web.route("*", r"/status/{code:\d+}", self.status),
            web.route("*", r"/delay/{ms:\d+}", self.delay),
            web.get(r"/retry-after/{seconds:\d+}", self.retry_after),
            web.route("*", r"/flaky/{n:\d+}/{key}", self.flaky),
            web.route("*", "/echo", self.echo),
            web.route("*", "/echo/{tail:.*}", self.echo),
            web.get("/content", self.content_type),
            web.get("/content/{name}", self.content),
        ]

    async def page(self, request: web.Request) -> web.StreamResponse:
        """``/page/{i}``: a small deterministic HTML page, for bulk runs."""
        body = _PAGE.format(i=request.match_info["i"]).encode()
        return web.Response(body=body, headers={"Content-Type": _HTML})

    async def status(self, request: web.Request) -> web.StreamResponse:
        """``/status/{code}``: answer with that status (200 to 599), any method."""
        code = path_int(request, "code", low=200, high=599)
        if code in _NO_BODY:
            return web.Response(status=code)
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Unassigned"
        return _plain(f"{code} {phrase}\n", status=code)

    async def delay(self, request: web.Request) -> web.StreamResponse:
        """``/delay/{ms}``: wait that many milliseconds, then answer 200 (any method)."""
        ms = path_int(request, "ms", high=86_400_000)  # a day at most
        if not await self._shutdown.pause(ms / 1000):
            return drop_connection(request)
        return _plain(f"delayed {ms} ms\n")

    async def retry_after(self, request: web.Request) -> web.StreamResponse:
        """``/retry-after/{seconds}``: 429 (``?status=503``) with ``Retry-After``.

        ``?form=date`` sends an HTTP-date (wall clock now plus the seconds) instead of seconds.
        """
        seconds = path_int(request, "seconds", high=10**9)  # an HTTP-date stays in range
        status = query_int(request, "status", 429, low=300, high=599)
        if query_choice(request, "form", "seconds", ("seconds", "date")) == "date":
            value = email.utils.formatdate(time.time() + seconds, usegmt=True)
        else:
            value = str(seconds)
        response = _plain(f"retry after {value}\n", status=status)
        response.headers["Retry-After"] = value
        return response

    async def flaky(self, request: web.Request) -> web.StreamResponse:
        """``/flaky/{n}/{key}``: fail the first n requests for this n and key, then succeed.

        ``?fail=`` is a status code (default 503), ``drop`` or ``reset``; ``?retry_after=s``
        adds ``Retry-After`` to failing statuses.
        """
        n = path_int(request, "n")
        counter = f"{n}/{request.match_info['key']}"
        attempt = self.flaky_attempts.get(counter, 0) + 1
        self.flaky_attempts[counter] = attempt
        if attempt > n:
            return _plain(f"succeeded on attempt {attempt}\n")
        fail = request.query.get("fail", "503")
        if fail == "drop":
            return drop_connection(request)
        if fail == "reset":
            return reset_connection(request)
        if not fail.isdigit() or not 400 <= int(fail) <= 599:
            raise bad_request(f"fail={fail!r} is not drop, reset or a status in [400, 599]")
        response = _plain(f"failed attempt {attempt} of {n}\n", status=int(fail))
        if "retry_after" in request.query:
            retry_after = query_int(request, "retry_after", 0, low=0, high=86400)
            response.headers["Retry-After"] = str(retry_after)
        return response

    async def echo(self, request: web.Request) -> web.StreamResponse:
        """``/echo``: answer with the request itself as JSON (method, headers, body, ...)."""
        body = await request.read()
        try:
            parsed: object = json.loads(body) if body else None
        except ValueError:
            parsed = None
        peer = request.transport.get_extra_info("peername") if request.transport else None
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return web.json_response(
            {
                "method": request.method,
                "url": str(request.url),
                "path": request.path,
                "query": {key: request.query.getall(key) for key in request.query},
                "headers": headers,
                "body": body.decode("utf-8", "replace"),
                "body_base64": base64.b64encode(body).decode("ascii"),
                "json": parsed,
                "peer": f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else None,
            }
        )

    async def content(self, request: web.Request) -> web.StreamResponse:
        """``/content/{name}``: a small fixed document whose type follows the name."""
        name = request.match_info["name"]
        found = _CONTENT.get(name)
        if found is None:
            choices = ", ".join(_CONTENT)
            raise web.HTTPNotFound(text=f"no content named {name!r}; try one of {choices}\n")
        content_type, body = found
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def content_type(self, request: web.Request) -> web.StreamResponse:
        """``/content?type=...``: a short body served with exactly that ``Content-Type``."""
        content_type = request.query.get("type", "text/plain")
        if not content_type.isprintable():
            raise bad_request("type must be printable (no control characters)")
        body = f"a document served as {content_type}\n".encode()
        return web.Response(body=body, headers={"Content-Type": content_type})
