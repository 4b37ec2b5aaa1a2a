"""``JobStatus``: what ``corral status`` shows of a job in Redis, read in two round trips."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corral.http._errors import ScaleError
from corral.http.report._stats import add_proxy_figures

TOP_HOSTS = 20
PROXY_FIELD = "proxy "  # a worker's heartbeat field "proxy URL": "requests errors rested"


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStatus:
    """A job's progress, by Redis's clock.

    Attributes:
        state: "running", or what ``finish`` set.
        queued: URLs waiting in the host queues.
        leased: URLs a worker holds (in flight).
        done: URLs committed since the job began.
        undrained: results in the stream not yet acknowledged by the coordinator.
        reaped: leases that expired and were queued again.
        hosts: ``(host, queued, in_flight, seconds until it may start)``, the
            ``TOP_HOSTS`` with most queued.
        workers: ``(name, seconds since its heartbeat, its figures)``.
        proxies: per proxy (password masked), the workers' (requests, errors, rested), all
            the job's workers together, as their last heartbeats said.
        started_ms: when the job was first configured (Redis time, ms).
        now_ms: when this status was read (Redis time, ms).
        held_back: what a finished job left pending ("1 URL of 1 host ..."), or "".
    """

    state: str
    queued: int
    leased: int
    done: int
    undrained: int
    reaped: int
    hosts: list[tuple[str, int, int, float]]
    workers: list[tuple[str, float, dict[str, int]]]
    proxies: dict[str, tuple[int, int, int]]
    started_ms: int
    now_ms: int
    held_back: str = ""

    def eta_seconds(self) -> float | None:
        """Return the seconds left at the job's average rate so far (None before any)."""
        elapsed = (self.now_ms - self.started_ms) / 1000
        if self.done <= 0 or elapsed <= 0:
            return None
        return (self.queued + self.leased) / (self.done / elapsed)


async def read_status(client: Any, prefix: str, now_script: Any, where: str) -> JobStatus:
    """Return the status of the job whose keys start ``prefix``.

    Raises:
        ScaleError: there is no such job (``where`` names it).
    """
    async with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(prefix + "meta")
        pipe.hgetall(prefix + "stats")
        pipe.zcard(prefix + "lease")
        pipe.xlen(prefix + "res")
        pipe.zrevrange(prefix + "hosts", 0, TOP_HOSTS - 1, withscores=True)
        pipe.zrange(prefix + "workers", 0, -1, withscores=True)
        meta, stats, leased, undrained, hosts, workers = await pipe.execute()
    if not meta:
        raise ScaleError(f"no {where}", exit_code=2)
    now = int(await now_script(keys=[prefix + "meta"]))
    async with client.pipeline(transaction=False) as pipe:
        for host, _ in hosts:
            pipe.hmget(prefix + "h:" + host.decode(), "inflight", "until")
        for name, _ in workers:
            pipe.hgetall(prefix + "w:" + name.decode())
        details = await pipe.execute()
    figures = [_heartbeat(f) for f in details[len(hosts) :]]
    return JobStatus(
        state=meta.get(b"state", b"").decode(),
        queued=int(stats.get(b"queued", 0)),
        leased=leased,
        done=int(stats.get(b"done", 0)),
        undrained=undrained,
        reaped=int(stats.get(b"reaped", 0)),
        hosts=[
            _host(host, queued, detail, now)
            for (host, queued), detail in zip(hosts, details, strict=False)
        ],
        workers=[
            (name.decode(), max(0.0, (now - seen) / 1000), counts)
            for (name, seen), (counts, _) in zip(workers, figures, strict=True)
        ],
        proxies=add_proxy_figures(*(proxies for _, proxies in figures)),
        started_ms=int(meta.get(b"started", now)),
        now_ms=now,
        held_back=meta.get(b"held_back", b"").decode(),
    )


def _heartbeat(fields: dict[bytes, bytes]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Return a worker's heartbeat figures, and its per-proxy counts apart."""
    counts, proxies = {}, {}
    for key, value in fields.items():
        name = key.decode()
        if name.startswith(PROXY_FIELD):
            proxies[name.removeprefix(PROXY_FIELD)] = [int(n) for n in value.split()]
        else:
            counts[name] = int(value)
    return counts, proxies


def _host(
    host: bytes, queued: float, detail: list[bytes | None], now: int
) -> tuple[str, int, int, float]:
    inflight, until = (int(value or 0) for value in detail)
    return host.decode(), int(queued), inflight, max(0.0, (until - now) / 1000)
