"""Runs on one store, through the real entry point: one run at a time, and resuming right.

A store is used by one run at a time: a second ``corral fetch`` or ``corral crawl`` on a store
in use exits 2 with one line naming the process that holds it, and the first one completes
with every record. A killed run is marked at the next start, its leases are taken back (a
zombie holder included), and the resumed run's counts and ``--max-pages`` cover the whole job.

A run is held in the middle of its work by the *gate*: a server of the test's own whose one
URL answers only when the test opens it, so "the first run still holds the store" is a fact,
not a matter of timing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

import corral
from corral.testing import Site, SiteLayout, open_site

# What these tests check runs in a subprocess (the real command); the test body reads the
# files it wrote, which strict mode would (rightly) call blocking in library code.
pytestmark = pytest.mark.corral_guard(strict=False)

PAGES = 400


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=PAGES), log_size=100_000) as running:
        yield running


@dataclass(frozen=True, slots=True)
class Gate:
    """A URL that answers only once the test opens the gate."""

    url: str
    arrived: asyncio.Event  # a request for the URL has come in
    opened: asyncio.Event  # set by the test: answer it (and every later one) now


@pytest.fixture
async def gate() -> AsyncIterator[Gate]:
    arrived, opened = asyncio.Event(), asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        arrived.set()
        await opened.wait()
        return web.Response(text="<html><body>the gate</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/gate", hold)
    runner = web.AppRunner(app)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = runner.addresses[0][1]
    try:
        yield Gate(f"http://127.0.0.1:{port}/gate", arrived, opened)
    finally:
        opened.set()
        await runner.cleanup()


def start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "corral", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error", "PYTHONFAULTHANDLER": "1"},
    )


def finished(job: subprocess.Popen[str], timeout: float = 60) -> str:
    """Wait for the child and return its stderr; abort it (stacks printed) if it hangs."""
    try:
        return job.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        job.send_signal(signal.SIGABRT)
        stderr = job.communicate()[1]
        pytest.fail(f"corral did not stop within {timeout} s; its stderr:\n{stderr}")


async def afinished(job: subprocess.Popen[str]) -> str:
    """Wait for the child in a thread, so the test's loop serves the site meanwhile."""
    return await corral.to_thread(finished, job)


def killed(job: subprocess.Popen[str]) -> None:
    job.send_signal(signal.SIGKILL)
    job.communicate()


