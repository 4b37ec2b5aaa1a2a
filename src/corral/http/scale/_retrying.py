"""Whether a worker's failed attempt is retried, and after how long: the engine's policy,
applied to a record, so that a retry goes back through the job's queue.

A worker's engine makes one attempt per lease (its ``retries`` is 0). A retryable outcome
is handed back to the job (``JobQueue.retry``): the URL returns to the head of its host's
queue and the host starts nothing before the wait is over, for every worker. Retried inside
one worker instead, the retry would not ask the job: three workers each retrying a 429 on
their own got a rate-limited site to ban them (bench/scale.py polite).
"""

from __future__ import annotations

import random

from corral.http.engine._attempt import parse_retry_after
from corral.http.engine._config import FetchConfig
from corral.http.engine._proxies import refused
from corral.http.engine._result import FetchResult


def retry_wait(
    config: FetchConfig, record: FetchResult, attempts: int, rng: random.Random
) -> float | None:
    """Return the seconds to wait before retrying ``record``'s URL, or None: no retry.

    Args:
        config: the job's fetch settings (its ``retries``, statuses, errors, backoff).
        record: the outcome of the attempt just made.
        attempts: attempts made so far, this one included.
        rng: the jitter's draws.
    """
    if record.ok or attempts > config.retries or refused(record.error_kind, record.error):
        return None  # (a proxy refused its credentials: retrying cannot help)
    retryable = (
        record.status in config.retry_statuses
        if record.error_kind == "http_status"
        else record.error_kind in config.retry_errors
    )
    if not retryable:
        return None
    headers = record.headers or {}
    asked = parse_retry_after(headers.get("Retry-After")) if record.status in (429, 503) else None
    if asked is not None:
        return asked if asked <= config.max_retry_after else None
    return config.backoff.delay(attempts, rng.random())
