"""Chaos: kill ``corral fetch`` and ``corral crawl`` (``kill -9``) at random moments, many
times, then let each finish; check exactly one record per URL (issue 12, acceptance).

    python bench/chaos.py [--urls 20000] [--pages 20000] [--kills 20] [--seed N]
                          [--only fetch-sqlite fetch-jsonl crawl]

The bigger sibling of ``tests/http/test_chaos.py``. corral's test site is served by this
process; each job is started, killed at a random moment (a fifth of them while it starts,
the rest after a random number of requests), ``--kills`` times, then run to its end. Each
killed run is reaped only after the next one has ended, so every run starts beside a zombie
of the one before (whose process id still answers). Checks:

- fetch: one record per distinct input URL (the input has repeats, slow URLs and a bad line),
  none lost, none twice; SQLite and JSON lines outputs;
- crawl: one record per URL in the frontier, every page of the site reached.

Prints the seed; ``--seed`` replays a run's kill moments (the moments themselves still land
where the machine's timing puts them). Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corral.testing import Site, SiteLayout, open_site


async def a_random_moment(site: Site, rng: random.Random, most: int) -> None:
    if rng.random() < 0.2:  # while it starts: the store opening, the input's first read
        await asyncio.sleep(rng.uniform(0.0, 0.6))
        return
    target = site.statistics().requests + rng.randint(1, most)
    await site.wait_until(lambda stats: stats.requests >= target)


async def chaos(site: Site, args: list[str], rng: random.Random, kills: int, most: int) -> int:
    """Kill the command at random moments ``kills`` times, then run it to the end; return
    its exit code.

    Children are ``subprocess.Popen`` waited for in threads, not asyncio subprocesses: the
    asyncio child watcher reaps a child as soon as it exits, and these must stay zombies
    until the next run has ended.
    """
    command = [sys.executable, "-m", "corral", *args]
    previous: subprocess.Popen[bytes] | None = None
    killed = 0
    for _ in range(kills):
        job = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: ASYNC220 - see above
        ended = asyncio.ensure_future(asyncio.to_thread(_exited, job.pid))
        moment = asyncio.ensure_future(a_random_moment(site, rng, most))
        await asyncio.wait({ended, moment}, return_when=asyncio.FIRST_COMPLETED)
        moment.cancel()
        if not ended.done():
            os.kill(job.pid, signal.SIGKILL)  # (not send_signal: it would reap an ended one)
            killed += 1
        await ended
        if previous is not None:
            await asyncio.to_thread(previous.wait)  # only now: this run began beside its zombie
        previous = job
    last = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: ASYNC220 - see above
    code = await asyncio.to_thread(last.wait)
    if previous is not None:
        await asyncio.to_thread(previous.wait)
    print(f"  {killed} of {kills} runs killed; the last one exited {code}")
    return code


def _exited(pid: int) -> None:
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # leaves it a zombie


def input_lines(site: Site, rng: random.Random, count: int) -> tuple[list[str], set[str]]:
    urls = [site.url(f"/page/{i}") for i in range(count - count // 10)]
    urls += [site.url(f"/delay/{rng.randint(5, 60)}?i={i}") for i in range(count // 10)]
    repeats = rng.sample(urls, count // 30)
    lines = [*urls, *repeats, "not a url"]
    rng.shuffle(lines)
    return lines, {*urls, "not a url"}


async def fetch_job(site: Site, work: Path, output: str, options: argparse.Namespace) -> bool:
    rng = random.Random(options.seed)
    lines, distinct = input_lines(site, rng, options.urls)
    source = work / "urls.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = work / output
    args = ["fetch", str(source), "-o", str(out), "-q", "--per-host", "16"]
    code = await chaos(site, args, rng, options.kills, max(50, options.urls // options.kills))
    urls, _ = await asyncio.to_thread(records, out)
    lost, twice = len(distinct - set(urls)), len(urls) - len(set(urls))
    print(f"  {len(urls):,} records for {len(distinct):,} URLs: {lost} lost, {twice} twice")
    return code == 0 and lost == twice == 0 and set(urls) == distinct


async def crawl_job(site: Site, work: Path, options: argparse.Namespace) -> bool:
    rng = random.Random(options.seed)
    db = work / "crawl.db"
    args = ["crawl", site.url("/"), "-o", str(db), "-q", "--max-depth", "12"]
    code = await chaos(site, args, rng, options.kills, max(50, options.pages // options.kills))
    urls, frontier = await asyncio.to_thread(records, db)
    pages = {site.url(f"/site/{i}.html") for i in range(options.pages)}
    missing, twice = len(pages - set(urls)), len(urls) - len(set(urls))
    print(
        f"  {len(urls):,} records for {frontier:,} URLs met; "
        f"{missing} site pages missing, {twice} twice"
    )
    return code == 0 and len(urls) == frontier and missing == twice == 0


def records(out: Path) -> tuple[list[str], int]:
    """Return the URLs of an output's records, and how many URLs its frontier holds."""
    if out.suffix == ".jsonl":
        urls = [json.loads(line)["url"] for line in out.read_text().splitlines()]
        return urls, len(urls)
    with sqlite3.connect(out) as conn:
        urls = [url for (url,) in conn.execute("select url from results")]
        (frontier,) = conn.execute("select count(*) from urls").fetchone()
    return urls, int(frontier)


async def main(options: argparse.Namespace) -> int:
    print(f"seed {options.seed}")
    layout = SiteLayout(pages=options.pages)
    failed = []
    async with open_site(layout=layout, log_size=0) as site:
        for name in options.only:
            with tempfile.TemporaryDirectory(prefix="corral-chaos-") as tmp:
                print(f"{name}:")
                start = time.perf_counter()
                if name == "crawl":
                    ok = await crawl_job(site, Path(tmp), options)
                else:
                    output = "out.db" if name == "fetch-sqlite" else "out.jsonl"
                    ok = await fetch_job(site, Path(tmp), output, options)
                print(f"  {'ok' if ok else 'FAILED'} in {time.perf_counter() - start:.0f} s")
                if not ok:
                    failed.append(name)
    if failed:
        print(f"FAILED: {', '.join(failed)} (seed {options.seed})")
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=20_000, help="input URLs of the fetch")
    parser.add_argument("--pages", type=int, default=20_000, help="pages of the crawl site")
    parser.add_argument("--kills", type=int, default=20, help="kills per job")
    parser.add_argument("--seed", type=int, default=random.SystemRandom().randrange(2**32))
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("fetch-sqlite", "fetch-jsonl", "crawl"),
        default=["fetch-sqlite", "fetch-jsonl", "crawl"],
    )
    sys.exit(asyncio.run(main(parser.parse_args())))
