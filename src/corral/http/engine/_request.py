"""What to fetch: ``Request`` objects, and the parsing of an input line into one.

The input is one URL per line (blank lines and ``#`` comments skipped) or JSON lines of
request objects ``{"url": ..., "method": ..., "headers": {...}, "body": "..." | "json": ...}``;
both may be mixed. A line that is neither becomes an ``InvalidLine``, which the job records
as an ``invalid_url`` result and goes on: so does a line that is not UTF-8, a JSON line nested
deeper than ``MAX_DEPTH``, and a line longer than ``MAX_LINE`` (read in bounded memory:
the fetch job's ``_input.py`` reads the lines). A byte-order mark before a line is dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from corral.http.web._urls import (
    MAX_URL_LENGTH,
    BadURL,
    host_key,
    mask_credentials,
    not_utf8,
    parse,
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# JSON nested deeper is refused: far past any request body, and far enough from the
# interpreter's recursion limit that parsing, keying and storing it never reach it.
MAX_DEPTH = 100
KEPT = 2000  # characters of an invalid line kept for its record


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One HTTP request to make.

    Attributes:
        url: the absolute http(s) URL, normalised.
        host: its politeness key (host and non-default port).
        method: the HTTP method.
        headers: extra headers for this request.
        body: a raw request body.
        json: a JSON request body (sent with ``Content-Type: application/json``).
        depth: crawl depth (0 for a seed or an input URL).
        found_on: the page this URL was found on (crawls).
    """

    url: str
    host: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    json: Any = None
    depth: int = 0
    found_on: str | None = None

    @property
    def key(self) -> str:
        """Return the dedup key: the method and the normalised URL (plus the body, if any)."""
        if self.method == "GET" and self.body is None and self.json is None:
            return self.url
        payload = self.body.hex() if self.body is not None else json.dumps(self.json)
        return f"{self.method} {self.url} {payload}"

    def to_json(self) -> str | None:
        """Return the non-default parts as JSON for storage (None for a plain GET)."""
        if self.method == "GET" and not self.headers and self.body is None and self.json is None:
            return None
        return json.dumps(
            {
                "method": self.method,
                "headers": dict(self.headers),
                "body": self.body.decode("latin-1") if self.body is not None else None,
                "json": self.json,
            }
        )

    @classmethod
    def from_stored(
        cls, url: str, host: str, stored: str | None, depth: int, found_on: str | None
    ) -> Request:
        """Rebuild a request saved with ``to_json`` (its URL was normalised when first read)."""
        if stored is None:
            return cls(url=url, host=host, depth=depth, found_on=found_on)
        data = json.loads(stored)
        body = data.get("body")
        return cls(
            url=url,
            host=host,
            method=data["method"],
            headers=data["headers"],
            body=body.encode("latin-1") if body is not None else None,
            json=data.get("json"),
            depth=depth,
            found_on=found_on,
        )


@dataclass(frozen=True, slots=True)
class InvalidLine:
    """An input line that is not a fetchable request, and why."""

    text: str
    reason: str
    line: int


