"""Query-string parameters of the endpoints, checked, with a one-line 400 when they are wrong."""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web


def bad_request(message: str) -> web.HTTPBadRequest:
    """Return a 400 whose plain-text body says what was wrong."""
    return web.HTTPBadRequest(text=f"bad request: {message}\n")


def query_int(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
    """Return the integer query parameter ``name``, or ``default`` when it is absent.

    Raises:
        web.HTTPBadRequest: The value is not an integer in ``[low, high]``.
    """
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise bad_request(f"{name}={value} is outside [{low}, {high}]")
    return value


def query_choice(request: web.Request, name: str, default: str, choices: Collection[str]) -> str:
    """Return the query parameter ``name`` if it is one of ``choices``, else ``default`` if absent.

    Raises:
        web.HTTPBadRequest: The value is not one of ``choices``.
    """
    value = request.query.get(name, default)
    if value not in choices:
        raise bad_request(f"{name}={value!r} is not one of {', '.join(sorted(choices))}")
    return value


def path_int(request: web.Request, name: str, *, low: int = 0, high: int = 2**63 - 1) -> int:
    """Return the path parameter ``name`` (matched by ``\\d+`` in the route) as an int.

    Raises:
        web.HTTPBadRequest: The value is outside ``[low, high]``.
    """
    value = int(request.match_info[name])
    if not low <= value <= high:
        raise bad_request(f"{name}={value} is outside [{low}, {high}]")
    return value
