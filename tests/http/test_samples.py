"""The run's samples (table ``samples``): written while a run goes, bounded however long."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from corral.http.engine._engine import utc_now
from corral.http.engine._politeness import Event
from corral.http.pipeline._sampler import sampling
from corral.http.report._stats import FetchStatistics, RunCounters
from corral.http.store._sqlite import SQLiteFrontier

# The test reads the store's file directly once the run is over.
pytestmark = pytest.mark.corral_guard(strict=False)


async def test_samples_stay_bounded_and_spread(tmp_path: Path) -> None:
    """Past the limit every other sample goes and the interval doubles: 40 samples taken
    with a limit of 8 leave between 4 and 8 rows, the first one kept, in order."""
    db = tmp_path / "s.db"
    store = SQLiteFrontier(db)
    await store.open(["corral", "fetch"], utc_now())
    counters = RunCounters(output=str(db))
    taken = 0
    enough = asyncio.Event()

    def statistics() -> FetchStatistics:
        counters.done += 1  # each sample sees one more record done
        return counters.snapshot()

    async def record(at: str, figures: tuple[int, ...], thin: bool, events: list[Event]) -> None:
        nonlocal taken
        await store.sample(at, figures, thin, events)
        taken += 1
        if taken == 40:
            enough.set()

    async with sampling(statistics, record, every=0.0001, limit=8):
        await enough.wait()
    await store.finish("finished", utc_now(), {})
    with sqlite3.connect(db) as conn:
        done = [n for (n,) in conn.execute("select done from samples order by rowid")]
    assert 4 <= len(done) <= 8
    assert done[0] == 1
    assert done == sorted(done)
    assert done[-1] >= 40
