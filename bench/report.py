"""``corral report`` of a big store: time to write the page, and its size (issue 16).

    python bench/report.py [--urls 1000000] [--rounds 3] [--keep DIR]

Makes a store with corral's own schema holding N records as a fetch would leave them (a
finished run of 30 minutes over 1,000 hosts: 94% 200s, 3% 404s, 1% 429/503s, 2% network
errors, latencies log-normal around 80 ms, up to 3 attempts), then runs the real command,
``corral report STORE -o PAGE``, in a fresh process each round. Printed: the store's size,
each round's wall time and the page's size; the median against the targets (under 10 s and
under 2 MB for 1,000,000 URLs). Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from corral.http.store._schema import SCHEMA

TARGET_SECONDS = 10.0
TARGET_BYTES = 2_000_000
_HOSTS = 1000
_SPAN = 1800.0  # seconds the run took
_ERRORS = ("timeout", "connect", "reset", "dns")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def make_store(path: Path, n: int, seed: int = 16) -> None:
    """Write a store of ``n`` finished records (one run, done)."""
    rng = random.Random(seed)
    start = time.time() - 3600
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO meta (name, value) VALUES ('job', 'fetch')")
    argv = ["corral", "fetch", "urls.txt", "-o", str(path), "--per-host", "4"]
    conn.execute(
        "INSERT INTO runs (started_at, finished_at, status, argv) VALUES (?, ?, 'finished', ?)",
        (_iso(start), _iso(start + _SPAN), json.dumps(argv)),
    )
    urls, results = [], []
    for i in range(1, n + 1):
        host = f"host{rng.randrange(_HOSTS)}.example"
        url = f"https://{host}/item/{i}"
        urls.append((i, url, url, host, 1, 1))
        draw = rng.random()
        status: int | None = 200
        ok, kind, error = 1, None, None
        if draw > 0.98:
            status, ok, kind = None, 0, rng.choice(_ERRORS)
            error = f"{kind} after 30 s"
        elif draw > 0.97:
            status, ok, kind, error = rng.choice((429, 503)), 0, "http_status", "HTTP 503"
        elif draw > 0.94:
            status, ok, kind, error = 404, 0, "http_status", "HTTP 404"
        attempts = 1 if rng.random() < 0.95 else rng.randint(2, 3)
        elapsed = rng.lognormvariate(4.4, 0.6)
        at = _iso(start + _SPAN * i / n)
        size = rng.randrange(500, 40_000) if ok else 0
        results.append(
            (i, url, url, status, ok, kind, error, attempts, elapsed, at, size, "GET", 0, 1)
        )
        if len(results) == 50_000:
            _insert(conn, urls, results)
            urls, results = [], []
    _insert(conn, urls, results)
    conn.commit()
    conn.close()


def _insert(
    conn: sqlite3.Connection, urls: list[tuple[object, ...]], results: list[tuple[object, ...]]
) -> None:
    conn.executemany(
        "INSERT INTO urls (id, key, url, host, state, run) VALUES (?, ?, ?, ?, ?, ?)", urls
    )
    conn.executemany(
        "INSERT INTO results (id, url, final_url, status, ok, error_kind, error, attempts, "
        "elapsed_ms, fetched_at, bytes, method, depth, run) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        results,
    )


def one_round(store: Path, page: Path) -> tuple[float, float]:
    """Run ``corral report`` once and return its wall time and CPU time in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "corral", "report", str(store), "-o", str(page)],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="make the store here, keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="corral-report-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        store = work / f"report-{args.urls}.db"
        if not store.exists():
            began = time.perf_counter()
            make_store(store, args.urls)
            print(
                f"store: {args.urls:,} records, {store.stat().st_size / 1e6:.0f} MB, "
                f"made in {time.perf_counter() - began:.0f} s"
            )
        page = work / "report.html"
        times = []
        for index in range(args.rounds):
            seconds, cpu = one_round(store, page)
            times.append(seconds)
            print(
                f"round {index + 1}: {seconds:.2f} s wall, {cpu:.2f} s CPU, "
                f"page {page.stat().st_size / 1e6:.3f} MB, load {os.getloadavg()[0]:.1f}"
            )
        median, size = statistics.median(times), page.stat().st_size
        print(
            f"median {median:.2f} s (target < {TARGET_SECONDS:.0f} s), "
            f"page {size / 1e6:.3f} MB (target < {TARGET_BYTES / 1e6:.0f} MB)"
        )
    return 0 if median < TARGET_SECONDS and size < TARGET_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
