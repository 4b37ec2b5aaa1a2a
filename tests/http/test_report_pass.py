"""The report's fold of the records: latency buckets computed by SQLite match the live
summary's histogram, with SQLite's math functions and without them."""

from __future__ import annotations

import bisect
import sqlite3

import pytest

from corral.http.report._stats import _BOUNDS
from corral.http.runreport._pass import _bucket_of, _latency_bucket, bucket_step

MILLISECONDS = [0.0, 0.05, 0.1, 0.11, 1.0, 7.3, 80.0, 999.9, 1000.0, 30_000.0, 9e9]


@pytest.mark.parametrize("ms", MILLISECONDS)
def test_python_bucket_is_the_histograms(ms: float) -> None:
    """The fallback function gives the bucket ``LatencyHistogram.add`` would."""
    assert _bucket_of(ms) == bisect.bisect_left(_BOUNDS, ms / 1000)


def test_sql_bucket_is_the_histograms() -> None:
    """SQLite's expression (``ln``, ``ceil``) gives the same buckets, away from the bounds
    (where floating point may round either way)."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE results (elapsed_ms REAL)")
    conn.executemany("INSERT INTO results VALUES (?)", [(ms,) for ms in MILLISECONDS])
    expression = _latency_bucket(conn).replace("r.elapsed_ms", "elapsed_ms")
    found = [n for (n,) in conn.execute(f"SELECT {expression} FROM results ORDER BY rowid")]
    assert found == [_bucket_of(ms) for ms in MILLISECONDS]


@pytest.mark.parametrize(
    ("span", "step"),
    [
        pytest.param(0.0, 0.1, id="empty"),
        pytest.param(3.0, 0.1, id="seconds"),
        pytest.param(1800.0, 10, id="half-hour"),
        pytest.param(86_400.0, 300, id="day"),
    ],
)
def test_bucket_step_keeps_the_charts_under_300_points(span: float, step: float) -> None:
    """The bucket width is the smallest round one that shows the span in under 300 points."""
    assert bucket_step(span) == step
    assert span / bucket_step(span) < 300
