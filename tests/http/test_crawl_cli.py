"""``corral crawl`` and ``corral export`` through the real entry point; resume after kill -9."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import corral
from corral.testing import Site, SiteLayout, open_site

# What these tests check runs in a subprocess (the real command); the test body reads the
# files it wrote, which strict mode would (rightly) call blocking in library code.
pytestmark = pytest.mark.corral_guard(strict=False)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=400), log_size=100_000) as running:
        yield running


def run_corral(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


async def acorral(*args: str) -> subprocess.CompletedProcess[str]:
    return await corral.to_thread(run_corral, *args)


def urls_recorded(store: Path) -> list[str]:
    with sqlite3.connect(store) as conn:
        return [url for (url,) in conn.execute("select url from results")]


async def test_crawl_cli_records_and_summarises(site: Site, tmp_path: Path) -> None:
    """A crawl from the CLI fills the store and prints the summary with what was skipped."""
    store = tmp_path / "crawl.db"
    run = await acorral(
        "crawl", site.url("/"), "-o", str(store), "--max-depth", "3", "--no-progress"
    )
    assert run.returncode == 0, run.stderr
    recorded = urls_recorded(store)
    assert len(recorded) == len(set(recorded))
    assert site.url("/site/0.html") in recorded
    assert "not fetched:" in run.stderr
    assert "robots" in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["crawl", "ftp://x/"], "ftp", id="bad-seed"),
        pytest.param(["crawl", "http://127.0.0.1:9/", "--exclude", "("], "exclude", id="bad-regex"),
        pytest.param(
            ["crawl", "http://127.0.0.1:9/", "--max-pages", "0"], "--max-pages", id="zero-pages"
        ),
        pytest.param(
            ["crawl", "http://127.0.0.1:9/", "--parse", "nomodule"], "--parse", id="bad-parse"
        ),
        pytest.param(
            ["crawl", "http://127.0.0.1:9/", "--parse", "./myparse.py:title"],
            "give the module's name, not its file (myparse:title",
            id="parse-file-path",
        ),
        pytest.param(["export", "/no/such/store.db"], "cannot read store", id="missing-store"),
    ],
)
def test_bad_crawl_and_export_usage_exits_2(args: list[str], message: str, tmp_path: Path) -> None:
    """Bad seeds, patterns, limits, callbacks and stores: exit 2 with one line."""
    run = run_corral(*args, *(["-o", str(tmp_path / "c.db")] if args[0] == "crawl" else []))
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert message in lines[0]


async def test_parse_callback_from_the_command_line(site: Site, tmp_path: Path) -> None:
    """--parse MODULE:FUNCTION loads the user's function; its items are exported."""
    (tmp_path / "myparse.py").write_text(
        "def titles(page):\n    return [{'url': page.url, 'size': len(page.body or b'')}]\n"
    )
    store = tmp_path / "crawl.db"
    run = await corral.to_thread(
        lambda: subprocess.run(
            [
                sys.executable,
                "-m",
                "corral",
                "crawl",
                site.url("/site/0.html"),
                "-o",
                str(store),
                "--max-pages",
                "5",
                "--parse",
                "myparse:titles",
                "-q",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
    )
    assert run.returncode == 0, run.stderr
    exported = await acorral("export", str(store), "--table", "items")
    items = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(items) == 5
    assert all(item["data"]["size"] > 0 for item in items)


async def test_export_formats(site: Site, tmp_path: Path) -> None:
    """export writes every results row as JSON lines or CSV, to stdout or a file."""
    store = tmp_path / "crawl.db"
    run = await acorral(
        "crawl", site.url("/site/0.html"), "-o", str(store), "--max-pages", "10", "-q"
    )
    assert run.returncode == 0, run.stderr
    total = len(urls_recorded(store))
    lines = (await acorral("export", str(store))).stdout.splitlines()
    assert len(lines) == total
    assert {"url", "status", "error_kind", "depth", "found_on"} <= set(json.loads(lines[0]))
    out = tmp_path / "results.csv"
    written = await acorral("export", str(store), "--format", "csv", "-o", str(out))
    assert written.returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == total


async def test_resume_after_kill_9_loses_and_repeats_nothing(site: Site, tmp_path: Path) -> None:
    """Killed mid-crawl, the same command finishes the crawl: no URL recorded twice, none lost,
    and no page recorded before the kill fetched again."""
    store = tmp_path / "crawl.db"
    args = [
        "crawl",
        site.url("/"),
        "-o",
        str(store),
        "--per-host",
        "4",
        "--no-progress",
        "--max-depth",
        "12",
    ]
    job = subprocess.Popen(  # noqa: ASYNC220 - started once; its end is awaited by a thread
        [sys.executable, "-m", "corral", *args], stderr=subprocess.PIPE, text=True
    )
    try:
        await site.wait_until(lambda s: s.requests >= 150)
    finally:
        job.send_signal(signal.SIGKILL)
        job.communicate()
    before = set(urls_recorded(store))
    assert before
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    after = urls_recorded(store)
    assert len(after) == len(set(after))
    for i in range(400):
        assert site.url(f"/site/{i}.html") in after
    hits: dict[str, int] = {}
    for record in site.statistics().recent:
        hits[record.target] = hits.get(record.target, 0) + 1
    for url in before:
        path = url.removeprefix(site.base_url)
        if path in hits and path != "/robots.txt":
            assert hits[path] == 1, url


@pytest.mark.parametrize("output", ["pages.jsonl", "pages.ndjson", "-"])
def test_a_crawl_refuses_an_output_that_is_not_a_store(tmp_path: Path, output: str) -> None:
    """``corral crawl -o pages.jsonl`` (or ``-o -``) is a usage error naming what to do: a
    crawl writes a SQLite store (``corral export`` gives JSON lines). It wrote a SQLite file
    named ``pages.jsonl`` (or ``-``) and exited 0. Nothing is created."""
    done = subprocess.run(
        [sys.executable, "-m", "corral", "crawl", "http://127.0.0.1:9/", "-o", output],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "a crawl writes a SQLite store" in done.stderr
    assert "corral export" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_parse_module_that_fails_on_import_is_one_line(tmp_path: Path) -> None:
    """A ``--parse`` module that raises while importing (not an ImportError) is a one-line
    usage error, exit 2, before anything is written; it was a traceback and exit 1."""
    (tmp_path / "broken.py").write_text("raise RuntimeError('no config here')\n")
    done = subprocess.run(
        [sys.executable, "-m", "corral", "crawl", "http://127.0.0.1:9/", "--parse", "broken:f"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "corral: error: --parse 'broken:f': importing broken raised RuntimeError: no config here"
    ]
    assert {p.name for p in tmp_path.iterdir()} <= {"broken.py", "__pycache__"}  # no store
