"""What to fetch: ``Request`` objects, and ``InvalidLine`` for input that is not one.

A ``Request`` is built from a URL (``request_for``; a URL corral will not fetch raises
``BadURL``), read back from the store (``Request.from_stored``), or parsed from an input line
(``corral.http.fetcher._lines``). ``split_normal`` and ``plain_get`` are the fast paths for
URLs already in normal form (links as the parser hands them out).
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
    host_key,
    parse,
)


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