# A URL already in normal form: lowercase scheme and host name, a non-default port, a path
# and query of unreserved and sub-delimiter characters only (no escapes, no fragment, no dot
# segments). Such a URL is its own normal form, so yarl need not parse it (a bulk input is
# mostly such URLs; tests check the two paths agree).
_NORMAL = re.compile(
    r"(https?)://(([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::([1-9][0-9]{0,4}))?)"
    r"(/[A-Za-z0-9\-_~!$&'()*+,;=:@/.]*)(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]+)?"
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def request_for(url: str, **options: Any) -> Request:
    """Return a ``Request`` for ``url`` (validated and normalised).

    Raises:
        BadURL: the URL is not fetchable.
    """
    text = url.strip()
    split = split_normal(text)
    if split is not None:
        return Request(url=text, host=split, **options) if options else plain_get(text, split)
    parsed = parse(url)
    return Request(url=str(parsed), host=host_key(parsed), **options)


def split_normal(text: str) -> str | None:
    """Return the host key of a URL already in normal form, or None if it may not be.

    A None says nothing about validity: such URLs go through the full normalisation.
    """
    normal = _NORMAL.fullmatch(text)
    if normal is None or len(text) > MAX_URL_LENGTH:
        return None
    scheme, authority, _, port, path, _ = normal.groups()
    if "/." in path:
        return None
    if port is not None and (port == _DEFAULT_PORTS[scheme] or int(port) >= 65536):
        return None
    return str(authority)


_NO_HEADERS: Mapping[str, str] = MappingProxyType({})
_new = object.__new__
_set_url, _set_host, _set_method, _set_headers = (
    getattr(Request, name).__set__ for name in ("url", "host", "method", "headers")
)
_set_body, _set_json, _set_depth, _set_found_on = (
    getattr(Request, name).__set__ for name in ("body", "json", "depth", "found_on")
)


def plain_get(url: str, host: str) -> Request:
    """Return ``Request(url=url, host=host)`` (a GET with no headers or body), made as the
    engine's records are: through the slots, a third of the frozen ``__init__``'s time."""
    request = _new(Request)
    _set_url(request, url)
    _set_host(request, host)
    _set_method(request, "GET")
    _set_headers(request, _NO_HEADERS)
    _set_body(request, None)
    _set_json(request, None)
    _set_depth(request, 0)
    _set_found_on(request, None)
    return request


def parse_line(text: str, number: int) -> Request | InvalidLine | None:
    """Return the request on one input line, an ``InvalidLine``, or None for a blank/comment."""
    line = text.strip()
    if not line or line[0] == "#":
        return None
    if not line.isascii() and (undecodable := not_utf8(line)) is not None:
        return invalid_line(line, undecodable, number)
    try:
        if line[0] == "{":
            return _from_object(_load(line))
        return request_for(line)
    except BadURL as exc:
        if line[0] == "\ufeff":  # a byte-order mark: a file's first line, or files joined
            return parse_line(line.lstrip("\ufeff"), number)
        return invalid_line(line, str(exc), number)
    except (ValueError, TypeError, KeyError) as exc:
        return invalid_line(line, f"bad request object: {exc}", number)


def invalid_line(line: str, reason: str, number: int) -> InvalidLine:
    """Return the ``InvalidLine`` of a line: its start, bad bytes as ``\\x`` escapes,
    passwords masked (it is never fetched: nothing needs them)."""
    text = line[:KEPT]
    if not text.isascii():
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return InvalidLine(mask_credentials(text), mask_credentials(reason), number)


def _load(line: str) -> object:
    """Return the JSON value of a line, refusing one nested deeper than ``MAX_DEPTH``."""
    try:
        data = json.loads(line)
    except RecursionError:  # json's C scanner counts its depth against the recursion limit
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    if line.count("[") + line.count("{") > MAX_DEPTH and _deeper(data, MAX_DEPTH):
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return data


def _deeper(data: object, limit: int) -> bool:
    """Return whether ``data`` nests lists and objects more than ``limit`` deep (a walk by
    levels, without recursion)."""
    level = [data] if isinstance(data, dict | list) else []
    for _ in range(limit):
        if not level:
            return False
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, dict | list)
        ]
    return bool(level)


def _from_object(data: object) -> Request:
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise ValueError('expected an object with a "url" string')
    method = str(data.get("method", "GET")).upper()
    if method not in _METHODS:
        raise ValueError(f"unsupported method {method!r}")
    headers = data.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValueError('"headers" must map strings to strings')
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise ValueError('"body" must be a string (use "json" for structured bodies)')
    if body is not None and "json" in data:
        raise ValueError('give "body" or "json", not both')
    return request_for(
        data["url"],
        method=method,
        headers=headers,
        body=body.encode() if body is not None else None,
        json=data.get("json"),
    )
