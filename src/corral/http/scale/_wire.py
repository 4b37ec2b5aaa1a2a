"""The wire format between a worker and the coordinator, through Redis: a result, and the
job's fetch configuration.

A record travels as the JSON of its fields and, apart, its body's raw bytes (a separate,
binary-safe stream field: no base64 growth). Never pickle: whoever can write to the job's
Redis would otherwise run code in the coordinator.
"""

from __future__ import annotations

import json
from typing import Any

from corral._retry import Backoff
from corral.http.engine._config import FetchConfig
from corral.http.engine._result import FetchResult

_FIELDS = tuple(name for name in FetchResult.__dataclass_fields__ if name != "body")
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode_result(result: FetchResult) -> tuple[bytes, bytes | None]:
    """Return ``result`` as (its fields as JSON, its body or None)."""
    data: dict[str, Any] = {name: getattr(result, name) for name in _FIELDS}
    if result.headers is not None:
        data["headers"] = dict(result.headers)
    return _dumps(data).encode(), result.body


def decode_result(data: bytes, body: bytes | None) -> FetchResult:
    """Return the record ``encode_result`` made ``(data, body)`` of.

    Raises:
        ValueError: ``data`` is not the JSON of a record's fields.
    """
    try:
        fields = json.loads(data)
        if not isinstance(fields, dict) or set(fields) != set(_FIELDS):
            raise TypeError("not the fields of a record")
        return FetchResult(**fields, body=body)
    except (TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a corral result ({exc})") from exc


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
