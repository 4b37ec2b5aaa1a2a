"""A job's ``FetchConfig`` as JSON, so that every process of the job fetches the same way.

The coordinator writes it into the job (Redis) or hands it to its child processes; workers
read it back. JSON, not pickle: whoever can write to the Redis must not be able to run code
in the workers.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from corral._ratelimit import parse_rate
from corral._retry import Backoff
from corral.http.engine._config import FetchConfig


def config_to_json(config: FetchConfig) -> str:
    """Return ``config`` as a JSON object (every field)."""
    data: dict[str, Any] = {}
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, Backoff):
            value = dataclasses.asdict(value)
        elif field.name == "headers":
            value = dict(value)
        data[field.name] = value
    return json.dumps(data, sort_keys=True)


def config_from_json(text: str) -> FetchConfig:
    """Return the ``FetchConfig`` of ``config_to_json``'s text (unknown fields are ignored,
    so a worker of another corral version still reads what it knows).

    Raises:
        ValueError: the text is not such a JSON object.
    """
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a job's config is a JSON object")
    known = {field.name for field in dataclasses.fields(FetchConfig)}
    values: dict[str, Any] = {k: v for k, v in data.items() if k in known}
    for name in ("retry_statuses", "retry_errors"):
        if name in values:
            values[name] = frozenset(values[name])
    if isinstance(values.get("backoff"), dict):
        values["backoff"] = Backoff(**values["backoff"])
    return FetchConfig(**values)


def gap_ms(config: FetchConfig) -> int:
    """Return the least milliseconds between two request starts to one host (0: no --rate)."""
    if config.rate is None:
        return 0
    count, period = parse_rate(config.rate)
    return max(1, round(period * 1000 / count))
