"""File descriptors: a fetch over hundreds of hosts stays within ``ulimit -n``, and running
out of descriptors (or memory, or buffers) on this machine is the run's problem, never a
URL's recorded outcome (issue 12, item 6)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import corral
from corral.testing import Site, open_site

# The command runs in a subprocess; the test body reads the store it wrote.
pytestmark = pytest.mark.corral_guard(strict=False)

_HOSTS = 320  # more than the child's descriptor limit leaves room for, one socket each
_LIMIT = 256


@pytest.fixture
async def sites() -> AsyncIterator[list[Site]]:
    """The test site on ``_HOSTS`` ports: to a client, ``_HOSTS`` hosts (host:port)."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(open_site(log_size=0)) for _ in range(_HOSTS)]


# Sets ``ulimit -n`` to ARGV[1], then becomes the command after it. (Not ``preexec_fn``:
# Python run between fork and exec in a process with threads is not safe. This test hung
# once in CI that way, before its exec; most likely through run_sync's inherited loops,
# since fixed: tests/test_bridge_fork.py.)
_LIMITED = """
import os, resource, sys

limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
os.execvp(sys.argv[2], sys.argv[2:])
"""


def _fetch(argv: list[str], limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (``limit``: with that ``ulimit -n``) and return what it did."""
    if limit is not None:
        argv = [sys.executable, "-c", _LIMITED, str(limit), *argv]
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def _records(db: Path) -> list[tuple[str, int, str | None, str | None]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("select url, ok, error_kind, error from results"))


# Runs ``corral ARGS`` with every free descriptor of its process taken (by /dev/null opened
# again and again) from the moment it first makes a TCP socket: that socket and every one
# after fail with EMFILE, as when something else in the process has used the table up.
# After RELEASE more socket attempts the descriptors are given back (0: never).
_HOG = """
import os, runpy, socket, sys

release = int(sys.argv[1])
held = []
seen = 0


def hook(event, args):
    global seen
    if event != "socket.__new__" or args[1] != socket.AF_INET:
        return
    seen += 1
    if seen == 1:
        try:
            while True:
                held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
    elif seen == release:
        for fd in held:
            os.close(fd)
        held.clear()


sys.addaudithook(hook)
sys.argv = ["corral", *sys.argv[2:]]
runpy.run_module("corral", run_name="__main__", alter_sys=True)
"""


async def _hogged(
    tmp_path: Path, release: int, args: list[str]
) -> subprocess.CompletedProcess[str]:
    hog = tmp_path / "hog.py"
    hog.write_text(_HOG, encoding="utf-8")
    argv = [sys.executable, str(hog), str(release), *args]
    return await corral.to_thread(_fetch, argv)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(log_size=0) as running:
        yield running


def _source(site: Site, tmp_path: Path, n: int) -> tuple[Path, list[str]]:
    urls = [site.url(f"/page/{i}") for i in range(n)]
    source = tmp_path / "urls.txt"
    source.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return source, urls


async def test_hundreds_of_hosts_under_a_low_descriptor_limit(
    sites: list[Site], tmp_path: Path
) -> None:
    """Three URLs on each of 320 hosts, run with ``ulimit -n 256``: every URL ends ok, no
    record says "Too many open files", exit 0 (idle keep-alive sockets are closed to stay
    within the descriptor budget instead of one being kept per host)."""
    urls = [site.url(f"/page/{i}") for i in range(3) for site in sites]
    source = tmp_path / "urls.txt"
    source.write_text("\n".join(urls) + "\n", encoding="utf-8")
    db = tmp_path / "out.db"
    argv = [sys.executable, "-m", "corral", "fetch", str(source), "-o", str(db), "-q"]
    run = await corral.to_thread(_fetch, argv, _LIMIT)
    assert run.returncode == 0, run.stderr[-3000:]
    records = _records(db)
    assert sorted(url for url, *_ in records) == sorted(urls)
    assert not [r for r in records if "Too many open files" in (r[3] or "")]
    assert all(ok for _, ok, _, _ in records), {kind for _, ok, kind, _ in records if not ok}


async def test_a_passing_shortage_of_descriptors_only_delays_urls(
    site: Site, tmp_path: Path
) -> None:
    """Connects failing with EMFILE for a while are not the URLs' outcomes: once
    descriptors are free again every URL ends ok, each after one attempt (the failed
    connects are not counted as attempts), and the run exits 0."""
    source, urls = _source(site, tmp_path, 500)
    db = tmp_path / "out.db"
    run = await _hogged(tmp_path, 300, ["fetch", str(source), "-o", str(db), "-q"])
    assert run.returncode == 0, run.stderr[-3000:]
    with sqlite3.connect(db) as conn:
        rows = list(conn.execute("select url, ok, attempts from results"))
    assert sorted(url for url, _, _ in rows) == sorted(urls)
    assert {(ok, attempts) for _, ok, attempts in rows} == {(1, 1)}


async def test_robots_txt_is_not_disallowed_by_a_shortage_of_descriptors(
    site: Site, tmp_path: Path
) -> None:
    """A crawl whose first connects (robots.txt's) fail with EMFILE waits for descriptors
    instead of taking robots.txt for unreachable (which would skip the whole site)."""
    db = tmp_path / "crawl.db"
    args = ["crawl", site.url("/site/0.html"), "-o", str(db), "--max-pages", "20", "-q"]
    run = await _hogged(tmp_path, 5, args)  # (robots.txt is tried again every 0.2 s)
    assert run.returncode == 0, run.stderr[-3000:]
    records = _records(db)
    assert not [r for r in records if r[2] == "robots"], records[:5]
    assert sum(1 for r in records if r[1]) == 20


async def test_a_lasting_shortage_stops_the_run_with_one_line(site: Site, tmp_path: Path) -> None:
    """No descriptor to be had for several seconds: the run stops with one line saying what
    ran out and what to do (exit 75), after the summary of an interrupted run; no URL is
    recorded as failed for it, and the same command later fetches them all."""
    source, urls = _source(site, tmp_path, 200)
    db = tmp_path / "out.db"
    args = ["fetch", str(source), "-o", str(db), "-q"]
    run = await _hogged(tmp_path, 0, args)
    assert run.returncode == 75, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("corral: error: this machine ran out of file descriptors"), last
    assert "ulimit -n" in last
    assert "To resume, run the same command again" in run.stderr
    assert _records(db) == []
    again = await corral.to_thread(_fetch, [sys.executable, "-m", "corral", *args])
    assert again.returncode == 0, again.stderr
    assert sorted(url for url, ok, _, _ in _records(db) if ok) == sorted(urls)
