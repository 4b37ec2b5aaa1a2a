"""Connection faults: close without a response (FIN), or reset the connection (RST).

Both end the connection from inside a handler and return a response that is never sent:
aiohttp then finds the transport closing, treats it as the client's early disconnect and logs
nothing above debug level, which keeps test logs free of tracebacks.
"""

from __future__ import annotations

import socket
import struct

from aiohttp import web

# SO_LINGER on with a zero timeout: close() discards unsent data and sends RST instead of FIN.
_LINGER_ZERO = struct.pack("ii", 1, 0)


def close_connection(request: web.BaseRequest) -> None:
    """Close the connection with an orderly FIN once what was written so far is flushed."""
    transport = request.transport
    if transport is not None:
        transport.close()


def drop_connection(request: web.BaseRequest) -> web.Response:
    """Close the connection with an orderly FIN before any response byte is sent.

    Returns:
        A placeholder response; aiohttp cannot send it, since the transport is closing.
    """
    close_connection(request)
    return web.Response()


def reset_connection(request: web.BaseRequest) -> web.Response:
    """Abort the connection with a TCP RST (``SO_LINGER`` 0) before any response byte is sent.

    Returns:
        A placeholder response; aiohttp cannot send it, since the transport is closed.
    """
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        transport.abort()
    return web.Response()


async def drop(request: web.Request) -> web.StreamResponse:
    """``/drop``: read the request, then close the connection without answering."""
    return drop_connection(request)


async def reset(request: web.Request) -> web.StreamResponse:
    """``/reset``: read the request, then reset the connection (RST) without answering."""
    return reset_connection(request)


def routes() -> list[web.RouteDef]:
    """Return the connection-fault routes."""
    return [web.route("*", "/drop", drop), web.route("*", "/reset", reset)]
