"""The job pipeline's batch writer: outcomes into store transactions, none ever dropped."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from corral.http.engine._config import FetchConfig
from corral.http.engine._request import InvalidLine, Request, parse_line
from corral.http.engine._result import FetchResult
from corral.http.fetcher._job import fetch_commit
from corral.http.pipeline import _writer
from corral.http.report._stats import RunCounters
from corral.http.store._frontier import Done
from corral.http.store._sqlite import SQLiteFrontier


def lines(*texts: str) -> list[Request | InvalidLine]:
    parsed = [parse_line(text, number) for number, text in enumerate(texts, 1)]
    return [item for item in parsed if item is not None]


async def test_a_flush_cancelled_while_waiting_for_the_store_still_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end of a run cancels the job's ticker; if it was flushing a batch that waited for
    the store's thread, that batch must still reach the store (it once lost 67 records)."""
    monkeypatch.setattr(_writer, "FLUSH_SECONDS", 3600.0)  # no batch comes due while adding
    path = tmp_path / "out.db"
    store = SQLiteFrontier(path)
    await store.open(["corral", "fetch"], "2026-11-21T00:00:00+00:00")
    _, new = await store.add(lines(*(f"http://a.test/{n}" for n in range(10))))
    counters = RunCounters(output=str(path))
    config = FetchConfig()
    writer = _writer.BatchWriter(
        fetch_commit(store, config, counters), concurrency=config.concurrency
    )
    for ident, item in new:
        assert isinstance(item, Request)
        record = FetchResult(url=item.url, status=200, ok=True, fetched_at="2026-11-21")
        await writer.add(Done(ident, record))

    await store._slot.acquire()  # the store's one thread is busy with an earlier write
    flushing = asyncio.ensure_future(writer.flush())
    await asyncio.sleep(0)  # the flush has taken the batch and waits for the thread
    flushing.cancel()
    store._slot.release()
    with contextlib.suppress(asyncio.CancelledError):
        await flushing
    assert flushing.cancelled()  # the cancellation still reaches the flushing task
    await writer.flush()
    await store.finish("finished", "2026-11-21T00:00:01+00:00", {})

    written, pending = await asyncio.to_thread(written_and_pending, path)
    assert (written, pending, counters.done) == (10, 0, 10)


def written_and_pending(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        written = conn.execute("SELECT count(*) FROM results").fetchone()[0]
        pending = conn.execute("SELECT count(*) FROM urls WHERE state = 0").fetchone()[0]
    return int(written), int(pending)
