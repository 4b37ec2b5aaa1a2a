"""The ``corral fetch`` job: input file -> frontier -> fetcher -> store, resumable.

- The **source** of work yields the rows earlier runs left pending, then reads the input as
  the fetching needs more (a thousand lines at a time, parsed in a thread), adds each batch to
  the store's frontier (where duplicates and URLs done by an earlier run are recognised) and
  yields the new rows with their frontier ids.
- The fetcher's **engine** fetches them (per-host politeness, retries); its workers hand each
  final record to the **writer**, which batches them (``--concurrency`` records, or what
  came in 100 ms) into one transaction each.

Killed at any moment, the job loses only records not yet committed: their URLs are still
pending in the frontier, so the same command fetches them again, and only them: the
requests in flight and at most about one batch of responses received (``--concurrency``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import shlex
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from corral import open_scope, to_thread
from corral._exceptions import OutputError
from corral.http.engine._config import FetchConfig
from corral.http.engine._engine import Job, utc_now
from corral.http.engine._request import InvalidLine, Request, count_lines, read_requests
from corral.http.engine._result import FetchResult
from corral.http.fetcher._fetcher import Fetcher, count, invalid_record
from corral.http.fetcher._input import open_input
from corral.http.pipeline._interrupt import stoppable
from corral.http.report._human import human_count
from corral.http.report._progress import open_progress, render_summary
from corral.http.report._stats import FetchStatistics, RunCounters
from corral.http.report._summary import StoreKind
from corral.http.store._faults import StoreError, describe_fault
from corral.http.store._frontier import Done, PendingRow
from corral.http.store._output import prepare_output
from corral.http.store._sqlite import SQLiteFrontier, write_through

ProgressMode = Literal["auto", "bar", "plain", "off"]
_BATCH = 500  # frontier rows read at a time, and records a transaction at most
_FLUSH_SECONDS = 0.1


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
    with contextlib.ExitStack() as files:
        source = await to_thread(open_input, job.input, files)
        check = functools.partial(prepare_output, job.output, kind, overwrite=job.overwrite)
        await to_thread(check)
        store = await to_thread(_open_store, job, kind, files)
        try:
            await store.open(job.argv, utc_now())
        except StoreError as exc:
            raise OutputError(str(exc)) from None
        if store.earlier is not None and not job.quiet:
            print(f"corral: {store.earlier.note()}", file=sys.stderr)
        fetcher = Fetcher(job.config, output=job.output)
        runner = _Runner(job, store, fetcher)
        status = "interrupted"
        mode = job.progress
        if kind == "stdout" and mode == "auto" and sys.stdout.isatty():
            mode = "plain"  # records go to the terminal: no live bar to redraw around them
        fault: StoreError | None = None
        try:
            async with fetcher, open_progress(fetcher.statistics, mode=mode), stoppable():
                await runner.run(source)
            status = "finished"
        except StoreError as exc:  # the output failed: its one line says all (no summary)
            fault, status = exc, "failed"
        except BrokenPipeError:  # the reader of stdout went away (`| head`): exit 141
            status = "stopped"
            raise
        finally:
            stats = fetcher.statistics()
            fault = await _finish(store, status, stats, fault)
            if fault is None:
                _report(job, kind, status, stats)
    if fault is not None:
        raise OutputError(str(fault))
    if job.fail_on_error and stats.failed:
        return 1
    return 0


def _report(job: FetchJob, kind: StoreKind, status: str, stats: FetchStatistics) -> None:
    """Print the summary: always for a run that did not finish, else unless --quiet. A run
    whose stdout reader went away says so first (with --quiet, that line alone)."""
    head = None
    if status == "stopped":
        written = human_count(stats.done)  # (the last batch went out in part, maybe)
        if stats.total is not None:  # (None: stdin not read to its end)
            written += f" of {human_count(stats.total)}"
        head = f"corral: stopped: the reader of stdout went away ({written} URLs written)"
        if job.quiet:
            print(head, file=sys.stderr)
            return
    stopped = status == "interrupted"
    resume = shlex.join(job.argv) if stopped and kind != "stdout" and job.resumable else None
    if not job.quiet or stopped:
        summary = render_summary(
            stats, store_kind=kind, resume_command=resume, interrupted=stopped, head=head
        )
        print(summary, file=sys.stderr)


async def _finish(
    store: SQLiteFrontier, status: str, stats: FetchStatistics, fault: StoreError | None
) -> StoreError | None:
    """Record how the run ended; return the fault that ended it, or the one finishing met
    (a store deleted during the run is noticed here at the latest)."""
    try:
        await store.finish(status, utc_now(), _summary_fields(stats))
    except StoreError as exc:
        return fault or exc
    return fault


class _Runner:
    """The job's source of work (leftovers, then the input) and its fetch-and-write loop."""

    def __init__(self, job: FetchJob, store: SQLiteFrontier, fetcher: Fetcher) -> None:
        self.job = job
        self.store = store
        self.fetcher = fetcher
        self.counters: RunCounters = fetcher.counters

    async def run(self, source: IO[str]) -> None:
        await self._fetch(source)

    async def _jobs(self, source: IO[str]) -> AsyncIterator[list[Job]]:
        """Yield what to fetch, a list at a time: the input's URLs not done before (new, or
        left pending by an earlier run), then what earlier runs left pending that this
        input does not have.

        The input is read as the fetching needs more (a thousand lines at a time, in a
        thread), each batch added to the store before its jobs go out, so memory stays
        bounded and the store knows of a URL before it is fetched.
        """
        counters = self.counters
        known = 0
        if source is not sys.stdin:  # a first guess for the progress display's total
            counters.total = await to_thread(count_lines, source)
        async for batch in read_requests(source):
            added, new = await self.store.add(batch)
            counters.duplicates += added.duplicates
            counters.skipped += added.earlier_done
            known += added.new + added.earlier_pending + added.earlier_done
            counters.queued += len(new)
            if new:
                yield [_job_for(ident, item) for ident, item in new]
        after = 0
        while rows := await self.store.leftovers(after, _BATCH):
            after = rows[-1].id
            known += len(rows)
            counters.queued += len(rows)
            yield [_job_of(row) for row in rows]
        counters.total = known

    async def _fetch(self, source: IO[str]) -> None:
        body_as = "base64" if self.job.config.save_bodies == "store" else "omit"
        writer = _Writer(self.store, body_as, self.fetcher.config, self.counters)
        engine = self.fetcher.engine()

        async with open_scope() as scope:
            ticker = await scope.spawn(self._tick, writer)
            try:
                await engine.drive(self._jobs(source), self.counters, writer.add)
            finally:
                ticker.cancel()
                await asyncio.shield(writer.close())

    async def _tick(self, writer: _Writer) -> None:
        """Commit what the batch holds every ``_FLUSH_SECONDS`` (so a kill loses little)."""
        while True:
            await asyncio.sleep(_FLUSH_SECONDS)
            await writer.flush()


