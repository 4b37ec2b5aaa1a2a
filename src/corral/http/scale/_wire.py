"""The wire format of a result between a worker and the coordinator, through Redis.

A record travels as the JSON of its fields and, apart, its body's raw bytes (a separate,
binary-safe stream field: no base64 growth). Never pickle: whoever can write to the job's
Redis would otherwise run code in the coordinator.
"""

from __future__ import annotations

import json
from typing import Any

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
