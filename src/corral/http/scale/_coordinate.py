"""The coordinator's side of a distributed job: bind the job to its store, run local workers.

``coordinating(...)`` connects to Redis, checks that the job name is free or is this store's
own (a job is written into one store, known by its id: ``_binding``), and yields the
``Coordination``; its ``start``, once the store is open, binds the job to the store (resumed,
or started afresh), writes the job's settings, starts the local workers (``--workers N``,
each a ``corral worker`` process); the job pipeline fetches through its ``RedisDriver``.
At the end:

- the job complete: its state becomes ``finished`` (workers anywhere exit), the local workers
  are waited for, and the job's keys are deleted from Redis (the store has everything) but
  its settings and state, which expire after ten minutes: a worker started apart that looks
  meanwhile sees the job finished and exits, where a job gone would keep it waiting;
- interrupted or failed: the local workers are stopped, the job stays in Redis as it is
  (remote workers go on until the results wait undrained), and the same command resumes it.

With ``--cookies``, the run's jars (the job's ``JarKeeper``, ``Coordination.keeper``) go into
Redis as the job starts, come back from it every few seconds to be saved, and a last time
at the end (before the keys are deleted) or on an interrupt (``_sharedjars``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

from corral import to_thread
from corral.http._errors import ScaleError
from corral.http.engine._config import FetchConfig
from corral.http.engine._jarfile import JarKeeper
from corral.http.engine._proxies import read_ca
from corral.http.report._human import human_many
from corral.http.scale._address import RedisTarget
from corral.http.scale._binding import belongs, new_epoch, refusal, running
from corral.http.scale._coordinator import RedisDriver
from corral.http.scale._crawldriver import RedisCrawlDriver
from corral.http.scale._link import Link
from corral.http.scale._redis import masked, outage_errors
from corral.http.scale._wire import config_to_json
from corral.http.store._output import store_id_at

if TYPE_CHECKING:
    from corral.http.scale._queue import JobQueue
    from corral.http.scale._sharedjars import SharedJars

_LEASE_MS = 30_000  # a lease lasts 30 s unless renewed (workers renew every 10 s)
_WORKER_EXIT = 30.0  # seconds local workers get to exit once the job is finished
_STOP_WAIT = 6.0  # seconds stopped local workers get to end (under the 10 s interrupt deadline)
_DEATHS = 5  # local workers replaced at most in a run
_FINISHED_KEPT = 600.0  # seconds a finished job's state stays for workers started apart
_PULL_EVERY = 2.0  # seconds between two reads of the job's cookie jars (when they changed)


class Coordination:
    """What ``coordinating`` yields: the driver, and how the run ended (set by the job).

    ``start()`` writes the job into Redis and starts the local workers: the job calls it once
    its store is open, so that a run refused (a foreign ``-o``, a store in use) leaves no job
    behind in Redis.
    """

    def __init__(
        self, driver: RedisDriver, queue: JobQueue, settings: dict[str, str], target: RedisTarget
    ) -> None:
        self.driver = driver
        self.overwrite = False  # the store is made afresh: so is the job (``_binding``)
        self.resumes: str | None = None  # the epoch of the job found this store's, if any
        self.complete = False  # the job sets it once every record is in the store
        # ... and what it left pending, for ``corral status`` ("1 URL of 1 host ...")
        self.held_back = ""
        self.workers: list[asyncio.subprocess.Process] = []
        self._queue, self._settings, self._target = queue, settings, target
        self._watch: asyncio.Task[None] | None = None
        self.keeper: JarKeeper | None = None  # the run's cookies (--cookies): the job's
        self._jars: SharedJars | None = None
        self._pulling: asyncio.Task[None] | None = None
        self._saved = asyncio.Event()  # (set: the jars were read a last time)

    async def start(self, identity: tuple[str, str]) -> None:
        """Bind the job to the store (its id and when it was made: ``identity``), write the
        job's settings (and cookies) into Redis and start the local workers.

        Raises:
            ScaleError: the job is another store's (without ``overwrite``), or its
                coordinator may be running.
        """
        await self._bind(*identity)
        await self._queue.configure(self._settings)
        # (at once, not in 5 s: a run that would start the job afresh sees this one alive)
        await self._queue.heartbeat("coordinator", {"recorded": 0, "waiting": 0})
        if self.keeper is not None:
            await self.keeper.open()
            self._jars = self._queue.jars()
            await self._jars.seed(self.keeper.jars)
            self._pulling = asyncio.get_running_loop().create_task(self._pull_often())
        self.workers = [await _start_worker(self._target) for _ in range(self._target.workers)]
        self._watch = asyncio.get_running_loop().create_task(self._replace_the_dead())

    async def _bind(self, store_id: str, made: str) -> None:
        """Resume the job if it is this store's, else start it afresh (``_binding``)."""
        queue, settings = self._queue, self._settings
        found = await queue.settings()
        if found is not None:  # (a finished job of this store: its counts go on)
            same = self.resumes is not None and found.get("epoch", "") == self.resumes
            if same or belongs(found, store_id, settings["store"]):
                settings |= {"epoch": found.get("epoch") or new_epoch()}
                settings |= {"store_id": store_id, "store_made": made}
                return
        if running(found) and found is not None:
            if not self.overwrite:
                raise refusal(queue, found)
            await queue.binding().check_no_coordinator(found, settings["store"])
        await queue.binding().start_afresh()  # (another store's finished job's state too)
        settings |= {"epoch": new_epoch(), "store_id": store_id, "store_made": made}

    async def _replace_the_dead(self) -> None:
        """Start a new local worker for each that ends while the job runs (one line each);
        after ``_DEATHS`` of them, say so and start no more."""
        deaths = 0
        while self.workers:
            waits = {asyncio.ensure_future(w.wait()) for w in self.workers}
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            for worker in [w for w in self.workers if w.returncode is not None]:
                self.workers.remove(worker)
                deaths += 1
                again = deaths <= _DEATHS
                released = await self._release(worker)
                _say(
                    f"corral: local worker {worker.pid} ended (exit code {worker.returncode})"
                    + (f", its {human_many(released, 'URL')} handed back" if released else "")
                    + ("; starting another" if again else "; starting no more (too many ended)")
                )
                if again:
                    self.workers.append(await _start_worker(self._target))

    async def _release(self, worker: asyncio.subprocess.Process) -> int:
        """Hand back what a local worker that ended held (its name is the default one:
        host name and process id); 0 when Redis cannot be reached now (the leases then
        expire as for a worker on another machine)."""
        try:
            return await self._queue.release(f"{socket.gethostname()}-{worker.pid}")
        except outage_errors():
            return 0

    async def _pull_often(self) -> None:
        """Read the job's jars into the keeper every ``_PULL_EVERY`` s (it saves them); an
        outage waits for the next time."""
        while not self._saved.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_PULL_EVERY):
                    await self._saved.wait()
            if not self._saved.is_set():
                await self._pull()

    async def _pull(self) -> None:
        if self._jars is not None and self.keeper is not None:
            with contextlib.suppress(*outage_errors()):
                await self._jars.pull(self.keeper.jars)

    async def save_cookies(self) -> None:
        """Read the job's jars a last time, and save them (the end, or an interrupt)."""
        if self.keeper is None or self._saved.is_set():
            return
        self._saved.set()
        if self._pulling is not None:
            await self._pulling  # (it ends within a call to Redis)
        await self._pull()
        await self.keeper.close()

    def stop_watching(self) -> None:
        if self._watch is not None:
            self._watch.cancel()  # (it waits on processes only: safe to cancel)