def run_corral(
    *args: str, timeout: float = 120, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


async def acorral(*args: str) -> subprocess.CompletedProcess[str]:
    return await corral.to_thread(run_corral, *args)


async def refused(*args: str) -> str:
    """Run a command that must be refused at once: return the one line it printed (exit 2).

    (One that is not refused may wait on the gate: it is given 20 s, then fails the test.)
    """
    run = await corral.to_thread(lambda: run_corral(*args, timeout=20))
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


def recorded(db: Path) -> list[str]:
    return [str(url) for (url,) in query(db, "select url from results")]


def write_urls(path: Path, urls: list[str]) -> Path:
    path.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return path


def holder_pattern(db: Path, command: str, pid: int) -> str:
    return (
        rf"^corral: error: {re.escape(str(db))} is in use by {command} "
        rf"\(pid {pid} on host {re.escape(socket.gethostname())}, since \d\d:\d\d:\d\d\); "
        r"wait for it or use another -o$"
    )


def hits(site: Site) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in site.statistics().recent:
        counts[record.target] = counts.get(record.target, 0) + 1
    return counts


# --- two runs on one store ----------------------------------------------------------------


async def test_a_second_fetch_with_other_urls_is_refused_and_the_first_completes(
    site: Site, gate: Gate, tmp_path: Path
) -> None:
    """Two fetches with different inputs on one store, started together: the second exits 2
    with one line naming the process holding the store, writes nothing; the first completes
    with exactly one record per URL of its input."""
    first_urls = [site.url(f"/page/{i}") for i in range(200)] + [gate.url]
    second_urls = [site.url(f"/page/{i}?other") for i in range(100)]
    db = tmp_path / "out.db"
    first = start(["fetch", str(write_urls(tmp_path / "a.txt", first_urls)), "-o", str(db), "-q"])
    try:
        await gate.arrived.wait()  # the first is fetching: it holds the store
        line = await refused(
            "fetch", str(write_urls(tmp_path / "b.txt", second_urls)), "-o", str(db), "-q"
        )
        assert re.match(holder_pattern(db, "corral fetch", first.pid), line)
    finally:
        gate.opened.set()
        stderr = await afinished(first)
    assert first.returncode == 0, stderr
    assert sorted(recorded(db)) == sorted(first_urls)


async def test_the_same_fetch_started_twice_fetches_each_url_once(
    site: Site, gate: Gate, tmp_path: Path
) -> None:
    """The same command started twice: the second is refused (exit 2, naming the first);
    the first records every URL once and no URL is requested twice."""
    urls = [site.url(f"/page/{i}") for i in range(300)] + [gate.url]
    args = ["fetch", str(write_urls(tmp_path / "urls.txt", urls)), "-o", str(tmp_path / "o.db")]
    first = start([*args, "-q"])
    try:
        await gate.arrived.wait()
        line = await refused(*args, "-q")
        assert re.match(holder_pattern(tmp_path / "o.db", "corral fetch", first.pid), line)
    finally:
        gate.opened.set()
        stderr = await afinished(first)
    assert first.returncode == 0, stderr
    assert sorted(recorded(tmp_path / "o.db")) == sorted(urls)
    assert set(hits(site).values()) == {1}


async def test_a_jsonl_output_in_use_is_refused_and_left_whole(
    site: Site, gate: Gate, tmp_path: Path
) -> None:
    """The same holds for a JSON lines output: the second run names the output, cuts
    nothing, and the first's file ends with one line per URL."""
    urls = [site.url(f"/page/{i}") for i in range(200)] + [gate.url]
    out = tmp_path / "out.jsonl"
    args = ["fetch", str(write_urls(tmp_path / "urls.txt", urls)), "-o", str(out), "-q"]
    first = start(args)
    try:
        await gate.arrived.wait()
        line = await refused(*args)
        assert re.match(holder_pattern(out, "corral fetch", first.pid), line)
    finally:
        gate.opened.set()
        stderr = await afinished(first)
    assert first.returncode == 0, stderr
    lines = [json.loads(line)["url"] for line in out.read_text().splitlines()]
    assert sorted(lines) == sorted(urls)


async def test_a_demo_on_a_store_in_use_deletes_nothing(
    site: Site, gate: Gate, tmp_path: Path
) -> None:
    """``corral demo`` starts afresh by deleting its store, but not one in use: it exits 2
    naming the run holding it, and that run completes with every record."""
    urls = [site.url(f"/page/{i}") for i in range(100)] + [gate.url]
    db = tmp_path / "demo.db"
    fetch = start(["fetch", str(write_urls(tmp_path / "urls.txt", urls)), "-o", str(db), "-q"])
    try:
        await gate.arrived.wait()
        line = await refused("demo", "-o", str(db), "-n", "100")
        assert re.match(holder_pattern(db, "corral fetch", fetch.pid), line)
    finally:
        gate.opened.set()
        stderr = await afinished(fetch)
    assert fetch.returncode == 0, stderr
    assert sorted(recorded(db)) == sorted(urls)


async def test_a_crawl_on_a_store_a_fetch_is_using_is_refused(
    site: Site, gate: Gate, tmp_path: Path
) -> None:
    """A crawl started on the store of a running fetch exits 2 naming the fetch; the fetch
    completes with its records and nothing of a crawl."""
    urls = [site.url(f"/page/{i}") for i in range(100)] + [gate.url]
    db = tmp_path / "out.db"
    fetch = start(["fetch", str(write_urls(tmp_path / "urls.txt", urls)), "-o", str(db), "-q"])
    try:
        await gate.arrived.wait()
        line = await refused("crawl", site.url("/"), "-o", str(db), "-q")
        assert re.match(holder_pattern(db, "corral fetch", fetch.pid), line)
    finally:
        gate.opened.set()
        stderr = await afinished(fetch)
    assert fetch.returncode == 0, stderr
    assert sorted(recorded(db)) == sorted(urls)


async def test_a_second_crawl_is_refused_and_the_first_crawls_everything(
    site: Site, gate: Gate, tmp_path: Path
) -> None:
    """Two crawls on one store: the second exits 2 naming the first; the first ends with
    every page of the site recorded once and nothing left pending."""
    db = tmp_path / "crawl.db"
    args = ["crawl", site.url("/"), gate.url, "-o", str(db), "-q", "--max-depth", "12"]
    first = start(args)
    try:
        await gate.arrived.wait()
        line = await refused(*args)
        assert re.match(holder_pattern(db, "corral crawl", first.pid), line)
    finally:
        gate.opened.set()
        stderr = await afinished(first)
    assert first.returncode == 0, stderr
    urls = recorded(db)
    assert len(urls) == len(set(urls))
    assert {site.url(f"/site/{i}.html") for i in range(PAGES)} <= set(urls)
    assert query(db, "select count(*) from urls where state != 1") == [(0,)]


@pytest.mark.parametrize(
    ("first", "then"),
    [
        pytest.param("fetch", "crawl", id="crawl-after-fetch"),
        pytest.param("crawl", "fetch", id="fetch-after-crawl"),
    ],
)
async def test_a_store_serves_one_kind_of_job(
    site: Site, tmp_path: Path, first: str, then: str
) -> None:
    """A store made by a fetch refuses a crawl, and one made by a crawl refuses a fetch:
    exit 2 with one line saying what the store holds; the store is left as it was."""
    db = tmp_path / "out.db"
    source = write_urls(tmp_path / "urls.txt", [site.url(f"/page/{i}") for i in range(5)])
    commands = {
        "fetch": ["fetch", str(source), "-o", str(db), "-q"],
        "crawl": ["crawl", site.url("/site/0.html"), "-o", str(db), "-q", "--max-pages", "5"],
    }
    made = await acorral(*commands[first])
    assert made.returncode == 0, made.stderr
    before = query(db, "select * from results order by id")
    line = await refused(*commands[then])
    assert line == (
        f"corral: error: {db} holds the results of a corral {first}; "
        f"corral {then} cannot add to it: use another -o"
    )
    assert query(db, "select * from results order by id") == before
    assert query(db, "select count(*) from runs") == [(1,)]


async def test_sequential_fetches_with_other_inputs_add_their_records(
    site: Site, tmp_path: Path
) -> None:
    """Fetches with different inputs, one after the other, on one store: each adds one record
    per new URL, with ids of its own; URLs done before are not fetched again."""
    db = tmp_path / "out.db"
    a = [site.url(f"/page/{i}") for i in range(50)]
    b = [site.url(f"/page/{i}") for i in range(25, 120)]
    for name, urls in (("a", a), ("b", b)):
        run = await acorral("fetch", str(write_urls(tmp_path / name, urls)), "-o", str(db), "-q")
        assert run.returncode == 0, run.stderr
    assert sorted(recorded(db)) == sorted(set(a) | set(b))
    assert query(db, "select count(*) from urls") == [(120,)]
    assert set(hits(site).values()) == {1}


def test_a_store_another_program_is_writing_is_said_to_be_locked(tmp_path: Path) -> None:
    """A store that another program holds a write lock on (say, the sqlite3 shell in a
    transaction) is "locked by another program", not "not a usable SQLite database"; exit
    2 with one line, and nothing written. (SQLite waits 5 s for the lock first.)"""
    db = tmp_path / "out.db"
    made = run_corral("fetch", "-", "-o", str(db), "-q", stdin="")
    assert made.returncode == 0, made.stderr
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        run = run_corral("fetch", "-", "-o", str(db), "-q", stdin="")
    finally:
        other.close()
    assert run.returncode == 2, run.stderr
    message = f"{db} is locked by another program (database is locked)"
    assert run.stderr.strip().splitlines() == [
        f"corral: error: {message}; wait for it or use another -o"
    ]
    with sqlite3.connect(db) as conn:
        assert list(conn.execute("select status from runs")) == [("finished",)]


# --- killed runs --------------------------------------------------------------------------


async def test_a_zombie_holder_does_not_keep_its_urls_from_the_next_crawl(
    site: Site, gate: Gate, tmp_path: Path
) -> None:
    """A crawl killed while its parent does not reap it (a zombie: its pid still answers)
    holds nothing: the next crawl fetches the URLs the dead one had leased, and reports done
    only with every URL recorded."""
    db = tmp_path / "crawl.db"
    args = ["crawl", site.url("/"), gate.url, "-o", str(db), "--no-progress", "--max-depth", "12"]
    # The parent that never waits: it starts corral, says its pid, and sleeps.
    parent = subprocess.Popen(  # noqa: ASYNC220 - started once, ended in the finally below
        [
            sys.executable,
            "-c",
            _NEVER_WAITS,
            sys.executable,
            "-m",
            "corral",
            *args,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pid = int(await corral.to_thread(parent.stdout.readline))
        await gate.arrived.wait()  # the gate's URL is leased to the child now
        os.kill(pid, signal.SIGKILL)
        await corral.to_thread(wait_for_exit, pid)
        assert process_state(pid) == "Z"  # a zombie: os.kill(pid, 0) still succeeds
        assert query(db, "select count(*) from urls where state = 2") != [(0,)]
        gate.opened.set()
        again = await acorral(*args)
    finally:
        parent.kill()
        parent.communicate()
    assert again.returncode == 0, again.stderr
    urls = recorded(db)
    assert len(urls) == len(set(urls))
    assert gate.url in urls
    assert {site.url(f"/site/{i}.html") for i in range(PAGES)} <= set(urls)
    assert query(db, "select count(*) from urls where state != 1") == [(0,)]


_NEVER_WAITS = """
import subprocess, sys, time
child = subprocess.Popen(sys.argv[1:], stderr=subprocess.DEVNULL)
print(child.pid, flush=True)
time.sleep(600)
"""


def wait_for_exit(pid: int) -> None:
    """Wait until a process that is not our child has exited (its pidfd turns readable)."""
    fd = os.pidfd_open(pid)
    try:
        readable, _, _ = select.select([fd], [], [], 30)
        assert readable, f"process {pid} did not exit"
    finally:
        os.close(fd)


def process_state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0]


async def test_resumed_counts_add_up_and_are_saved(site: Site, tmp_path: Path) -> None:
    """Killed mid-run and run again: the summary counts each URL once ("3,000 of 3,000 done",
    "resumed" = the records made before the kill) and ``runs.summary`` saves the same."""
    urls = [site.url(f"/page/{i}") for i in range(3000)]
    db = tmp_path / "out.db"
    args = ["fetch", str(write_urls(tmp_path / "urls.txt", urls)), "-o", str(db)]
    job = start([*args, "-q"])
    try:
        await site.wait_until(lambda s: s.requests >= 1500)
    finally:
        killed(job)
    before = len(recorded(db))
    assert 0 < before < len(urls)
    again = await acorral(*args, "--no-progress")
    assert again.returncode == 0, again.stderr
    assert re.search(r"URLs +3,000 of 3,000 done \(100.0%\)", again.stderr), again.stderr
    assert re.search(rf"resumed +{before:,} ", again.stderr), (before, again.stderr)
    assert re.search(rf"ok +{len(urls) - before:,}\n", again.stderr), again.stderr
    ((summary,),) = query(db, "select summary from runs order by id desc limit 1")
    saved = json.loads(str(summary))
    assert (saved["done"], saved["skipped"]) == (len(urls) - before, before)
    assert sorted(recorded(db)) == sorted(urls)


async def test_a_killed_run_is_marked_at_the_next_start(site: Site, tmp_path: Path) -> None:
    """A run killed with ``kill -9`` is left ``running`` by the kill; the next run marks it
    ``killed`` (with the time of its last write) and says it is resuming it."""
    urls = [site.url(f"/page/{i}") for i in range(2000)]
    db = tmp_path / "out.db"
    args = ["fetch", str(write_urls(tmp_path / "urls.txt", urls)), "-o", str(db), "--no-progress"]
    job = start(args)
    try:
        await site.wait_until(lambda s: s.requests >= 500)
    finally:
        killed(job)
    assert query(db, "select status from runs") == [("running",)]
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    first_line = again.stderr.splitlines()[0]
    assert re.fullmatch(r"corral: resuming a run killed at \d\d:\d\d:\d\d", first_line), first_line
    (killed_run, resumed_run) = query(db, "select status, started_at, finished_at from runs")
    assert killed_run[0] == "killed"
    assert str(killed_run[1]) <= str(killed_run[2]) <= str(resumed_run[1])
    assert resumed_run[0] == "finished"


async def test_max_pages_bounds_the_crawl_across_a_kill(site: Site, tmp_path: Path) -> None:
    """``--max-pages`` counts the pages every run of the crawl fetched: killed part way and
    resumed, the crawl fetches N pages in all, not N more; the resumed run's summary counts
    the earlier run's pages as "resumed" (its skips are not pages done: issue 12, item 8)."""
    db = tmp_path / "crawl.db"
    args = ["crawl", site.url("/"), "-o", str(db), "--no-progress", "--max-pages", "150"]
    job = start(args)
    try:
        await site.wait_until(lambda s: s.requests >= 80)
    finally:
        killed(job)
    ((fetched,),) = query(db, "select sum(attempts > 0) from results")
    assert 0 < int(str(fetched)) < 150
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    assert query(db, "select count(*) from results where attempts > 0") == [(150,)]
    assert query(db, "select count(*) from urls where state != 1") == [(0,)]
    urls = recorded(db)
    assert len(urls) == len(set(urls))
    assert re.search(rf"resumed +{int(str(fetched)):,} ", again.stderr), (fetched, again.stderr)
