"""Bodies that test a client's reading: large, slow, stalled, truncated, and a gzip bomb.

Every body is streamed, so the site's memory does not grow with the sizes asked for. A handler
whose client goes away stops writing and returns quietly (aiohttp sees the closed transport and
logs nothing), and a handler that waits on purpose ends as soon as the site starts to close.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from corral.testing._connections import close_connection
from corral.testing._gzip_bomb import gzip_bomb_chunks, gzip_bomb_length
from corral.testing._params import path_int, query_int
from corral.testing._shutdown import ShutdownSignal

# 64 KiB of a repeating 0..255 pattern: deterministic, not all zeros, cheap to write.
_BLOCK = bytes(range(256)) * 256
_BINARY = "application/octet-stream"
_DEFAULT_BOMB = 1 << 30  # inflates to 1 GiB; about 1 MiB on the wire
_MAX_SIZE = 1 << 40


async def _start(request: web.Request, response: web.StreamResponse) -> bool:
    """Send the headers; return whether a body should follow.

    aiohttp does not drop what a handler writes after the headers of a HEAD response, so the
    handlers here must not write for HEAD: the bytes would be read as the next response.
    """
    await response.prepare(request)
    return request.method != "HEAD"


async def _stream(
    request: web.Request, response: web.StreamResponse, chunks: Iterable[bytes]
) -> web.StreamResponse:
    """Send headers, then the chunks; stop quietly if the client disconnects."""
    try:
        if await _start(request, response):
            for chunk in chunks:
                await response.write(chunk)
    except ConnectionError:
        pass  # the client left; aiohttp ends the connection without logging
    return response


def _pattern(size: int) -> Iterable[bytes]:
    full, rest = divmod(size, len(_BLOCK))
    for _ in range(full):
        yield _BLOCK
    if rest:
        yield _BLOCK[:rest]


class BodyEndpoints:
    """Endpoints whose bodies are large, slow, stalled, cut short or compressed hard."""

    __slots__ = ("_shutdown",)

    def __init__(self, shutdown: ShutdownSignal) -> None:
        self._shutdown = shutdown

    def routes(self) -> list[web.RouteDef]:
        """Return this module's routes."""
        return [
            web.get(r"/bytes/{n:\d+}", self.sized),
            web.get(r"/trickle/{n:\d+}", self.trickle),
            web.get("/stall", self.stall),
            web.get(r"/truncated/{n:\d+}", self.truncated),
            web.get("/gzip-bomb", self.gzip_bomb),
            web.get(r"/gzip-bomb/{n:\d+}", self.gzip_bomb),
        ]

    async def sized(self, request: web.Request) -> web.StreamResponse:
        """``/bytes/{n}``: n bytes, streamed; ``?chunked=1`` omits ``Content-Length``."""
        size = path_int(request, "n", high=_MAX_SIZE)
        response = web.StreamResponse(headers={"Content-Type": _BINARY})
        if query_int(request, "chunked", 0, low=0, high=1):
            response.enable_chunked_encoding()
        else:
            response.content_length = size
        return await _stream(request, response, _pattern(size))

    async def trickle(self, request: web.Request) -> web.StreamResponse:
        """``/trickle/{n}``: n bytes, ``?chunk=`` bytes (1) every ``?interval_ms=`` (100)."""
        size = path_int(request, "n", high=_MAX_SIZE)
        chunk = query_int(request, "chunk", 1, low=1, high=len(_BLOCK))
        interval = query_int(request, "interval_ms", 100, low=0, high=3_600_000) / 1000
        response = web.StreamResponse(headers={"Content-Type": _BINARY})
        response.content_length = size
        try:
            sent = 0 if await _start(request, response) else size
            while sent < size:
                if sent and not await self._shutdown.pause(interval):
                    close_connection(request)
                    break
                piece = min(chunk, size - sent)
                await response.write(_BLOCK[:piece])
                sent += piece
        except ConnectionError:
            pass
        return response

    async def stall(self, request: web.Request) -> web.StreamResponse:
        """``/stall``: headers and ``?after=`` bytes (0), then nothing until the client leaves."""
        after = query_int(request, "after", 0, low=0, high=len(_BLOCK))
        response = web.StreamResponse(headers={"Content-Type": _BINARY})
        response.content_length = after + 1024  # promise more than will ever come
        try:
            if not await _start(request, response):
                return response
            if after:
                await response.write(_BLOCK[:after])
        except ConnectionError:
            return response
        await self._shutdown.pause(None)
        close_connection(request)
        return response

    async def truncated(self, request: web.Request) -> web.StreamResponse:
        """``/truncated/{n}``: declare n bytes, send half, then close the connection."""
        size = path_int(request, "n", high=_MAX_SIZE)
        response = web.StreamResponse(headers={"Content-Type": _BINARY})
        response.content_length = size
        await _stream(request, response, _pattern(size // 2))
        if request.method != "HEAD":
            close_connection(request)
        return response

    async def gzip_bomb(self, request: web.Request) -> web.StreamResponse:
        """``/gzip-bomb[/{n}]``: ``Content-Encoding: gzip`` that inflates to n bytes (1 GiB)."""
        size = _DEFAULT_BOMB
        if "n" in request.match_info:
            size = path_int(request, "n", high=_MAX_SIZE)
        response = web.StreamResponse(
            headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"}
        )
        response.content_length = gzip_bomb_length(size)
        return await _stream(request, response, gzip_bomb_chunks(size))
