"""What ``--refresh`` saves: a second run over unchanged files (issue 17).

    python bench/refresh.py [--n 10000] [--size 1m] [--per-host 8] [--save-bodies none|store]
                            [--json FILE]

A private nginx (``bench/_nginx.py``) serves N static files of SIZE bytes each (one file
hard-linked N times). ``corral fetch`` fetches them into a store with its default politeness
(8 connections to the host), then the same command with ``--refresh`` fetches them again:
nginx answers each ``If-None-Match`` with 304. Each run is timed (wall clock, the process's
CPU), and nginx's access log (status and body bytes sent per request) says what the second
run transferred. On the loopback a body costs little to move, so what a refresh saves grows
with the body's size: a 304 costs about what a small 200 costs (``docs/benchmarks.md``).

Checked, or the script exits 1: every request of the second run is a 304 with no body
sent; every record of the store is ``not_modified`` (with ``--save-bodies store``, each
still holds its body); the second run is at least 3x faster than the first.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _nginx import running_nginx


def _size(text: str) -> int:
    units = {"k": 1024, "m": 1024**2}
    return int(text[:-1]) * units[text[-1].lower()] if text[-1].lower() in units else int(text)


def _timed(argv: list[str]) -> tuple[float, float]:
    """Run a command to its end; return its wall-clock and CPU seconds (children's rusage)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(argv[3:5])} failed: {done.stderr[-800:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--size", type=_size, default=1024 * 1024)
    parser.add_argument("--save-bodies", choices=("none", "store"), default="none")
    parser.add_argument("--per-host", type=int, default=8)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="corral-refresh-") as tmp:
        work = Path(tmp)
        root = work / "site"
        root.mkdir()
        # One file, hard-linked N times: the same bytes and ETag under N URLs, one inode in
        # the page cache (N distinct files of this size would fill the disk for nothing)
        (work / "file.bin").write_bytes(os.urandom(args.size))
        for i in range(args.n):
            os.link(work / "file.bin", root / f"f{i}.bin")
        log = work / "access.log"
        with running_nginx(root, work / "nginx", access_log=log, log_format=_FORMAT) as nginx:
            urls = work / "urls.txt"
            urls.write_text("".join(f"{nginx.base_url}/f{i}.bin\n" for i in range(args.n)))
            store = work / "store.db"
            c = str(args.per_host)
            argv = [sys.executable, "-m", "corral", "fetch", str(urls), "-o", str(store), "-q"]
            argv += ["--per-host", c, "--save-bodies", args.save_bodies]
            argv += ["--max-bytes", str(args.size * 2)]
            first = _timed(argv)
            served_first = len(log.read_text().splitlines())
            second = _timed([*argv, "--refresh"])
        figures = _check(log, served_first, store, args, first, second)
    print(json.dumps(figures, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if not figures["passed"]:
        sys.exit(1)


_FORMAT = "$request_uri $status $body_bytes_sent"


def _check(
    log: Path,
    served_first: int,
    store: Path,
    args: argparse.Namespace,
    first: tuple[float, float],
    second: tuple[float, float],
) -> dict[str, object]:
    lines = [line.split() for line in log.read_text().splitlines()[served_first:]]
    statuses = {status for _, status, _ in lines}
    sent = sum(int(size) for _, _, size in lines)
    conn = sqlite3.connect(store)
    try:
        changes = dict(conn.execute("SELECT change, count(*) FROM results GROUP BY 1").fetchall())
        (bodies,) = conn.execute("SELECT count(*) FROM results WHERE body IS NOT NULL").fetchone()
    finally:
        conn.close()
    speedup = first[0] / second[0]
    n = args.n
    return {
        "urls": n,
        "size": args.size,
        "save_bodies": args.save_bodies,
        "per_host": args.per_host,
        "first_run_s": round(first[0], 2),
        "first_run_cpu_s": round(first[1], 2),
        "refresh_run_s": round(second[0], 2),
        "refresh_run_cpu_s": round(second[1], 2),
        "speedup": round(speedup, 2),
        "refresh_requests": len(lines),
        "refresh_statuses": sorted(statuses),
        "refresh_body_bytes_sent": sent,
        "changes": changes,
        "records_with_body": bodies,
        "passed": (
            len(lines) == n
            and statuses == {"304"}
            and sent == 0
            and changes == {"not_modified": n}
            and bodies == (n if args.save_bodies == "store" else 0)
            and speedup >= 3
        ),
    }


if __name__ == "__main__":
    main()
