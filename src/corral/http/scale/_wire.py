"""The wire format between a worker and the coordinator, through Redis: a result, and the
job's fetch configuration.

A record travels as the JSON of its fields and, apart, its body's raw bytes (a separate,
binary-safe stream field: no base64 growth). Never pickle: whoever can write to the job's
Redis would otherwise run code in the coordinator.
"""

from __future__ import annotations

import json
from operator import attrgetter
from typing import Any

from corral._retry import Backoff
from corral.http.engine._config import FetchConfig
from corral.http.engine._request import Request
from corral.http.engine._result import FetchResult, record_of_fields

ProxyFigures = dict[str, tuple[int, int, int]]  # proxy (masked) -> requests, errors, rested
_FIELDS = tuple(name for name in FetchResult.__dataclass_fields__ if name != "body")
_N = len(_FIELDS)
_HEADERS = _FIELDS.index("headers")
_values = attrgetter(*_FIELDS)
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.JSONDecoder().decode  # (json.loads of bytes guesses their encoding first)


def encode_result(
    result: FetchResult, extra: object = None, proxies: ProxyFigures | None = None
) -> tuple[bytes, bytes | None]:
    """Return ``result`` as (its fields as JSON, its body or None); ``extra``, JSON-ready
    data sent with it (a crawl worker's examination of the page), and ``proxies``, the
    worker's per-proxy counts so far, after the fields.

    The fields go as an array in ``_FIELDS`` order, not an object: a record crosses Redis
    once per URL, and the array is a quarter shorter and cheaper to encode and decode.
    Worker and coordinator are of one corral version.
    """
    values = list(_values(result))
    headers = result.headers
    if headers is not None and type(headers) is not dict:  # (the engine makes a dict)
        values[_HEADERS] = dict(headers)
    if extra is not None or proxies is not None:
        values.append(extra)
    if proxies is not None:
        values.append(proxies)
    return _dumps(values).encode(), result.body


def decode_result(data: bytes, body: bytes | None) -> FetchResult:
    """Return the record ``encode_result`` made ``(data, body)`` of.

    Raises:
        ValueError: ``data`` is not the JSON of a record's fields.
    """
    return decode_outcome(data, body)[0]


def decode_outcome(
    data: bytes, body: bytes | None
) -> tuple[FetchResult, object, ProxyFigures | None]:
    """Return the record ``encode_result`` made ``(data, body)`` of, its ``extra`` and the
    per-proxy counts sent with it.

    Raises:
        ValueError: ``data`` is not the JSON of a record's fields.
    """
    try:
        values = _loads(data.decode())
        if type(values) is not list or not _N <= len(values) <= _N + 2:
            raise TypeError("not the fields of a record")
        if len(values) == _N:  # (the fetch's case: one record, nothing sent with it)
            return record_of_fields(values, body), None, None
        sent = values.pop() if len(values) == _N + 2 else None
        extra = values.pop()
        proxies = None
        if sent is not None:
            proxies = {str(k): (int(r), int(e), int(s)) for k, (r, e, s) in sent.items()}
        return record_of_fields(values, body), extra, proxies
    except (TypeError, AttributeError, ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a corral result ({exc})") from exc


def task_request(request: Request) -> str | None:
    """Return what a job's task keeps of ``request`` beside its URL and host: the stored
    request (``Request.to_json``), with a crawl's depth and referring page when there are."""
    stored = request.to_json()
    if not request.depth and request.found_on is None:
        return stored
    data = json.loads(stored) if stored is not None else {}
    data["depth"], data["found_on"] = request.depth, request.found_on
    return _dumps(data)


def request_of_task(url: str, host: str, stored: str | None) -> Request:
    """Return the request ``task_request`` kept."""
    if stored is None:
        return Request(url=url, host=host)
    data = json.loads(stored)
    depth, found_on = int(data.pop("depth", 0)), data.pop("found_on", None)
    plain = "method" not in data
    return Request.from_stored(url, host, None if plain else _dumps(data), depth, found_on)


def config_to_json(config: FetchConfig) -> str:
    """Return ``config`` as JSON, for the job's settings in Redis (``settings["config"]``)."""
    data: dict[str, Any] = {
        name: getattr(config, name) for name in FetchConfig.__dataclass_fields__
    }
    data["headers"] = dict(config.headers)
    data["retry_statuses"] = sorted(config.retry_statuses)
    data["retry_errors"] = sorted(config.retry_errors)
    data["backoff"] = {name: getattr(config.backoff, name) for name in _BACKOFF}
    return _dumps(data)


def config_from_json(text: str) -> FetchConfig:
    """Return the ``FetchConfig`` that ``config_to_json`` wrote.

    Raises:
        ValueError: ``text`` is not such JSON, or a value is out of range.
    """
    try:
        data = json.loads(text)
        data["retry_statuses"] = frozenset(data["retry_statuses"])
        data["retry_errors"] = frozenset(data["retry_errors"])
        data["backoff"] = Backoff(**data["backoff"])
        return FetchConfig(**data)
    except (TypeError, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a corral fetch configuration ({exc})") from exc


_BACKOFF = ("initial", "multiplier", "max", "jitter")
