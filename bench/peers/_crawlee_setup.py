"""Crawlee options shared by the fetch and crawl peers: a fair, fast configuration.

Crawlee's AutoscaledPool starts at 10 tasks and scales by watching CPU, memory and event-loop
load; on a busy 2-core machine it may never reach 100. Here the concurrency is fixed at 100
(minimum, desired and maximum), with no per-minute cap. The session pool (cookie and identity
rotation against blocking) is off, as Scrapy's cookies are: a local static server needs
neither. HTTP goes through Crawlee's default client (impit), with its default 3 retries.

Storage is a choice, because it dominates Crawlee's speed here: ``memory`` keeps the request
queue and dataset in RAM and exports the dataset to ``results.json`` at the end (Crawlee's
fastest set-up, about 5x the default here); ``filesystem`` is Crawlee's default, a JSON file per
request and per item under ``./storage``, which survives a crash as corral's store does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crawlee import ConcurrencySettings
from crawlee.storage_clients import FileSystemStorageClient, MemoryStorageClient

STORAGES = ("memory", "filesystem")


def options(concurrency: int, storage: str) -> dict[str, Any]:
    """Return the crawler keyword arguments for a run at ``concurrency`` on ``storage``."""
    client = MemoryStorageClient() if storage == "memory" else FileSystemStorageClient()
    return {
        "concurrency_settings": ConcurrencySettings(
            min_concurrency=concurrency,
            desired_concurrency=concurrency,
            max_concurrency=concurrency,
        ),
        "storage_client": client,
        "use_session_pool": False,
        # A status line every 60 s, as Scrapy's LOGSTATS, rather than every 10 s.
        "status_message_logging_interval": timedelta(seconds=60),
    }
