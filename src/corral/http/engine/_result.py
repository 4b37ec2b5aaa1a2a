"""``FetchResult``: the one final record every input URL gets."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from corral.http.web._urls import mask_credentials

# The error kinds a record can carry, in the order the summary lists them.
ERROR_KINDS = (
    "invalid_url",
    "dns",
    "connect",
    "tls",
    "timeout",
    "reset",
    "protocol",
    "proxy",
    "too_large",
    "too_many_redirects",
    "http_status",
    "robots",
    "parse_error",
    "cancelled",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchResult:
    """The final record of one URL: what came back, or why nothing usable did.

    Attributes:
        url: the URL as requested (normalised), or the raw input line for ``invalid_url``.
        final_url: the URL after redirects (None when no response came).
        status: the final HTTP status (None when no response came).
        ok: True when a response with a status below 400 came back whole.
        error_kind: None when ok; else one of ``ERROR_KINDS``.
        error: a one-line description of the error.
        attempts: attempts made (0 for an invalid URL).
        elapsed_ms: milliseconds from the first attempt's start to the end of the last,
            waits between retries included, queueing before the first attempt excluded.
        fetched_at: when the last attempt ended, ISO 8601 in UTC.
        bytes: body bytes received, after decompression.
        content_type: the response's Content-Type.
        headers: the response headers (repeated headers joined with ", ").
        sha256: the hex SHA-256 of the body received (None without a body).
        body: the body, when bodies are saved in the store.
        body_path: the file holding the body, when bodies are saved to a directory.
        method: the HTTP method.
        depth: crawl depth (0 for input URLs).
        found_on: the page the URL was found on (crawls).
        proxy: the proxy the last attempt went through (its password masked), or None.
        change: what a ``--refresh`` run found against the URL's earlier record:
            ``not_modified`` (a 304: the earlier body stands), ``unchanged`` (a body with
            the earlier digest), ``changed``, or ``new`` (no earlier body); None outside a
            refresh, and for a record without a response body.
    """

    url: str
    final_url: str | None = None
    status: int | None = None
    ok: bool = False
    error_kind: str | None = None
    error: str | None = None
    attempts: int = 0
    elapsed_ms: float = 0.0
    fetched_at: str = ""
    bytes: int = 0
    content_type: str | None = None
    headers: Mapping[str, str] | None = None
    sha256: str | None = None
    body: builtins.bytes | None = None  # the field `bytes` shadows the type here
    body_path: str | None = None
    method: str = "GET"
    depth: int = 0
    found_on: str | None = None
    proxy: str | None = None
    change: str | None = None

    def to_dict(self, *, body_as: str = "omit") -> dict[str, Any]:
        """Return the record as plain JSON-ready data (``body_as``: omit, or base64)."""
        import base64

        data: dict[str, Any] = {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "body"
        }
        data["headers"] = dict(self.headers) if self.headers is not None else None
        if body_as == "base64" and self.body is not None:
            data["body_base64"] = base64.b64encode(self.body).decode("ascii")
        return data


_new = object.__new__
_SET: Final = tuple(getattr(FetchResult, f).__set__ for f in FetchResult.__dataclass_fields__)
(_url, _final_url, _status, _ok, _error_kind, _error) = _SET[:6]
(_attempts, _elapsed_ms, _fetched_at, _bytes, _content_type, _headers) = _SET[6:12]
(_sha256, _body, _body_path, _method, _depth, _found_on, _proxy, _change) = _SET[12:]


def make_record(
    url: str,
    final_url: str | None,
    status: int | None,
    ok: bool,
    error_kind: str | None,
    error: str | None,
    attempts: int,
    elapsed_ms: float,
    fetched_at: str,
    size: int,
    content_type: str | None,
    headers: Mapping[str, str] | None,
    sha256: str | None,
    body: builtins.bytes | None,
    method: str,
    depth: int,
    found_on: str | None,
    proxy: str | None = None,
) -> FetchResult:
    """Return ``FetchResult(...)`` for the engine, which makes one per URL.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``: 2.4 µs
    for these 18 fields. Setting the slots through their descriptors is the same object
    (frozen afterwards as before) in 0.9 µs.
    """
    record = _new(FetchResult)
    _url(record, url)
    _final_url(record, final_url)
    _status(record, status)
    _ok(record, ok)
    _error_kind(record, error_kind)
    _error(record, error)
    _attempts(record, attempts)
    _elapsed_ms(record, elapsed_ms)
    _fetched_at(record, fetched_at)
    _bytes(record, size)
    _content_type(record, content_type)
    _headers(record, headers)
    _sha256(record, sha256)
    _body(record, body)
    _body_path(record, None)
    _method(record, method)
    _depth(record, depth)
    _found_on(record, found_on)
    _proxy(record, proxy)
    _change(record, None)
    return record


def record_of_fields(values: Sequence[Any], body: builtins.bytes | None) -> FetchResult:
    """Return the record whose fields, the body apart, are ``values`` in field order (the
    array a record crosses Redis as: ``corral.http.scale._wire``), its slots set as
    ``make_record`` sets them (the coordinator makes one per URL).

    Raises:
        ValueError: not as many values as fields.
    """
    record = _new(FetchResult)
    for set_field, value in zip(_NOT_BODY, values, strict=True):
        set_field(record, value)
    _body(record, body)
    return record


_NOT_BODY: Final = _SET[:13] + _SET[14:]


def mask_record(record: FetchResult) -> FetchResult:
    """Return ``record`` with the passwords in its URLs and error text shown as ``***``.

    A record never holds a password from a URL (``https://user:secret@host/``): the request
    is made with it, the record (stored, written as JSON, returned) shows ``user:***@``.
    """
    return replace(
        record,
        url=mask_credentials(record.url),
        final_url=_masked(record.final_url),
        error=_masked(record.error),
        found_on=_masked(record.found_on),
    )


def _masked(text: str | None) -> str | None:
    return None if text is None else mask_credentials(text)
