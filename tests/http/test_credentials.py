"""Passwords in URLs (``https://user:secret@host/``): fetched with, never shown in a record.

Through the real ``corral fetch`` and ``corral crawl`` (SQLite, JSON lines, stdout, a resumed
run) and the Python API: every record shows ``user:***@``; the server still gets the real
credentials; the frontier keeps them so a resumed run can fetch (docs/fetch.md says so).
"""

from __future__ import annotations

import base64
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
import corral.http
from corral.http import FetchResult, Request, open_fetcher, request_for
from corral.testing import Site, SiteLayout, open_site

# What these tests check runs in a subprocess (the real command); the test body reads the
# files it wrote, which strict mode would (rightly) call blocking in library code.
pytestmark = pytest.mark.corral_guard(strict=False)

AUTHORIZATION = "Basic " + base64.b64encode(b"user:secret").decode()


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=10), log_size=100_000) as running:
        yield running


def secret_url(site: Site, path: str) -> str:
    return site.url(path).replace("http://", "http://user:secret@")


def masked_url(site: Site, path: str) -> str:
    return site.url(path).replace("http://", "http://user:***@")


def run_corral(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


async def acorral(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return await corral.to_thread(lambda: run_corral(*args, stdin=stdin))


def table(db: Path, name: str, columns: str = "*") -> list[dict[str, object]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(f"select {columns} from {name}")]


def as_bytes(value: object) -> bytes:
    assert isinstance(value, bytes)
    return value


def start_corral(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "corral", *args], stderr=subprocess.DEVNULL)


def echoed_authorization(body: bytes) -> object:
    """Return the Authorization header the test site's /echo says it received."""
    echo = json.loads(body)
    return echo["headers"].get("Authorization")


@pytest.mark.parametrize("output", ["out.db", "out.jsonl", "-"])
async def test_fetch_masks_passwords_in_its_records(
    site: Site, tmp_path: Path, output: str
) -> None:
    """SQLite rows, JSON lines and stdout records show ``user:***@`` in url (and final_url
    after a redirect, and an invalid line's text), never the password; the server got it."""
    source = tmp_path / "urls.txt"
    lines = [secret_url(site, "/echo"), secret_url(site, "/redirect/2"), "ftp://user:secret@h/"]
    source.write_text("\n".join(lines) + "\n")
    out = str(tmp_path / output) if output != "-" else "-"
    run = await acorral("fetch", str(source), "-o", out, "-q", "--save-bodies", "store")
    assert run.returncode == 0, run.stderr
    if output == "out.db":
        got = table(tmp_path / output, "results")
        text = str([{k: v for k, v in row.items() if k != "body"} for row in got])
        echo = next(row for row in got if str(row["url"]).endswith("/echo"))
        body = as_bytes(echo["body"])
    else:
        text = run.stdout if output == "-" else (tmp_path / output).read_text()
        got = [json.loads(line) for line in text.splitlines()]
        echo = next(row for row in got if str(row["url"]).endswith("/echo"))
        body = base64.b64decode(str(echo["body_base64"]))
    assert "secret" not in text
    assert sorted(str(row["url"]) for row in got) == sorted(
        [masked_url(site, "/echo"), masked_url(site, "/redirect/2"), "ftp://user:***@h/"]
    )
    assert {row["final_url"] for row in got} == {None, site.url("/echo"), site.url("/redirect/0")}
    assert echoed_authorization(body) == AUTHORIZATION  # fetched with the real credentials


async def test_the_frontier_keeps_the_password_for_a_resumed_run(
    site: Site, tmp_path: Path
) -> None:
    """Killed with a credentialed URL still pending, the same command fetches it from the
    frontier with the real credentials (the urls table keeps them: docs/fetch.md)."""
    source = tmp_path / "urls.txt"
    source.write_text(f"{secret_url(site, '/delay/3000')}\n{secret_url(site, '/echo/later')}\n")
    db = tmp_path / "out.db"
    args = ["fetch", str(source), "-o", str(db), "--per-host", "1", "--no-progress"]
    args += ["--save-bodies", "store"]
    job = start_corral(args)
    try:
        await site.wait_until(lambda s: s.by_prefix.get("/delay", 0) >= 1)
    finally:
        job.send_signal(signal.SIGKILL)
        await corral.to_thread(job.wait)
    assert table(db, "results") == []  # the echo waits behind the delay on a one-slot host
    assert {row["url"] for row in table(db, "urls", "url")} == {
        secret_url(site, "/delay/3000"),
        secret_url(site, "/echo/later"),
    }
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    got = {str(row["url"]): row for row in table(db, "results")}
    assert sorted(got) == [masked_url(site, "/delay/3000"), masked_url(site, "/echo/later")]
    echo = got[masked_url(site, "/echo/later")]
    assert echoed_authorization(as_bytes(echo["body"])) == AUTHORIZATION


async def test_the_python_api_masks_passwords(site: Site) -> None:
    """fetcher.fetch, fetch_all (URL strings and request_for objects) and corral.http.fetch
    return records with ``user:***@``; the requests carried the real credentials."""
    urls: list[str | Request] = [
        secret_url(site, "/echo/a"),
        request_for(secret_url(site, "/echo/b")),
        "ftp://u:pw@h/",
    ]
    async with open_fetcher(save_bodies="store") as fetcher:
        one = await fetcher.fetch(secret_url(site, "/echo/one"))
        many = [record async for record in fetcher.fetch_all(urls)]
    sync_urls = [secret_url(site, "/echo/sync"), "ftp://u:pw@h/sync"]
    synced = await corral.to_thread(lambda: corral.http.fetch(sync_urls, save_bodies="store"))
    got: list[FetchResult] = [one, *many, *synced]
    assert sorted(record.url for record in got) == sorted(
        [
            masked_url(site, "/echo/one"),
            masked_url(site, "/echo/a"),
            masked_url(site, "/echo/b"),
            "ftp://u:***@h/",
            masked_url(site, "/echo/sync"),
            "ftp://u:***@h/sync",
        ]
    )
    for record in got:
        assert "secret" not in repr(record.to_dict())
        assert ":pw@" not in repr(record.to_dict())
        if record.ok:
            assert echoed_authorization(record.body or b"") == AUTHORIZATION
    assert site.statistics().by_prefix["/echo"] == 4


async def test_crawl_masks_passwords_in_results_and_found_on(site: Site, tmp_path: Path) -> None:
    """A crawl from credentialed seeds: the seed's record, its links' found_on, a seed skipped
    by robots.txt and one skipped by --exclude all show ``user:***@``, never the password."""
    store = tmp_path / "crawl.db"
    seeds = [
        secret_url(site, "/"),
        secret_url(site, "/private/page.html"),
        secret_url(site, "/chain/0.html"),
    ]
    run = await acorral(
        "crawl", *seeds, "-o", str(store), "--max-depth", "1", "--exclude", "/chain/", "-q"
    )
    assert run.returncode == 0, run.stderr
    got = table(store, "results", "url, final_url, error_kind, found_on")
    assert "user:secret@" not in str(got)
    kinds = {str(row["url"]): row["error_kind"] for row in got}
    assert kinds[masked_url(site, "/")] is None
    assert kinds[masked_url(site, "/private/page.html")] == "robots"
    assert kinds[masked_url(site, "/chain/0.html")] is not None
    found_on = {row["found_on"] for row in got}
    assert masked_url(site, "/") in found_on  # the seed's links
    assert not any("@" in str(url) for url in found_on - {masked_url(site, "/")})


async def test_crawl_masks_passwords_of_urls_skipped_at_max_pages(
    site: Site, tmp_path: Path
) -> None:
    """Seeds left when --max-pages is reached get their max_pages record with the password
    masked too (those records are copied from the frontier, which keeps it)."""
    store = tmp_path / "crawl.db"
    seeds = [secret_url(site, path) for path in ("/", "/site/1.html", "/site/2.html")]
    run = await acorral("crawl", *seeds, "-o", str(store), "--max-pages", "1", "-q")
    assert run.returncode == 0, run.stderr
    got = table(store, "results", "url, error_kind")
    assert "user:secret@" not in str(got)
    skipped = {str(row["url"]) for row in got if row["error_kind"] == "max_pages"}
    assert {masked_url(site, "/site/1.html"), masked_url(site, "/site/2.html")} <= skipped