@asynccontextmanager
async def coordinating(
    target: RedisTarget,
    config: FetchConfig,
    store: str,
    *,
    kind: str = "fetch",
    extra: Mapping[str, str] | None = None,
    state: str | None = None,
    overwrite: bool = False,
) -> AsyncIterator[Coordination]:
    """Coordinate the job ``target`` writing into ``store`` (see the module notes);
    ``state``: the store's database (None: made for the run), ``overwrite``: made afresh.

    Raises:
        ScaleError: Redis cannot be reached or is too old, or the job name is taken by
            another store or another kind of job.
    """
    from corral.http.scale import _queue  # (redis-py, loaded when a job needs it)

    queue = await _queue.JobQueue.connect(target.url, target.job)
    try:
        owner = _owner(store)
        found = await _check(queue, target, kind)
        store_id = None if overwrite or state is None else await to_thread(store_id_at, state)
        if running(found) and found is not None and not belongs(found, store_id, owner):
            if not overwrite:  # (before the store opens: nothing written)
                raise refusal(queue, found)
            await queue.binding().check_no_coordinator(found, owner)
        # (the cookies' file is the coordinator's: the workers keep theirs in Redis; the
        # proxies' CA goes as its certificates: a path means nothing on another machine)
        sent = replace(config, cookie_jar=None, proxy_ca=await _ca_text(config.proxy_ca))
        settings = {
            "kind": kind,
            "store": owner,
            "config": config_to_json(sent),
            "per_host": str(config.per_host),
            "gap_ms": str(gap_ms(config)),
            "lease_ms": str(_LEASE_MS),
            "max_results": str(max(10_000, 20 * config.concurrency)),
            **(extra or {}),  # a crawl's: its parse settings, for the workers
        }
        link = Link(queue)
        # (a crawl's frontier and seen set are Redis's: _crawldriver)
        kept = RedisCrawlDriver if kind == "crawl" else RedisDriver
        driver = kept(link, settings, window=max(10_000, 50 * config.concurrency))
        coordination = Coordination(driver, queue, settings, target)
        coordination.overwrite = overwrite
        if running(found) and found is not None and belongs(found, store_id, owner):
            coordination.resumes = found.get("epoch", "")
        try:
            yield coordination
        finally:
            coordination.stop_watching()
            await _end(coordination, queue, coordination.workers)
    finally:
        await queue.close()


