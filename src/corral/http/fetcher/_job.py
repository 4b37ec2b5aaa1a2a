"""The ``corral fetch`` job: input file -> frontier -> engine -> writer -> store, resumable.

Fetch is a crawl that discovers nothing: it runs on the job pipeline (``corral.http.pipeline``)
as the crawl does, with its own source of work and its own commit.

- The **source** of work yields the rows earlier runs left pending, then reads the input as
  the fetching needs more (a thousand lines at a time, parsed in a thread), adds each batch to
  the store's frontier (where duplicates and URLs done by an earlier run are recognised) and
  yields their flights with their frontier ids.
- The **engine** fetches them (per-host politeness, retries); its workers hand each final
  record to the **writer**, which batches them (``--concurrency`` records, or what came in
  100 ms) into one transaction each.

Killed at any moment, the job loses only records not yet committed: their URLs are still
pending in the frontier, so the same command fetches them again, and only them: the
requests in flight and at most about one batch of responses received (``--concurrency``).
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Literal

from corral import to_thread
from corral._clierrors import OutputError
from corral.http._faults import StoreError, describe_fault
from corral.http.engine._config import FetchConfig
from corral.http.engine._engine import utc_now
from corral.http.engine._flight import Flight
from corral.http.engine._jarfile import JarKeeper
from corral.http.engine._result import FetchResult
from corral.http.engine._runtime import Runtime, count
from corral.http.fetcher._input import count_lines, open_input, read_requests
from corral.http.pipeline._drive import Driver, drive
from corral.http.pipeline._end import Ending, run_to_end
from corral.http.pipeline._flights import flight_of_line, flight_of_row
from corral.http.pipeline._open import open_store
from corral.http.pipeline._writer import BatchWriter
from corral.http.report._stats import FetchStatistics, RunCounters
from corral.http.report._summary import fetched_again, retry_lines, worker_fields
from corral.http.scale._address import RedisTarget
from corral.http.scale._coordinate import coordinating
from corral.http.scale._processes import ProcessDriver
from corral.http.store._frontier import Done, Frontier
from corral.http.store._refresh import Refresh
from corral.http.store._sqlite import SQLiteFrontier

ProgressMode = Literal["auto", "bar", "plain", "off"]
_LEFTOVERS = 500  # frontier rows left by earlier runs, read at a time


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchJob:
    """One ``corral fetch`` invocation.

    Attributes:
        input: a file path, or ``-`` for stdin.
        output: a SQLite path (the default store), a ``.jsonl`` path, or ``-`` for stdout.
        config: how to fetch.
        progress: ``auto`` (a bar on a terminal, plain lines otherwise), ``bar``, ``plain``
            or ``off``.
        quiet: print no summary either (an interrupted run still says how to resume).
        fail_on_error: exit 1 when any URL ended in an error.
        argv: the command line, repeated in the resume hint.
        overwrite: replace an existing output that is not this job's (else it is refused).
        workers: worker processes that fetch (1: this process fetches, as always; more:
            ``corral.http.scale._processes``, this process reading and writing the store).
        refresh: fetch again the input's URLs the store recorded (``docs/fetch.md``,
            "Refresh"); None: a URL recorded once is done.
        notes: lines to print once the run is accepted (the store open), unless quiet.
        keep_jar: ``overwrite`` leaves the cookie jar beside the output (``--cookie-jar``
            named it); else it goes with the output.
    """

    input: str
    output: str
    config: FetchConfig
    progress: ProgressMode = "auto"
    quiet: bool = False
    fail_on_error: bool = False
    argv: Sequence[str] = ()
    overwrite: bool = False
    resumable: bool = True  # False: the same command cannot resume it (the demo's site is gone)
    redis: RedisTarget | None = None  # --redis URL --job NAME: workers anywhere fetch
    workers: int = 1  # worker processes on this machine (without --redis)
    refresh: Refresh | None = None  # --refresh: fetch again what the store recorded
    notes: Sequence[str] = ()
    keep_jar: bool = False


def output_kind(output: str) -> Literal["sqlite", "jsonl", "stdout"]:
    """Return how results are written for an ``-o`` value."""
    if output == "-":
        return "stdout"
    return "jsonl" if output.endswith((".jsonl", ".ndjson")) else "sqlite"


async def run_fetch_job(job: FetchJob) -> int:
    """Run the job to the end (or to Ctrl-C) and return the process exit code.

    Raises:
        InputError: the input cannot be opened.
        OutputError: the output cannot be used, or failed on its files (a full disk...).
    """
    kind = output_kind(job.output)
    async with contextlib.AsyncExitStack() as stack:
        files = stack.enter_context(contextlib.ExitStack())
        source = await to_thread(open_input, job.input, files)
        coordination = None
        if job.redis is not None:  # before the store opens: a bad address changes nothing
            coordination = await stack.enter_async_context(
                coordinating(
                    job.redis,
                    job.config,
                    job.output,
                    state=_state_path(job.output, kind),
                    overwrite=job.overwrite,
                )
            )

        async def opening() -> SQLiteFrontier:
            store = await to_thread(_open_store, job, kind, files)
            await store.open(job.argv, utc_now())
            return store

        store = await open_store(
            job.output,
            kind,
            opening,
            overwrite=job.overwrite,
            quiet=job.quiet,
            notes=job.notes,
            keep_jar=job.keep_jar,
        )
        runtime = Runtime(job.config, output=job.output)
        if coordination is not None:
            coordination.keeper = runtime.keeper  # (its cookies go through Redis)
        driver = (
            ProcessDriver(job.config, job.workers, jars=runtime.cookies)
            if job.workers > 1
            else None
        )
        mode = job.progress
        if kind == "stdout" and mode == "auto" and sys.stdout.isatty():
            mode = "plain"  # records go to the terminal: no live bar to redraw around them

        async def work() -> None:
            if coordination is not None:  # workers anywhere fetch, through Redis
                await coordination.start(store.identity)
                coordinator = coordination.driver
                await _fetch(store, coordinator, runtime, source, after=coordinator.committed)
                coordination.complete = True
            elif driver is not None:  # the children fetch: this process needs no session
                await runtime.open_cookies()  # (but keeps the run's cookies, if any)
                try:
                    await _fetch(store, driver, runtime, source)
                finally:
                    await runtime.close()
            else:
                async with runtime:
                    await _fetch(store, runtime.engine, runtime, source)

        def statistics() -> FetchStatistics:
            stats = runtime.statistics()
            if job.refresh is not None and job.refresh.failed_only:  # --retry-failed
                stats = replace(stats, retried=stats.refreshed, refreshed=0)
            return stats if driver is None else driver.amend(stats)

        async def close(status: str, stats: FetchStatistics) -> None:
            await store.finish(status, utc_now(), _summary_fields(stats))

        ending = Ending(
            kind=kind,
            quiet=job.quiet,
            argv=job.argv,
            resumable=job.resumable,
            notes=lambda: retry_lines(*_failed(store, kind, job)),
        )
        stats = await run_to_end(
            work,
            statistics=statistics,
            progress=mode,
            close=close,
            ending=ending,
            sample=store.sample if kind == "sqlite" else None,
            # (this process's politeness paces the requests only when it fetches itself)
            events=runtime.politeness.take_events
            if driver is None and coordination is None
            else None,
        )
    # a proxy refused its credentials: the run's configuration is wrong, whatever
    # --fail-on-error (the summary says what to do)
    return 1 if (job.fail_on_error and stats.failed) or _failed(store, kind, job)[1] else 0


def _failed(store: Any, kind: str, job: FetchJob) -> tuple[int, int]:
    """Return the records a ``--retry-failed`` run fetches again, and how many of them a
    proxy refused for its credentials (none for stdout, which cannot be run again)."""
    if kind == "stdout" or not job.resumable:
        return 0, 0
    return int(store.failed), int(store.refused)


async def _fetch(
    store: Frontier,
    driver: Driver,
    runtime: Runtime,
    source: IO[str],
    *,
    after: Callable[[list[int]], Awaitable[None]] | None = None,
) -> None:
    """Fetch the input's URLs (and those earlier runs left pending) into the store, with
    ``driver`` (the runtime's engine, the worker processes, or the Redis coordinator);
    ``after(ids)`` runs once the records of those frontier rows are committed."""
    counters = runtime.counters
    commit = fetch_commit(store, runtime.config, counters, after=after, keeper=runtime.keeper)
    writer = BatchWriter(commit, concurrency=runtime.config.concurrency)
    add = writer.add

    async def sink(flight: Flight, result: FetchResult) -> None:
        assert isinstance(flight.ident, int)
        counters.queued -= 1
        await add(Done(flight.ident, result))

    await drive(driver, _flights(store, counters, source), counters, sink, writer)


async def _flights(
    store: Frontier, counters: RunCounters, source: IO[str]
) -> AsyncIterator[list[Flight]]:
    """Yield what to fetch, a list at a time: the input's URLs not done before (new, or
    left pending by an earlier run), then what earlier runs left pending that this
    input does not have.

    The input is read as the fetching needs more (a thousand lines at a time, in a
    thread), each batch added to the store before its flights go out, so memory stays
    bounded and the store knows of a URL before it is fetched.
    """
    known = 0
    if source is not sys.stdin:  # a first guess for the progress display's total
        counters.total = await to_thread(count_lines, source)
    async for batch in read_requests(source):
        added, new = await store.add(batch)
        counters.duplicates += added.duplicates
        counters.skipped += added.earlier_done
        counters.refreshed += added.refreshed
        known += added.new + added.earlier_pending + added.earlier_done + added.refreshed
        counters.queued += len(new)
        if new:
            yield [flight_of_line(ident, item) for ident, item in new]
    after = 0
    while rows := await store.leftovers(after, _LEFTOVERS):
        after = rows[-1].id
        known += len(rows)
        counters.queued += len(rows)
        yield [flight_of_row(row) for row in rows]
    counters.total = known


def fetch_commit(
    store: Frontier,
    config: FetchConfig,
    counters: RunCounters,
    *,
    after: Callable[[list[int]], Awaitable[None]] | None = None,
    keeper: JarKeeper | None = None,
) -> Callable[[list[Done]], Coroutine[Any, Any, None]]:
    """Return the fetch job's commit for the writer: count the records as done (once handed
    to the store), write their bodies to ``--bodies-dir`` if asked, save the cookie jars
    ``keeper`` keeps if responses changed them (before their records are in the store), and
    commit their rows in one store transaction; then ``after(ids)``."""
    directory = config.bodies_dir if config.save_bodies == "dir" else None
    bodies_dir = Path(directory) if directory is not None else None

    async def commit(batch: list[Done]) -> None:
        for done in batch:
            count(counters, done.result)
        if bodies_dir is not None:
            batch = [Done(d.ident, await _save_body(bodies_dir, d.result)) for d in batch]
        if keeper is not None:
            await keeper.save_before_commit()
        committed = await store.commit(batch)
        if committed.changes:
            counters.by_change.update(committed.changes)
        if after is not None:
            await after([done.ident for done in batch])

    return commit


async def _save_body(directory: Path, result: FetchResult) -> FetchResult:
    if result.body is None or result.sha256 is None:
        return result
    path = directory / result.sha256[:2] / result.sha256
    try:
        await to_thread(_write_file, path, result.body)
    except OSError as exc:  # a full disk, a read-only directory: the run's problem, not a URL's
        raise StoreError(describe_fault(str(path), exc, resumable=True)) from exc
    return replace(result, body=None, body_path=str(path))


def _write_file(path: Path, body: bytes) -> None:
    if path.exists():
        return  # same content, same name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(body)
    tmp.replace(path)


def _state_path(output: str, kind: str) -> str | None:
    """Return the store's database of an output (None: one made for the run, for stdout)."""
    return None if kind == "stdout" else output + (".corral-state" if kind == "jsonl" else "")


