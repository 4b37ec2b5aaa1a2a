"""``run_worker``: join a job on Redis as a worker, until the job ends or a stop (the
worker itself: ``_worker.Worker``)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
from dataclasses import replace
from typing import IO

from corral.http._errors import ScaleError
from corral.http.scale._child import AfterFactory
from corral.http.scale._joining import ready_job
from corral.http.scale._queue import JobQueue
from corral.http.scale._signals import graceful_signals, unless_signalled
from corral.http.scale._worker import Worker


async def run_worker(
    url: str,
    job: str,
    *,
    concurrency: int | None = None,
    name: str | None = None,
    stop: asyncio.Event | None = None,
    lifeline: IO[str] | None = None,
    give_up_after: float | None = None,
    make_after: AfterFactory | None = None,
) -> int:
    """Work on ``job`` at the Redis at ``url`` until the job is finished or a stop.

    Args:
        concurrency: requests in flight at once (default: the job's).
        name: the worker's name in ``corral status`` (default: host name and process id).
        stop: set it to stop gracefully: no more claims, the work in flight committed.
        lifeline: a pipe from the process that started this worker: its end (that process
            hung up or died) stops the worker as ``stop`` does (exit 0).
        give_up_after: for a worker that is its own process (``corral worker``): seconds
            after a stop at which it ends the process, what it has not committed left to
            its leases (which expire, and other workers fetch those URLs).
        make_after: for a crawl job, what examines each page (``corral.http.crawler``'s
            ``RemoteExaminer``), made from the job's ``crawl`` settings; a crawl job is
            refused without it.

    Returns:
        0 when the job finished or ``stop`` was set; 130 / 143 after SIGINT / SIGTERM
        (handled the same way: the work in flight is finished and committed).

    Raises:
        ScaleError: no such job, the job is finished, or Redis too old.
    """
    again = False
    while True:  # (again when the job was started afresh meanwhile)
        worker = await _join(url, job, concurrency, name, lifeline, make_after, again=again)
        if isinstance(worker, int):
            return worker
        try:
            worker.give_up_after = give_up_after
            with graceful_signals(worker.stop):
                code = await worker.run(stop, lifeline)
        finally:
            await worker.queue.close()
        if not worker.replaced:
            return code
        again = True


async def _join(
    url: str,
    job: str,
    concurrency: int | None,
    name: str | None,
    lifeline: IO[str] | None,
    make_after: AfterFactory | None,
    *,
    again: bool,
) -> Worker | int:
    """Return the worker of ``job``, once it is there (an exit code: a signal came first, or
    the job is over for a local worker or one joining ``again``: 0, nothing to say)."""
    queue: JobQueue | None = None
    try:
        quiet = lifeline is not None or again
        ready, code = await unless_signalled(ready_job(url, job, local=quiet))
        if ready is None:  # a signal (nothing claimed yet: nothing to finish), or the job
            return 0 if code is None else code  # over already
        queue, config, settings = ready
        after = None
        if settings.get("kind", "fetch") == "crawl":
            if make_after is None:
                raise ScaleError(f"job {job} is a crawl job: run corral worker", exit_code=2)
            after = make_after(json.loads(settings.get("crawl", "{}")))
        if concurrency is not None:
            config = replace(config, concurrency=concurrency)
        worker = Worker(queue, config, name or f"{socket.gethostname()}-{os.getpid()}")
        worker.after, worker.epoch = after, settings.get("epoch", "")
        bind = getattr(after, "bind", None)  # a crawl's frontier in Redis: its rules here
        if bind is not None:
            worker.admit, worker.commit = bind(queue, worker.call)
        return worker
    except BaseException:
        if queue is not None:
            await queue.close()
        raise
