"""A job in Redis belongs to one store: the checks, and a job started afresh.

The coordinator records its store's id (``store_id``, made with the store: ``store/_opening``)
in the job's settings. A record names its row by the row's id, and row ids mean something in
one store only: a store made afresh at the same path (``rm``, ``--overwrite``) numbers its rows
from 1 again, so a coordinator whose store is not the job's would write the old run's records
into other URLs' rows. It is refused, unless ``--overwrite`` (its store made afresh), which
starts the job afresh too: its keys deleted (its settings first: ``delete_keys``), a new
``epoch`` (every step of a worker that joined the old job is fenced by it in Redis, in its
script: ``_fence``; that worker joins the new job), lease tokens counted from a random start.
A job an older corral started has no ``store_id``: it is known by its store's path, as then.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from corral import to_thread
from corral.http._errors import ScaleError
from corral.http.scale._redis import masked
from corral.http.store._lock import LockHeld, holding

if TYPE_CHECKING:
    from corral.http.scale._queue import JobQueue

ALIVE = 15.0  # seconds: a coordinator heard from within them may be running (it beats every 5)


def running(settings: Mapping[str, str] | None) -> bool:
    """Return whether a job is there and not finished (a finished job's name is free)."""
    return settings is not None and settings.get("state") != "finished"


def belongs(settings: Mapping[str, str], store_id: str | None, owner: str) -> bool:
    """Return whether the job is the store's: ``store_id`` None when there is no store yet,
    "" for a store made before stores had an id; ``owner`` the store's host and path."""
    recorded = settings.get("store_id")
    if recorded:
        return store_id == recorded
    return store_id is not None and settings.get("store", owner) == owner


def refusal(queue: JobQueue, settings: Mapping[str, str]) -> ScaleError:
    """Return the one line refusing a store that is not the job's."""
    made = settings.get("store_made")
    whose = settings.get("store", "?") + (f", made {made}" if made else "")
    return ScaleError(
        f"job {queue.job!r} on {masked(queue.url)} belongs to another store ({whose}): give "
        "this run another --job, or add --overwrite to start the job afresh (and this -o "
        "with it); that store's own command resumes the job"
    )


def _local_store(settings: Mapping[str, str]) -> str | None:
    """Return the path of the job's store when it is on this machine."""
    host, _, path = settings.get("store", "").partition(":")
    return path if path and host == socket.gethostname() else None


def _held(path: str) -> bool:
    """Return whether a run holds the lock of the store at ``path`` (or of its JSONL
    output's state), trying it without waiting (a lock file left by ``kill -9`` goes)."""
    for lock in (f"{path}.lock", f"{path}.corral-state.lock"):
        if not os.path.exists(lock):
            continue
        try:
            with holding(lock, "corral (a look at the lock)"):
                pass
        except LockHeld:
            return True
        except OSError:
            continue
    return False


def new_epoch() -> str:
    return secrets.token_hex(8)


class JobBinding:
    """The job's keys seen as a whole: its coordinator's last beat, a fresh start
    (``JobQueue.binding()``)."""

    def __init__(self, queue: JobQueue, client: Any) -> None:
        self._queue, self._client = queue, client
        self._prefix = queue.prefix

    async def check_no_coordinator(self, settings: Mapping[str, str], owner: str) -> None:
        """Refuse to start the job afresh while its coordinator may be running: one on
        this machine holds its store's lock; one elsewhere beat within ``ALIVE`` seconds.

        ``owner``: this run's store (once it holds its lock, a coordinator of that store
        is not running).

        Raises:
            ScaleError: the coordinator may be running.
        """
        if settings.get("store") == owner:
            return
        queue = self._queue
        where = f"job {queue.job!r} on {masked(queue.url)}"
        path = _local_store(settings)
        if path is not None:  # on this machine: its store's lock says (kill -9 drops it)
            if await to_thread(_held, path):
                raise ScaleError(
                    f"{where} has a coordinator running here (its store {path} is in use): "
                    "stop it first, or give this run another --job"
                )
            return
        seen = await self._client.zscore(self._prefix + "workers", "coordinator")
        if seen is None:
            return
        now = await self._client.time()
        age = max(0.0, now[0] + now[1] / 1e6 - float(seen) / 1000)
        if age >= ALIVE:
            return
        raise ScaleError(
            f"{where} has a coordinator, writing into "
            f"{settings.get('store', '?')}, that was alive {age:.0f} s ago: stop it first "
            f"(if it was killed, try again in {ALIVE - age:.0f} s), or give this run "
            "another --job"
        )

    async def start_afresh(self) -> None:
        """Delete every key of the job, and count lease tokens from a random start."""
        await self._queue.delete()
        await self._client.set(self._prefix + "seq", secrets.randbelow(2**46))


async def delete_keys(client: Any, prefix: str, keep_state_for: float | None) -> None:
    """Delete the job's keys as ``JobQueue.delete`` says: its settings (``meta``) first, in
    one step (unless kept), so that no script of a worker, fenced by them, recreates a key
    while the others go (a lease reaped back into a host's queue would be the next job's)."""
    if keep_state_for is None:
        await client.unlink(prefix + "meta")
    kept = {(prefix + name).encode() for name in ("meta", "stats")}
    batch: list[bytes] = []
    async for key in client.scan_iter(match=prefix + "*", count=1000):
        if keep_state_for is not None and key in kept:
            continue
        batch.append(key)
        if len(batch) >= 1000:
            await client.unlink(*batch)
            batch.clear()
    if batch:
        await client.unlink(*batch)
    if keep_state_for is not None:
        # the settings a worker fetched with go: their headers and proxies may hold
        # credentials, and a finished job's workers need its state only
        await client.hdel(prefix + "meta", "config", "crawl")
        for key in kept:
            await client.pexpire(key, max(1, round(keep_state_for * 1000)))
