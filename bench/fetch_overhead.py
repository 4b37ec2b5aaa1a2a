"""corral fetch's own cost per URL, without the network.

The HTTP attempt (``corral.http.engine._engine.attempt``) is replaced by a canned answer: a 200 with
nginx's headers and a 901-byte body's size and digest, after one yield to the loop. What is left
is the machinery corral controls: reading and parsing the input, the frontier in the store, the
dispatcher and per-host politeness, the record, the SQLite writes, the counters. The floor is
the same canned answer through the raw aiohttp pool's shape (workers over a bounded
``asyncio.Queue``, one JSON line per URL). Each run is a fresh child process; the figure is its
CPU time (every thread, imports excluded, pinned to core 1 like the fetch
benchmark's client) per URL, best and median of ``--repeat`` interleaved runs.

Why: ``bench/fetch.py`` measures the whole thing against nginx, and on a shared or virtual
machine it moves by 10 to 20% between runs, more than most changes to the engine are worth.
Without the network a run takes under a second, so many can be taken and their medians
compared: a change to corral's own path can be judged here first (and confirmed in
``bench/fetch.py``). Not measured here: aiohttp itself and what
``attempt`` adds around it (the timeout object, reading the body, the digest, the headers dict).

Usage: python bench/fetch_overhead.py [--n 20000] [--repeat 7] [--concurrency 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HEADERS = {
    "Server": "nginx/1.22.1",
    "Date": "Sat, 21 Nov 2026 15:54:08 GMT",
    "Content-Type": "text/html",
    "Content-Length": "901",
    "Last-Modified": "Sat, 21 Nov 2026 13:35:11 GMT",
    "Connection": "keep-alive",
    "ETag": '"6b019e0f-385"',
    "Accept-Ranges": "bytes",
}
SHA256 = "9" * 64


async def canned_attempt(
    session: Any,
    request: Any,
    config: Any,
    timeout: Any,
    *,
    keep_body: Any,
    route: Any = None,
    downloads: Any = None,
) -> Any:
    """What ``attempt`` returns for a 901-byte page, after one yield to the loop."""
    from corral.http.engine._attempt import AttemptOutcome

    await asyncio.sleep(0)
    outcome = AttemptOutcome()
    outcome.status = 200
    outcome.final_url = request.url
    outcome.headers = dict(HEADERS)
    outcome.content_type = "text/html"
    outcome.size = 901
    outcome.sha256 = SHA256
    outcome.seconds = 0.001
    return outcome


def run_corral(urls: Path, out: Path, concurrency: int) -> None:
    """``corral fetch`` in this process, with the canned attempt."""
    import corral.http.engine._engine as engine
    from corral._cli import main

    engine.attempt = canned_attempt  # type: ignore[assignment]
    concurrency_text = str(concurrency)
    argv = ["fetch", str(urls), "-o", str(out), "--concurrency", concurrency_text]
    code = main([*argv, "--per-host", concurrency_text, "--no-progress", "--quiet"])
    if code != 0:
        raise SystemExit(f"corral fetch exited with {code}")


async def floor(urls: Path, out: Path, concurrency: int) -> None:
    """The raw pool's shape around the same canned answer."""
    queue: asyncio.Queue[str] = asyncio.Queue(maxsize=2 * concurrency)

    async def worker(sink: Any) -> None:
        while (url := await queue.get()) != "":
            await asyncio.sleep(0)
            headers = dict(HEADERS)
            record = {"url": url, "status": 200, "size": 901, "type": headers["Content-Type"]}
            sink.write(json.dumps(record) + "\n")

    with out.open("w") as sink:
        workers = [asyncio.create_task(worker(sink)) for _ in range(concurrency)]
        with urls.open() as lines:
            for line in lines:
                await queue.put(line.strip())
        for _ in workers:
            await queue.put("")
        await asyncio.gather(*workers)


def child(kind: str, urls: Path, out: Path, concurrency: int) -> None:
    """Run one contender and print its CPU seconds (all threads) and wall seconds."""
    if kind == "corral":  # imports are not the machinery: load them before the clock starts
        import corral._cli
        import corral.http.engine._engine
        import corral.http.fetcher._job  # noqa: F401
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    if kind == "corral":
        run_corral(urls, out, concurrency)
    else:
        asyncio.run(floor(urls, out, concurrency))
    print(time.process_time() - started_cpu, time.perf_counter() - started_wall)


def measure(kind: str, urls: Path, directory: Path, concurrency: int) -> tuple[float, float]:
    """Run ``kind`` in a fresh process; return its CPU and wall seconds."""
    out = directory / ("out.db" if kind == "corral" else "out.jsonl")
    for stale in directory.glob("out.*"):
        stale.unlink()
    argv = [sys.executable, __file__, "--child", kind, str(urls), str(out), str(concurrency)]
    if shutil.which("taskset"):  # one core, as the client in bench/fetch.py
        argv = ["taskset", "-c", "1", *argv]
    run = subprocess.run(argv, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{run.stderr[-1500:]}")
    cpu, wall = (float(x) for x in run.stdout.split())
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="URLs (default 20000)")
    parser.add_argument("--repeat", type=int, default=7, help="runs each, interleaved")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--child", nargs=4, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, urls, out, concurrency = args.child
        child(kind, Path(urls), Path(out), int(concurrency))
        return

    import corral

    print(f"python {platform.python_version()}, corral {corral.__version__}")
    print(f"{args.n:,} URLs, concurrency {args.concurrency}, the HTTP attempt canned")
    with tempfile.TemporaryDirectory(prefix="corral-overhead-") as tmp:
        directory = Path(tmp)
        urls = directory / "urls.txt"
        # Never contacted: the attempt is canned. One host, as in bench/fetch.py.
        urls.write_text("".join(f"http://127.0.0.1:9/f/{i:07d}.html\n" for i in range(args.n)))
        cpu: dict[str, list[float]] = {"floor": [], "corral": []}
        for _ in range(args.repeat):
            for kind in cpu:
                cpu[kind].append(measure(kind, urls, directory, args.concurrency)[0])
    per_url = {k: [s / args.n * 1e6 for s in v] for k, v in cpu.items()}
    for kind, values in per_url.items():
        print(
            f"  {kind:8} best {min(values):6.2f} µs/URL   median {statistics.median(values):6.2f}"
            f" µs/URL   ({min(cpu[kind]):.2f} to {max(cpu[kind]):.2f} CPU s)"
        )
    extra = statistics.median(per_url["corral"]) - statistics.median(per_url["floor"])
    print(f"  corral's machinery costs {extra:.1f} µs/URL more than the floor's (medians)")


if __name__ == "__main__":
    main()