def _open_store(job: FetchJob, kind: str, files: contextlib.ExitStack) -> SQLiteFrontier:
    body_as = "base64" if job.config.save_bodies == "store" else "omit"  # (JSON lines)
    try:
        if kind == "sqlite":
            return SQLiteFrontier(job.output, refresh=job.refresh)
        if kind == "jsonl":
            # unbuffered: a failed write leaves nothing pending to go out later, so the file
            # can be cut back to its committed length at once (a full disk)
            out = files.enter_context(open(job.output, "a+b", buffering=0))  # noqa: SIM115
            state = f"{job.output}.corral-state"
            return SQLiteFrontier(state, jsonl=out, body_as=body_as, refresh=job.refresh)
        tmp = files.enter_context(tempfile.TemporaryDirectory(prefix="corral-"))
        return SQLiteFrontier(
            Path(tmp) / "state.db", jsonl=sys.stdout.buffer, append_only=True, body_as=body_as
        )
    except OSError as exc:
        raise OutputError(f"cannot write output {job.output}: {exc.strerror or exc}") from None


def _summary_fields(stats: FetchStatistics) -> dict[str, object]:
    return {
        "done": stats.done,
        "ok": stats.ok,
        "failed": stats.failed,
        "skipped": stats.skipped,
        "duplicates": stats.duplicates,
        "retries": stats.retries,
        "elapsed": round(stats.elapsed, 3),
        "by_status": {str(k): v for k, v in stats.by_status.items()},
        "by_error": dict(stats.by_error),
        "refreshed": fetched_again(stats),
        "queued_again": stats.refreshed,
        "retried": stats.retried,
        "by_change": dict(stats.by_change),
        **worker_fields(stats),
    }