async def _ca_text(ca: str | None) -> str | None:
    """Return the PEM text of ``--proxy-ca`` for the job's settings.

    Raises:
        ScaleError: the file cannot be read (any more: the command line checked it).
    """
    try:
        return await to_thread(read_ca, ca)
    except OSError as exc:
        raise ScaleError(f"--proxy-ca {ca}: cannot read it: {exc.strerror or exc}") from None


def gap_ms(config: FetchConfig) -> int:
    """Return the least milliseconds between two request starts to one host (0: no --rate)."""
    return round(config.rate_interval * 1000)


def _owner(store: str) -> str:
    """Return who writes the job: this machine and the store's absolute path."""
    return f"{socket.gethostname()}:{os.path.abspath(store)}"


async def _check(queue: JobQueue, target: RedisTarget, kind: str) -> dict[str, str] | None:
    """Return the job's settings, refusing a job of the other kind.

    Raises:
        ScaleError: the job is of another kind.
    """
    settings = await queue.settings()
    if not running(settings) or settings is None:
        return settings  # a free name (a finished job's stays a while for its workers: _end)
    where = f"job {target.job!r} on {masked(target.url)}"
    if settings.get("kind", kind) != kind:
        raise ScaleError(
            f"{where} is a {settings['kind']} job, not a {kind}: give this one another --job name"
        )
    return settings


async def _start_worker(target: RedisTarget) -> asyncio.subprocess.Process:
    """Start a local ``corral worker``, tied to this process by its stdin: when the pipe
    closes (this process hangs up, ends, or is killed), it stops."""
    command = [sys.executable, "-m", "corral", "worker", "--job", target.job]
    command.append("--until-stdin-closes")
    # the URL (its password) in the environment: a command line is any user's to read
    env = {**os.environ, "CORRAL_REDIS_URL": target.url}
    return await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.PIPE, env=env)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def _end(
    coordination: Coordination, queue: JobQueue, workers: list[asyncio.subprocess.Process]
) -> None:
    if not coordination.complete:
        _hang_up(workers)  # at once, before any await: a second signal may end us any time
    try:
        if coordination.complete:
            await queue.finish("finished", held_back=coordination.held_back)
            _hang_up(workers)  # (they would see the state within a second; this is at once)
            await _wait_for(workers, _WORKER_EXIT)
            await coordination.save_cookies()  # (before the keys go)
            await queue.delete(keep_state_for=_FINISHED_KEPT)
    finally:
        _hang_up(workers)
        await asyncio.shield(_reap(workers))
        # (interrupted: the job stays in Redis, its cookies too, and the file has them)
        await asyncio.shield(coordination.save_cookies())


def _hang_up(workers: list[asyncio.subprocess.Process]) -> None:
    """Close the local workers' stdin: each stops claiming and ends its requests in flight."""
    for worker in workers:
        if worker.stdin is not None and not worker.stdin.is_closing():
            worker.stdin.close()


async def _wait_for(workers: list[asyncio.subprocess.Process], seconds: float) -> None:
    if workers:
        await asyncio.wait([asyncio.ensure_future(w.wait()) for w in workers], timeout=seconds)


async def _reap(workers: list[asyncio.subprocess.Process]) -> None:
    """Wait for the local workers to end (within the interrupt's deadline), killing those
    still running after ``_STOP_WAIT``; leave no zombie."""
    running = [w for w in workers if w.returncode is None]
    await _wait_for(running, _STOP_WAIT)
    for worker in running:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