class _Writer:
    """Batch final records into store transactions, one at a time (backpressure on fetching).

    Workers add records; the one that fills a batch writes it while the others go on filling
    the next; the job's ticker writes a batch that is not full every ``_FLUSH_SECONDS``.

    A batch is full at ``concurrency`` records (at most ``_BATCH``): a ``kill -9`` then
    throws away about one concurrency window of responses received, which the resumed run
    fetches again. (At 500 a batch it was about 400 at the default concurrency of 100:
    issue 12, item 11.) When records come slower, the ticker's 100 ms commits hold fewer.
    """

    def __init__(
        self, store: SQLiteFrontier, body_as: str, config: FetchConfig, counters: RunCounters
    ) -> None:
        self._store = store
        self._counters = counters
        self._body_as = body_as
        directory = config.bodies_dir if config.save_bodies == "dir" else None
        self._bodies_dir = Path(directory) if directory is not None else None
        self._batch: list[tuple[int, FetchResult]] = []
        self._full = max(1, min(_BATCH, config.concurrency))
        self._lock = asyncio.Lock()

    async def add(self, job: Job, result: FetchResult) -> None:
        """Take a URL's final record (the engine's sink)."""
        assert isinstance(job.ident, int)
        self._counters.queued -= 1
        self._batch.append((job.ident, result))
        if len(self._batch) >= self._full:
            await self.flush(at_least=self._full)

    async def flush(self, *, at_least: int = 1) -> None:
        """Write what the batch holds, if that is ``at_least`` records once it is our turn.

        (Workers that found the batch full queue here while one commits; without the check,
        each would commit the few records added since: many small transactions.)
        """
        async with self._lock:
            if len(self._batch) < at_least:
                return
            batch, self._batch = self._batch, []
            for _, result in batch:  # counted as done once handed to the store
                count(self._counters, result)
            await write_through(self._write(batch))

    async def _write(self, batch: list[tuple[int, FetchResult]]) -> None:
        if self._bodies_dir is not None:
            batch = [(ident, await _save_body(self._bodies_dir, r)) for ident, r in batch]
        await self._store.commit([Done(ident, r) for ident, r in batch])

    async def close(self) -> None:
        await self.flush()


async def _save_body(directory: Path, result: FetchResult) -> FetchResult:
    if result.body is None or result.sha256 is None:
        return result
    from dataclasses import replace

    from corral import to_thread

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


def _job_for(ident: int, item: Request | InvalidLine) -> Job:
    if isinstance(item, InvalidLine):
        return Job(None, ident, preset=invalid_record(item.text, item.reason))
    return Job(item, ident)


def _job_of(row: PendingRow) -> Job:
    if row.invalid is not None:
        return Job(None, row.id, preset=invalid_record(row.url, row.invalid))
    request = Request.from_stored(row.url, row.host, row.request, row.depth, row.found_on)
    return Job(request, row.id)


def _open_store(job: FetchJob, kind: str, files: contextlib.ExitStack) -> SQLiteFrontier:
    body_as = "base64" if job.config.save_bodies == "store" else "omit"  # (JSON lines)
    try:
        if kind == "sqlite":
            return SQLiteFrontier(job.output)
        if kind == "jsonl":
            # unbuffered: a failed write leaves nothing pending to go out later, so the file
            # can be cut back to its committed length at once (a full disk)
            out = files.enter_context(open(job.output, "a+b", buffering=0))  # noqa: SIM115
            return SQLiteFrontier(f"{job.output}.corral-state", jsonl=out, body_as=body_as)
        tmp = files.enter_context(tempfile.TemporaryDirectory(prefix="corral-"))
        state = Path(tmp) / "state.db"
        return SQLiteFrontier(state, jsonl=sys.stdout.buffer, append_only=True, body_as=body_as)
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
    }
