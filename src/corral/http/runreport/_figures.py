"""The report's figures: a store read once, as one JSON-ready dict (what the page draws, and
what ``corral report --format json`` writes).

Its shape is documented in docs/report.md; ``FORMAT`` changes when a field changes meaning.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from corral.http.runreport._pass import Host, Tally, bucket_step, gather, quantiles, time_span
from corral.http.runreport._runs import Run, job_kind, read_runs
from corral.http.runreport._samples import read_samples

FORMAT = 1
TOP_HOSTS = 200  # rows of the per-host table (the rest are counted)
ArgvSettings = Callable[[Sequence[str]], Mapping[str, object]]


def figures(conn: sqlite3.Connection, path: str, settings: ArgvSettings) -> dict[str, object]:
    """Return the figures of the store at ``path`` (``conn``: opened read-only on it).

    Args:
        conn: a read-only connection to the store.
        path: the store's path, as the report names it.
        settings: what the command line of a run set (its concurrency, per-host bound...).
    """
    from corral import __version__

    runs = read_runs(conn, path)
    span = time_span(conn)
    if span is None:  # nothing fetched: the runs' own times give the charts their axis
        first = runs[0].started if runs else 0.0
        span = (first, runs[-1].ended if runs else first)
    step = bucket_step(span[1] - span[0])
    points = max(2, int((span[1] - span[0]) / step) + 1)  # (two: an axis to draw)
    tally = gather(conn, span[0], step, points)
    last = runs[-1] if runs else None
    urls, pending = conn.execute(
        "SELECT count(*), coalesce(sum(state != 1), 0) FROM urls"
    ).fetchone()
    kind = job_kind(conn)
    return {
        "format": FORMAT,
        "corral": __version__,
        "store": str(Path(path).resolve()),
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": kind,
        "header": _header(tally, runs, urls=int(urls), pending=int(pending)),
        "command": last.as_json()["command"] if last else None,
        "settings": dict(settings(last.argv)) if last else {},
        "runs": [run.as_json() for run in runs],
        "series": _series(tally),
        "statuses": [
            {"status": status, "count": n, "samples": tally.status_samples[status]}
            for status, n in sorted(tally.by_status.items())
        ],
        "errors": [
            {"kind": kind, "count": n, "samples": [list(s) for s in tally.error_samples[kind]]}
            for kind, n in tally.by_error.most_common()
        ],
        "hosts": _hosts(tally.hosts),
        "retries": sorted(tally.attempts.items()),
        "slowest": [
            {"url": url, "ms": round(ms, 1), "status": status}
            for ms, _, url, status in sorted(tally.slowest, reverse=True)
        ],
        "crawl": _crawl(tally) if kind == "crawl" else None,
        "samples": read_samples(conn),
    }


def _header(tally: Tally, runs: list[Run], *, urls: int, pending: int) -> dict[str, object]:
    seconds = sum(run.ended - run.started for run in runs)
    fetched = tally.records - tally.skipped_total
    p50, p90, p99 = quantiles(tally.all_latency, tally.all_longest, (0.5, 0.9, 0.99))
    return {
        "status": runs[-1].status if runs else "empty",
        "urls": urls,
        "recorded": tally.records,
        "ok": tally.ok_total,
        "failed": tally.failed,
        "skipped": tally.skipped_total,
        "pending": pending,
        "retries": tally.retries,
        "bytes": tally.bytes_total,
        "seconds": round(seconds, 3),
        "rate": round(fetched / seconds, 3) if seconds > 0 else 0.0,
        "p50_ms": _ms(p50) if fetched else None,
        "p90_ms": _ms(p90) if fetched else None,
        "p99_ms": _ms(p99) if fetched else None,
        "runs": len(runs),
        "hosts": len(tally.hosts),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _series(tally: Tally) -> dict[str, object]:
    """Per-bucket rates (per second), latency percentiles (ms, null where none) and bytes."""
    step = tally.step
    percentiles: list[list[float | None]] = [[], [], []]
    for counts, longest in zip(tally.latency, tally.longest, strict=True):
        if counts is None:
            values: list[float | None] = [None, None, None]
        else:
            sparse = {index: n for index, n in enumerate(counts) if n}
            values = [_ms(v) for v in quantiles(sparse, longest, (0.5, 0.9, 0.99))]
        for column, value in zip(percentiles, values, strict=True):
            column.append(value)
    p50, p90, p99 = percentiles

    def rate(counts: list[int]) -> list[float]:
        return [round(n / step, 2) for n in counts]

    return {
        "step": step,
        "t": [round(tally.start + i * step, 3) for i in range(tally.points)],
        "ok": rate(tally.ok),
        "http_error": rate(tally.http_error),
        "error": rate(tally.error),
        "skipped": rate(tally.skipped),
        "bytes": rate(tally.bytes),
        "p50": p50,
        "p90": p90,
        "p99": p99,
    }


def _hosts(hosts: dict[str, Host]) -> dict[str, object]:
    top = sorted(hosts.items(), key=lambda kv: (-kv[1].requests - kv[1].skipped, kv[0]))
    rows = []
    for name, host in top[:TOP_HOSTS]:
        p50, p95 = quantiles(host.latency, host.longest, (0.5, 0.95))
        rows.append(
            {
                "host": name or "(no host: invalid URLs)",
                "requests": host.requests,
                "ok": host.ok,
                "errors": host.errors,
                "s429": host.s429,
                "s503": host.s503,
                "skipped": host.skipped,
                "bytes": host.bytes,
                "p50_ms": _ms(p50) if host.requests else None,
                "p95_ms": _ms(p95) if host.requests else None,
            }
        )
    return {"total": len(hosts), "rows": rows}


def _crawl(tally: Tally) -> dict[str, object]:
    depths = sorted(set(tally.depth_fetched) | set(tally.depth_skipped))
    return {
        "depths": [[d, tally.depth_fetched[d], tally.depth_skipped[d]] for d in depths],
        "skips": [{"reason": r, "count": n} for r, n in tally.by_skip.most_common()],
    }
