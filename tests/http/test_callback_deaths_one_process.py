"""A ``--parse`` callback that ends the crawl's one process on a page (``os._exit``, a crash
in C, the OOM killer): the page under examination is noted beside the store, a resume
charges it a death, and at the second the page is recorded ``parse_error`` and the crawl
goes on (as ``--workers`` does in its parent). Before, every resume died on the same page.
A Ctrl-C is no death, nor is a third Ctrl-C that ends the process at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest
from corral_cli import COMMAND, ENV

import corral
from corral.http.crawler._deathnote import DeathNote, read
from corral.testing import SiteLayout, open_site

# the crawls run in subprocesses; the test body reads the store (blocking, and rightly so)
pytestmark = pytest.mark.corral_guard(strict=False)

_DEADLY = """\
import os, signal

def items(page):
    if page.url.endswith("/site/3.html"):
        {kill}
    return [{{"url": page.url}}]
"""

_HELD = """\
import os, sys, time

def items(page):
    if page.url.endswith("/site/3.html") and not os.path.exists("go"):
        print("held", file=sys.stderr, flush=True)
        while not os.path.exists("go"):
            time.sleep(0.01)  # (held until the test has sent its signals)
    return [{"url": page.url}]
"""

_DIED = "ended while examining"  # what a run says of pages a dead process was examining


def _crawl_args(seed: str, db: Path) -> list[str]:
    return ["crawl", seed, "-o", str(db), "--no-progress", "--parse", "myparse:items"]


async def _crawl(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*COMMAND, *args], capture_output=True, text=True, timeout=120, env=ENV, cwd=tmp_path
        )

    return await corral.to_thread(run)


def _start(tmp_path: Path, args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COMMAND, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=tmp_path,
    )


def _read_until(job: subprocess.Popen[str], line: str) -> str:
    """Read the job's stderr up to and with ``line``; return what was read."""
    assert job.stderr is not None
    read = ""
    while (got := job.stderr.readline()) and got.strip() != line:
        read += got
    return read


def _records(db: Path) -> dict[str, tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("select url, status, ok, error_kind, error from results").fetchall()
    assert len(rows) == len({row[0] for row in rows})  # one record per URL
    return {str(row[0]): row[1:] for row in rows}


def _item_urls(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [json.loads(text)["url"] for (text,) in conn.execute("select data from items")]


@pytest.mark.parametrize(
    ("kill", "code"),
    [
        pytest.param("os._exit(3)", 3, id="exit"),
        pytest.param("os.kill(os.getpid(), signal.SIGSEGV)", -signal.SIGSEGV, id="segfault"),
    ],
)
async def test_a_page_whose_callback_ends_the_process_twice_is_failed_and_the_crawl_goes_on(
    tmp_path: Path, kill: str, code: int
) -> None:
    """Run 1 dies on the page, run 2 dies on it again (examined alone), run 3 records it
    ``parse_error`` without calling the callback and crawls the rest: every other page once,
    with its items, and the summary says the process died in the callback."""
    (tmp_path / "myparse.py").write_text(_DEADLY.format(kill=kill), encoding="utf-8")
    async with open_site(layout=SiteLayout(pages=20)) as site:
        db = tmp_path / "c.db"
        args = _crawl_args(site.url("/site/0.html"), db)
        first = await _crawl(tmp_path, *args)
        second = await _crawl(tmp_path, *args)
        third = await _crawl(tmp_path, *args)
    poison = site.url("/site/3.html")
    assert first.returncode == code, first.stderr
    assert _DIED not in first.stderr
    assert second.returncode == code, second.stderr
    assert _DIED in second.stderr  # (it names the pages: the poison among them, maybe more)
    assert third.returncode == 0, third.stderr
    records = _records(db)
    assert {site.url(f"/site/{i}.html") for i in range(20)} <= set(records)
    status, ok, kind, error = records[poison]
    assert (status, ok, kind) == (200, 0, "parse_error")
    assert error == "myparse:items ended its process on this page, 2 times"
    pages = {site.url(f"/site/{i}.html") for i in range(20)} - {poison}
    assert all(records[url][1] == 1 for url in pages), records
    assert [url for url, r in records.items() if r[2] == "parse_error"] == [poison]
    items = _item_urls(db)
    assert len(items) == len(set(items))  # (no page's items twice)
    assert pages <= set(items)
    assert poison not in items
    assert f"corral: {poison}: myparse:items ended its process on this page" in third.stderr
    assert "its process died in the callback on 1 page" in third.stderr
    assert not (tmp_path / "c.db.examining").exists()  # (a clean end leaves no note)


@pytest.mark.parametrize("signals", [1, 3], ids=["ctrl-c", "ctrl-c-three-times"])
async def test_an_interrupted_crawl_is_not_charged_a_death(tmp_path: Path, signals: int) -> None:
    """SIGINT while the callback examines a page (once: a graceful stop; three times: the
    process ends at once, with ``os._exit``): the resume says nothing of a death and
    examines the page as any other."""
    (tmp_path / "myparse.py").write_text(_HELD, encoding="utf-8")
    async with open_site(layout=SiteLayout(pages=20)) as site:
        db = tmp_path / "c.db"
        args = _crawl_args(site.url("/site/0.html"), db)
        job = _start(tmp_path, args)
        try:
            async with asyncio.timeout(60):  # (the callback's word that it holds the page)
                said = await corral.to_thread(_read_until, job, "held")
            for i in range(signals):
                if i:  # (a few ms apart: two signals back to back are often merged into one)
                    await asyncio.sleep(0.01)
                job.send_signal(signal.SIGINT)
            (tmp_path / "go").touch()  # (a graceful stop waits for the callback's thread)
            _, rest = await corral.to_thread(lambda: job.communicate(timeout=60))
        finally:
            (tmp_path / "go").touch()
            with contextlib.suppress(ProcessLookupError):
                job.kill()
        stderr = said + rest
        assert job.returncode == 130, stderr
        assert "Traceback" not in stderr
        again = await _crawl(tmp_path, *args)
    assert again.returncode == 0, again.stderr
    assert _DIED not in again.stderr
    records = _records(db)
    assert all(records[site.url(f"/site/{i}.html")][1] == 1 for i in range(20)), records
    assert site.url("/site/3.html") in _item_urls(db)


async def test_the_note_holds_the_pages_under_examination_and_belongs_to_its_store(
    tmp_path: Path,
) -> None:
    """What a death would leave: every page under examination at that moment (two at once
    here), the deaths kept by a clean end; a note beside another store by that name (made
    anew) is ignored."""
    path = str(tmp_path / "c.db.examining")
    note = DeathNote(path, b"store-1!", {7: 1}, "myparse:items")
    await corral.to_thread(note.start)
    held, started = asyncio.Event(), asyncio.Semaphore(0)

    async def examining() -> None:
        started.release()
        await held.wait()

    running = [asyncio.create_task(note.examine(i, examining)) for i in (11, 12)]
    for _ in running:  # (both under examination: neither is suspect, so neither waits)
        await started.acquire()
    deaths, examined = await corral.to_thread(read, path, b"store-1!")
    assert (deaths, sorted(examined)) == ({7: 1}, [11, 12])
    held.set()
    await asyncio.gather(*running)
    assert await corral.to_thread(read, path, b"store-1!") == ({7: 1}, [])
    await corral.to_thread(note.finish)
    assert await corral.to_thread(read, path, b"store-1!") == ({7: 1}, [])
    assert await corral.to_thread(read, path, b"store-2!") == ({}, [])
