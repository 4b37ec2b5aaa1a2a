"""``JobQueue``: one job's URLs, leases and results in Redis, for workers and the coordinator.

Each method is one script (``_scripts``) or one command, so every step is atomic in Redis:
a URL is leased to one worker at a time; a commit is fenced by its lease token and marks the
URL done, hands on its result (the ``res`` stream) and frees the host's slot in one step;
politeness per host (in-flight cap, gap between dispatches, throttling) is decided by the
claim, with Redis's clock, for every worker of the job at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from corral.http.engine._result import FetchResult
from corral.http.scale import _scripts
from corral.http.scale._claimed import Claimed, Committed
from corral.http.scale._claimed import Task as Task  # (its home: the name is used here)
from corral.http.scale._redis import MAX_BLOCK, check_job, masked, open_client, outage_errors
from corral.http.scale._status import PROXY_FIELD, JobStatus, read_status
from corral.http.scale._wire import ProxyFigures, decode_outcome, encode_result

if TYPE_CHECKING:
    import redis.asyncio

    from corral.http.scale._binding import JobBinding
    from corral.http.scale._sharedjars import SharedJars

GROUP = "coordinator"
DEFAULTS = {"kind": "fetch", "per_host": "8", "gap_ms": "0", "lease_ms": "30000"}
DEFAULTS |= {"max_results": "10000", "state": "running"}
BACKPRESSURE_WAIT = 1.0  # seconds; an acknowledge that makes room wakes the workers sooner
ENDED = float("inf")  # a claim's wait once the job is not running: nothing more will come
REPLACED = -4  # a fenced script's answer: the job was started afresh (another epoch)
UNFENCED = "*"  # the epoch a caller that is no worker sends (the coordinator, a status)
_SEP = "\x1f"
_FLAGS = (b"0", b"1", b"2", b"3")  # a commit's flags: 1 a body, 2 attempts to forget
_SCRIPTS = [
    "ADD",
    "CLAIM",
    "COMMIT",
    "RETRY",
    "RENEW",
    "RELEASE",
    "FLOOR",
    "THROTTLE",
    "REAP",
    "ACKNOWLEDGE",
    "HEARTBEAT",
    "CONFIGURE",
    "NOW",
]


@dataclass(frozen=True, slots=True)
class Outcome:
    """One result read back by the coordinator."""

    entry: str  # stream entry id (to acknowledge)
    ident: int
    result: FetchResult
    worker: str
    extra: object = None  # what the worker sent with the record (a crawl's page examined)
    proxies: ProxyFigures | None = None  # the worker's per-proxy counts so far, if sent
    found: bytes | None = None  # a crawl's page: the links new to the crawl (_crawlqueue)
    fp: bytes = b""  # its URL's key's fingerprint (for acknowledge)


def fingerprint(key: str) -> bytes:
    """Return the 8-byte fingerprint a job knows a URL key by (collisions ~ n**2 / 2**65)."""
    return hashlib.blake2b(key.encode(), digest_size=8).digest()


class JobQueue:
    """One job's queue in Redis; ``await JobQueue.connect(url, job)``, then ``close()``."""

    def __init__(self, client: redis.asyncio.Redis, url: str, job: str) -> None:
        self._client: Any = client
        self.url = url
        self.job = job
        self.prefix = f"corral:{{{job}}}:"
        self._keys = [self.prefix + "meta"]
        self._scripts = {name: client.register_script(getattr(_scripts, name)) for name in _SCRIPTS}
        # The redis-py errors meaning "Redis is not answering now" (a worker waits them out).
        self.outage: tuple[type[BaseException], ...] = outage_errors()
        # Where the next read of this consumer's unacknowledged results starts; None once
        # they are all read (the entries read since stay pending until acknowledged, and
        # re-reading them at each call would hand the same records again and again).
        self._pending_after: str | None = "0"
        # The tokens claimed with earlier attempts (the job counts them by fingerprint until
        # the URL's commit); only their commits need drop the count.
        self._retried: set[str] = set()
        # The job's epoch as its worker joined it (None: no worker's, unfenced): each step
        # sends it, and does nothing in a job started afresh since (``_step``) or gone.
        self.epoch: str | None = None
        self.on_replaced: Callable[[], None] = lambda: None

    @property
    def fence(self) -> str:
        """What the scripts compare with the job's epoch (``_scripts``' ``fence``)."""
        return UNFENCED if self.epoch is None else self.epoch

    @classmethod
    async def connect(cls, url: str, job: str) -> JobQueue:
        """Return the queue of ``job`` on the Redis at ``url`` (which answered PING).

        Raises:
            ScaleError: a bad job name or URL, Redis unreachable (``RedisUnreachable``) or
                older than 7.0.
        """
        check_job(job)
        return cls(await open_client(url), url, job)

    async def close(self) -> None:
        """Close the connections."""
        await self._client.aclose()

    async def _run(self, name: str, args: Sequence[Any] = ()) -> Any:
        return await self._scripts[name](keys=self._keys, args=list(args))

    async def _step(self, name: str, args: Sequence[Any]) -> Any:
        """Run a worker's script, fenced by its epoch (``REPLACED``: ``on_replaced``)."""
        reply = await self._run(name, [self.fence, *args])
        if isinstance(reply, int) and reply == REPLACED:
            self.on_replaced()
        return reply

    def jars(self) -> SharedJars:
        """Return the job's cookie jars in Redis (``--cookies``: ``_sharedjars``)."""
        from corral.http.scale._sharedjars import SharedJars

        return SharedJars(self)

    def binding(self) -> JobBinding:
        """Return the job's keys as a whole: whose, started afresh (``_binding``)."""
        from corral.http.scale._binding import JobBinding

        return JobBinding(self, self._client)

    async def configure(self, settings: Mapping[str, str]) -> None:
        """Write the job's settings over its old ones, state "running" (idempotent).

        Missing settings take ``DEFAULTS``: kind fetch, per_host 8, gap_ms 0 (no rate),
        lease_ms 30000, max_results 10000 (undrained results before workers pause); the
        coordinator adds ``config`` (``config_to_json``). The start time is kept.
        """
        merged = {**DEFAULTS, **settings, "state": settings.get("state", "running")}
        await self._run("CONFIGURE", [part for pair in merged.items() for part in pair])

    async def settings(self) -> dict[str, str] | None:
        """Return the job's settings, or None when Redis has no such job."""
        meta = await self._client.hgetall(self.prefix + "meta")
        return {k.decode(): v.decode() for k, v in meta.items()} if meta else None

    async def add(self, tasks: Sequence[tuple[int, str, str, str, str | None]]) -> int:
        """Queue ``(ident, key, url, host, request)`` tasks; a key the job knows is skipped.

        The job knows a key while it is queued, leased, or committed with its result not yet
        acknowledged. Idempotent: after Redis lost data, add everything outstanding again.

        Returns:
            How many were queued.
        """
        args: list[Any] = []
        for ident, key, url, host, request in tasks:
            text = (
                f"{ident}{_SEP}{url}" if request is None else f"{ident}{_SEP}{url}{_SEP}{request}"
            )
            args += (host, fingerprint(key) + text.encode())
        added: int = await self._run("ADD", args) if args else 0
        return added

    async def claim(self, worker: str, limit: int) -> tuple[list[Task], float | None]:
        """Lease up to ``limit`` URLs whose host may start now, for ``worker``.

        Returns:
            The tasks, and the seconds until the next host is due (None when nothing is
            queued at all); with the results stream full (back-pressure), no tasks; once
            the job is finished, no tasks and ``ENDED``.
        """
        claimed = await self.claim_tasks(worker, limit)
        return claimed.tasks, claimed.wait

    async def claim_tasks(self, worker: str, limit: int) -> Claimed:
        """Lease as ``claim`` does; return the tasks with the job's state (``Claimed``)."""
        return self._claimed(await self._step("CLAIM", [limit, worker]))

    def _claimed(self, reply: Sequence[Any]) -> Claimed:
        flat, wait_ms, budget = reply
        if wait_ms == REPLACED:  # (fenced: nothing claimed, nothing to wait for)
            self.on_replaced()
            return Claimed([], None, False, replaced=True)
        tasks = [_task(*flat[i : i + 4]) for i in range(0, len(flat), 4)]
        self._retried.update(task.token for task in tasks if task.attempts)
        waits = {-3: ENDED, -2: BACKPRESSURE_WAIT, -1: None}
        wait = waits[wait_ms] if wait_ms in waits else wait_ms / 1000
        return Claimed(tasks, wait, bool(budget))

    async def renew(self, worker: str, tokens: Sequence[str]) -> list[str]:
        """Extend the leases of ``tokens`` to now + lease_ms; return those already lost
        (fenced: all of them)."""
        if not tokens:
            return []
        lost = await self._step("RENEW", tokens)
        return list(tokens) if lost == REPLACED else [token.decode() for token in lost]

    async def commit(
        self,
        worker: str,
        done: Sequence[tuple[str, FetchResult, object]],
        proxies: ProxyFigures | None = None,
    ) -> tuple[int, int]:
        """Record ``(token, result, extra)`` triples, each fenced by its lease token, in one
        step (``extra``: JSON-ready data for the coordinator, or None; ``proxies``: the
        worker's per-proxy counts so far, sent with the last record).

        Returns:
            (committed, stale): a stale token's lease expired and was reaped (another worker
            has the URL): its result is dropped.
        """
        committed = await self.commit_and_claim(worker, done, proxies)
        return committed.ok, committed.stale

    async def commit_and_claim(
        self,
        worker: str,
        done: Sequence[tuple[str, FetchResult, object]],
        proxies: ProxyFigures | None = None,
        *,
        fetched: Sequence[str] = (),
        claim: int = 0,
    ) -> Committed:
        """Commit as ``commit`` does, free the host slots of ``fetched`` (leases whose
        request is over, their records to come), then claim up to ``claim`` URLs for
        ``worker``, all in one step (one round trip: a freed slot's next URL at once)."""
        args: list[Any] = [worker, claim, len(fetched), *fetched]
        retried = self._retried
        for n, (token, result, extra) in enumerate(done, 1):
            data, body = encode_result(result, extra, proxies if n == len(done) else None)
            flags = (body is not None) + 2 * (token in retried)
            args += (token, data, _FLAGS[flags], body or b"")
        retried.difference_update(token for token, _, _ in done)
        ok, stale, claimed = await self._step("COMMIT", args)
        return Committed(int(ok), int(stale), self._claimed(claimed))

    async def retry(self, worker: str, items: Sequence[tuple[str, float]]) -> tuple[int, int]:
        """Put ``(token, wait seconds)`` URLs back at the head of their host's queue, one
        attempt more, their host held for ``wait`` for every worker; fenced as ``commit``.

        Returns:
            (requeued, stale).
        """
        args: list[Any] = [worker]
        for token, wait in items:
            args += (token, max(0, round(wait * 1000)))
            self._retried.discard(token)  # (its attempts are counted again: see RETRY)
        answer = await self._step("RETRY", args)
        back, stale = (0, len(items)) if answer == REPLACED else answer
        return int(back), int(stale)

    async def throttle(self, host: str, seconds: float, gap: float | None = None) -> None:
        """Start nothing on ``host`` before now + ``seconds``, in any worker of the job; with
        ``gap``, space its starts by that many seconds from now on (a host slowed down after
        429/503 answers; 0: the job's ``--rate`` again)."""
        args: list[object] = [host, max(0, round(seconds * 1000))]
        if gap is not None:
            args.append(max(0, round(gap * 1000)))
        await self._step("THROTTLE", args)

    async def floor(self, host: str, seconds: float) -> None:
        """Space ``host``'s starts at least ``seconds`` apart, in every worker of the job
        (robots.txt's Crawl-delay), whatever pace the workers set for it later."""
        await self._step("FLOOR", [host, max(0, round(seconds * 1000))])

    async def release(self, worker: str) -> int:
        """Hand back at once the URLs ``worker`` holds (its process is known to have ended:
        its leases would hold its hosts' slots until they expire); return how many."""
        released: int = await self._run("RELEASE", [worker])
        if released:
            await self.reap()
        return released

    async def reap(self) -> int:
        """Put URLs whose lease expired back at the head of their host's queue; return how
        many (any process may call it; idempotent)."""
        reaped: int = await self._run("REAP")
        return reaped

    async def results(self, consumer: str, count: int, block_ms: int) -> list[Outcome]:
        """Return up to ``count`` results for ``consumer`` of the "coordinator" group.

        First, once, the entries read before and not acknowledged (after a restart), then
        new ones, waiting up to ``block_ms`` for them (0: do not wait).
        """
        found: list[tuple[bytes, dict[bytes, bytes] | None]] = []
        if self._pending_after is not None:  # once, page by page: what a restart left
            found = await self._read(consumer, count, self._pending_after, None)
            self._pending_after = found[-1][0].decode() if found else None
        if not found:
            found = await self._read(consumer, count, ">", block_ms or None)
        gone = [entry_id for entry_id, fields in found if not fields]
        if gone:  # deleted while pending (acknowledged meanwhile): off this consumer's list
            await self._client.xack(self.prefix + "res", GROUP, *gone)
        return [_outcome(entry_id, fields) for entry_id, fields in found if fields]

    async def _read(
        self, consumer: str, count: int, start: str, block_ms: int | None
    ) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
        stream = self.prefix + "res"
        from redis.exceptions import ResponseError

        try:
            answer = await self._client.xreadgroup(
                GROUP, consumer, {stream: start}, count=count, block=block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._client.xgroup_create(stream, GROUP, id="0", mkstream=True)
            return []
        return list(answer[0][1]) if answer else []

    async def acknowledge(self, entries: Sequence[str], fps: Sequence[bytes] = ()) -> None:
        """Acknowledge and delete result entries, and forget their URLs' keys (a later
        ``add`` of one is a new fetch); ``fps``, the entries' ``Outcome.fp`` in the same
        order, spares Redis reading each entry for it."""
        if entries:
            fps = fps if len(fps) == len(entries) else ()
            await self._run("ACKNOWLEDGE", [len(entries), *entries, *fps])

    async def wait_for_work(self, seconds: float | None) -> None:
        """Sleep until work may be claimable: woken by add, reap, commit or acknowledge,
        else after ``seconds`` (None: when woken, or after ``MAX_BLOCK`` at most: the
        caller looks again)."""
        if seconds is not None and seconds <= 0:
            return
        limit = MAX_BLOCK if seconds is None else min(seconds, MAX_BLOCK)
        await self._client.blpop([self.prefix + "wake"], timeout=limit)

    async def heartbeat(
        self, worker: str, figures: Mapping[str, int], proxies: ProxyFigures | None = None
    ) -> None:
        """Record that ``worker`` is alive, with its figures (fetched, ok, failed, in_flight)
        and its per-proxy counts (fields ``proxy URL``, "requests errors rested")."""
        fields: dict[str, object] = dict(figures)
        for shown, counts in (proxies or {}).items():
            fields[PROXY_FIELD + shown] = " ".join(map(str, counts))
        await self._step("HEARTBEAT", [worker, *(x for pair in fields.items() for x in pair)])

    async def status(self) -> JobStatus:
        """Return the job's progress: counts, the busiest hosts, the workers.

        Raises:
            ScaleError: Redis has no such job.
        """
        return await read_status(self._client, self.prefix, self._scripts["NOW"], self._where)

    @property
    def _where(self) -> str:
        return f"job {self.job} on {masked(self.url)}"

    async def finish(self, state: str, *, held_back: str = "") -> None:
        """Set the job's state (workers exit when it is not "running") and wake them;
        ``held_back``: what the job left pending, for ``corral status``."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(self.prefix + "meta", mapping={"state": state, "held_back": held_back})
            pipe.lpush(self.prefix + "wake", *["1"] * 64)
            pipe.ltrim(self.prefix + "wake", 0, 63)
            await pipe.execute()

    async def delete(self, *, keep_state_for: float | None = None) -> None:
        """Delete every key of the job; with ``keep_state_for``, all but its state, counts and
        settings (less the fetch settings, ``config``, which may hold credentials), which
        then expire after that many seconds (so that workers started apart,
        which look once a second, see that the job is finished rather than gone, and
        ``corral status`` says how it ended).

        Its settings go first, in one step: a worker's script finds the job gone from then
        on, and recreates none of its keys while the others go (``_scripts``' ``fence``)."""
        from corral.http.scale._binding import delete_keys

        await delete_keys(self._client, self.prefix, keep_state_for)


def _task(token: bytes, host: bytes, element: bytes, attempts: bytes) -> Task:
    ident, url, *request = element[8:].decode().split(_SEP, 2)
    stored = request[0] if request else None
    return Task(token.decode(), int(ident), url, host.decode(), stored, int(attempts))


def _outcome(entry_id: bytes, fields: dict[bytes, bytes]) -> Outcome:
    result, extra, proxies = decode_outcome(fields[b"data"], fields.get(b"body"))
    worker = fields[b"worker"].decode()
    ident = int(fields[b"ident"])
    return Outcome(
        entry_id.decode(), ident, result, worker, extra, proxies,
        fields.get(b"new"), fields.get(b"fp", b""),
    )  # fmt: skip
