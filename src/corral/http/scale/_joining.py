"""A ``corral worker`` joining its job: Redis reached (waiting it out when it is away), the
job's settings read (waiting for its coordinator when the worker came first)."""

from __future__ import annotations

import asyncio
import sys

from corral import to_thread
from corral.http._errors import RedisUnreachable, ScaleError
from corral.http.engine._config import FetchConfig
from corral.http.scale._queue import JobQueue
from corral.http.scale._redis import masked
from corral.http.scale._wire import config_from_json

RETRY_EVERY = 2.0  # seconds between tries while Redis is away


async def ready_job(
    url: str, job: str, *, local: bool = False
) -> tuple[JobQueue, FetchConfig, dict[str, str]] | None:
    """Return the job's queue, configuration and settings, once Redis and the job are there;
    None for a ``local`` worker that finds the job over already: its coordinator's (a run
    that had nothing left to fetch: the summary said it), or one joining a job started
    afresh again (that job ended meanwhile): nothing to say."""
    queue = await _connect(url, job)
    try:
        settings = await _job_settings(queue)
        if local and settings.get("state") != "running":
            await queue.close()
            return None
        config = _job_config(queue, settings)
        if config.proxy_ca is not None:  # (a path: on this machine too?)
            await _check_ca(queue, config)
        return queue, config, settings
    except BaseException:
        await queue.close()
        raise


async def _connect(url: str, job: str) -> JobQueue:
    said = False
    while True:
        try:
            return await JobQueue.connect(url, job)
        except RedisUnreachable as exc:
            if not said:  # one line for the whole wait, as once connected
                said = True
                _say(f"corral worker: {exc.message}: retrying every {RETRY_EVERY:g} s")
            await asyncio.sleep(RETRY_EVERY)


def _job_config(queue: JobQueue, settings: dict[str, str]) -> FetchConfig:
    if settings.get("state") != "running":
        raise ScaleError(f"job {queue.job} is {settings.get('state')}: nothing to do", exit_code=2)
    if settings.get("kind", "fetch") not in ("fetch", "crawl"):
        raise ScaleError(f"job {queue.job} is a {settings['kind']} job", exit_code=2)
    try:
        return config_from_json(settings["config"]) if "config" in settings else FetchConfig()
    except ValueError as exc:
        raise ScaleError(f"job {queue.job}: {exc}", exit_code=2) from None


async def _check_ca(queue: JobQueue, config: FetchConfig) -> None:
    from corral.http.engine._proxies import check_ca, is_pem

    assert config.proxy_ca is not None
    try:
        await to_thread(check_ca, config.proxy_ca, config.proxies)
    except ValueError as exc:
        if is_pem(config.proxy_ca):  # (the certificates the coordinator sent)
            where = f"the job's --proxy-ca certificates: {exc}"
        else:  # (a job configured with a path, from Python: read on this machine)
            where = f"--proxy-ca {config.proxy_ca}: {exc} (each worker reads the file at that path)"
        raise ScaleError(
            f"job {queue.job}: {where}",
            exit_code=2,
        ) from None


async def _job_settings(queue: JobQueue) -> dict[str, str]:
    """Return the job's settings, waiting for its coordinator to create the job if need be
    (workers are often started first): woken by the job's first URLs, not by polling."""
    said = False
    while (settings := await queue.settings()) is None:
        if not said:
            said = True
            _say(
                f"corral worker: no job {queue.job} on {masked(queue.url)} yet: waiting for "
                "its coordinator (corral fetch ... --redis ... --job ...)"
            )
        await queue.wait_for_work(None)
    return settings


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
