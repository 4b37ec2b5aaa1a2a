"""The report's figures: a store read once, as one JSON-ready dict (what the page draws, and
what ``corral report --format json`` writes).

Its shape is documented in docs/report.md; ``FORMAT`` changes when a field changes meaning.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from corral.http.report._stats import _BUCKETS
from corral.http.runreport._pass import (
    ERROR,
    HTTP_ERROR,
    OK,
    SKIPPED,
    SKIPS,
    Host,
    Tally,
    bucket_step,
    gather,
    quantiles,
    time_span,
)
from corral.http.runreport._runs import Run, job_kind, read_runs
from corral.http.runreport._samples import read_events, read_samples

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
    # the charts' axis: the runs' own times (records fall within them; a scan less), or the
    # records' first and last for a store whose runs say nothing
    span = (runs[0].started, max(run.ended for run in runs)) if runs else time_span(conn)
    span = span or (0.0, 0.0)
    step = bucket_step(span[1] - span[0])
    points = max(2, int((span[1] - span[0]) / step) + 1)  # (two: an axis to draw)
    tally = gather(conn, span[0], step, points)
    counts = _Counts(tally)
    last = runs[-1] if runs else None
    urls, pending = conn.execute(
        "SELECT count(*), coalesce(sum(state != 1), 0) FROM urls"
    ).fetchone()
    kind = job_kind(conn)
    by_run = _run_workers(conn)
    header = _header(tally, counts, runs, urls=int(urls), pending=int(pending))
    held_back = _held_back(conn, last)
    if held_back and header["status"] == "done":
        header["status"] = "incomplete"  # (finished, with URLs no run may crawl yet)
    return {
        "format": FORMAT,
        "corral": __version__,
        "store": str(Path(path).resolve()),
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": kind,
        "header": header,
        "command": last.as_json()["command"] if last else None,
        "settings": dict(settings(last.argv)) if last else {},
        "runs": [{**run.as_json(), "workers": by_run.get(run.id)} for run in runs],
        "workers": _workers(by_run),
        "proxies": _proxies(conn),
        "held_back": held_back,
        "series": _series(tally),
        "statuses": [
            {"status": status, "count": n, "samples": tally.status_samples.get(status, [])}
            for status, n in sorted(counts.statuses.items())
        ],
        "errors": [
            {"kind": kind, "count": n, "samples": [list(s) for s in tally.error_samples[kind]]}
            for kind, n in counts.errors.most_common()
        ],
        "hosts": _hosts(tally.hosts),
        "retries": sorted(counts.attempts.items()),
        "slowest": [
            {"url": url, "ms": round(ms, 1), "status": status} for ms, url, status in tally.slowest
        ],
        "crawl": _crawl(counts) if kind == "crawl" else None,
        "samples": read_samples(conn),
        "throttling": read_events(conn),
    }


class _Counts:
    """The store's counters, from the tally's (ok, status, error_kind, attempts, depth) rows."""

    def __init__(self, tally: Tally) -> None:
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.attempts: Counter[int] = Counter()
        self.skips: Counter[str] = Counter()
        self.fetched_depth: Counter[int] = Counter()
        self.skipped_depth: Counter[int] = Counter()
        self.ok = self.failed = self.retries = 0
        for (ok, status, kind, attempts, depth), n in tally.kinds.items():
            if kind in SKIPS:
                self.skips[kind] += n
                self.skipped_depth[depth] += n
                continue
            self.fetched_depth[depth] += n
            self.attempts[attempts] += n
            self.retries += max(0, attempts - 1) * n
            if status is not None:
                self.statuses[status] += n
            if ok:
                self.ok += n
            else:
                self.failed += n
                self.errors[kind or "unknown"] += n
        self.skipped = sum(self.skips.values())
        self.records = self.ok + self.failed + self.skipped


def _header(
    tally: Tally, counts: _Counts, runs: list[Run], *, urls: int, pending: int
) -> dict[str, object]:
    seconds = sum(run.ended - run.started for run in runs)
    fetched = counts.ok + counts.failed
    latency: Counter[int] = Counter()
    for index, n in enumerate(tally.latency):
        if n:
            latency[index % _BUCKETS] += n
    p50, p90, p99 = quantiles(dict(latency), tally.longest, (0.5, 0.9, 0.99))
    return {
        "status": runs[-1].status if runs else "empty",
        "urls": urls,
        "recorded": counts.records,
        "ok": counts.ok,
        "failed": counts.failed,
        "skipped": counts.skipped,
        "pending": pending,
        "retries": counts.retries,
        "bytes": sum(host.bytes for host in tally.hosts.values()),
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
    for at in range(tally.points):
        row = tally.latency[at * _BUCKETS : (at + 1) * _BUCKETS]
        sparse = {index: n for index, n in enumerate(row) if n}
        values: list[float | None] = [None, None, None]
        if sparse:
            values = [_ms(v) for v in quantiles(sparse, tally.longest, (0.5, 0.9, 0.99))]
        for column, value in zip(percentiles, values, strict=True):
            column.append(value)
    p50, p90, p99 = percentiles

    def rate(counts: list[int]) -> list[float]:
        return [round(n / step, 2) for n in counts]

    ok, http_error, error, skipped = tally.outcomes
    return {
        "step": step,
        "t": [round(tally.start + i * step, 3) for i in range(tally.points)],
        "ok": rate(ok),
        "http_error": rate(http_error),
        "error": rate(error),
        "skipped": rate(skipped),
        "bytes": rate(tally.bytes),
        "p50": p50,
        "p90": p90,
        "p99": p99,
    }


def _hosts(hosts: dict[str, Host]) -> dict[str, object]:
    def size(item: tuple[str, Host]) -> tuple[int, str]:
        return (-sum(item[1].codes), item[0])

    rows = []
    for name, host in sorted(hosts.items(), key=size)[:TOP_HOSTS]:
        requests = sum(host.codes[: SKIPPED * 3])
        p50, p95 = quantiles(host.latency, math.inf, (0.5, 0.95))
        rows.append(
            {
                "host": name or "(no host: invalid URLs)",
                "requests": requests,
                "ok": host.count(OK),
                "errors": host.count(HTTP_ERROR) + host.count(ERROR),
                "s429": sum(host.codes[1 : SKIPPED * 3 : 3]),
                "s503": sum(host.codes[2 : SKIPPED * 3 : 3]),
                "skipped": host.count(SKIPPED),
                "bytes": host.bytes,
                "p50_ms": _ms(p50) if requests else None,
                "p95_ms": _ms(p95) if requests else None,
            }
        )
    return {"total": len(hosts), "rows": rows}


def _crawl(counts: _Counts) -> dict[str, object]:
    depths = sorted(set(counts.fetched_depth) | set(counts.skipped_depth))
    return {
        "depths": [[d, counts.fetched_depth[d], counts.skipped_depth[d]] for d in depths],
        "skips": [{"reason": r, "count": n} for r, n in counts.skips.most_common()],
    }


def _run_workers(conn: sqlite3.Connection) -> dict[int, dict[str, dict[str, int]]]:
    """Return each run's records by worker, as the coordinator wrote them into the run's
    summary (``{name: {"records": n, "ok": n}}``), by run id; a run of one process, or one
    killed before its end (kill -9: no summary), has none."""
    by_run: dict[int, dict[str, dict[str, int]]] = {}
    query = "SELECT id, summary FROM runs WHERE summary IS NOT NULL"
    for ident, text in conn.execute(query):
        try:
            workers = json.loads(text).get("workers") or {}
        except (ValueError, AttributeError):
            continue
        if isinstance(workers, dict) and workers:
            by_run[int(ident)] = {
                str(name): {"records": int(f.get("records", 0)), "ok": int(f.get("ok", 0))}
                for name, f in workers.items()
            }
    return by_run


def _workers(by_run: dict[int, dict[str, dict[str, int]]]) -> list[dict[str, object]]:
    """Return a job over Redis's records by worker, the runs that gave them added (a run
    killed before its end gave none), busiest first; [] for a job of one process."""
    totals: dict[str, list[int]] = {}
    for workers in by_run.values():
        for name, figures in workers.items():
            total = totals.setdefault(name, [0, 0])
            total[0] += figures["records"]
            total[1] += figures["ok"]
    rows = sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return [{"worker": name, "records": n, "ok": ok, "failed": n - ok} for name, (n, ok) in rows]


def _proxies(conn: sqlite3.Connection) -> list[dict[str, object]]:
    """Return each proxy's requests, errors and rests, all runs together (each run's summary
    has them), in the order the runs named them; [] for runs without proxies."""
    totals: dict[str, list[int]] = {}
    for (text,) in conn.execute("SELECT summary FROM runs WHERE summary IS NOT NULL"):
        try:
            proxies = json.loads(text).get("proxies") or {}
        except (ValueError, AttributeError):
            continue
        for shown, figures in proxies.items() if isinstance(proxies, dict) else ():
            total = totals.setdefault(str(shown), [0, 0, 0])
            for n, name in enumerate(("requests", "errors", "rested")):
                total[n] += int(figures.get(name, 0))
    return [
        {"proxy": shown, "requests": requests, "errors": errors, "rested": rested}
        for shown, (requests, errors, rested) in totals.items()
    ]


def _held_back(conn: sqlite3.Connection, last: Run | None) -> list[dict[str, object]]:
    """Return the hosts the last run held back (their robots.txt did not answer: their URLs
    left pending), most URLs first, as its summary has them; [] for none."""
    if last is None:
        return []
    row = conn.execute("SELECT summary FROM runs WHERE id = ?", (last.id,)).fetchone()
    try:
        held = json.loads(row[0]).get("held_back") or {} if row and row[0] else {}
    except (ValueError, AttributeError):
        return []
    rows = [
        {
            "host": str(host),
            "urls": int(figures.get("urls", 0)),
            "tries": int(figures.get("tries", 0)),
            "reason": str(figures.get("reason", "")),
        }
        for host, figures in (held.items() if isinstance(held, dict) else ())
        if isinstance(figures, dict)
    ]
    return sorted(rows, key=lambda r: (-int(str(r["urls"])), str(r["host"])))
