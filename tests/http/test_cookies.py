"""Cookies (issue 17): off by default; ``--cookies`` keeps one jar per host; ``--cookie-jar``
loads and saves it (JSON, or a browser's cookies.txt imported); the jar outlives the run.

The test site's cookie area: ``/cookie/start`` sets ``session`` and links to five pages that
answer 401 without it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import COMMAND, acorral, children

from corral.http import FetchConfig, open_fetcher
from corral.testing import Site, open_site

# The CLI's tests read and write their small files on the loop (as test_fetch_cli.py does).
pytestmark = pytest.mark.corral_guard(strict=False)

_TOKEN = "corral-test-session"


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


def _statuses(store: Path) -> dict[str, int | None]:
    with sqlite3.connect(store) as conn:
        return {url.rsplit("/cookie", 1)[1]: status for url, status in conn.execute(
            "select url, status from results where url like '%/cookie/%' order by id"
        )}  # fmt: skip


_ALL_PAGES = {f"/page/{n}" for n in range(1, 6)}


async def test_without_cookies_the_gated_pages_are_refused(site: Site, tmp_path: Path) -> None:
    """Off by default: the cookie set by the first page is not sent back (401s), and no jar
    file is written."""
    out = tmp_path / "crawl.db"
    done = await acorral("crawl", site.url("/cookie/start"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    statuses = _statuses(out)
    assert statuses.pop("/start") == 200
    assert statuses == dict.fromkeys(_ALL_PAGES, 401)
    assert not (tmp_path / "crawl.db.cookies.json").exists()


async def test_cookies_let_a_crawl_through_and_the_jar_is_kept_beside_the_store(
    site: Site, tmp_path: Path
) -> None:
    """``--cookies``: every gated page answers 200; the jar is saved beside the store, readable
    by its owner only, holding the session cookie under the site's host."""
    out = tmp_path / "crawl.db"
    done = await acorral("crawl", site.url("/cookie/start"), "-o", str(out), "--cookies")
    assert done.returncode == 0, done.stderr
    assert set(_statuses(out).values()) == {200}
    jar = tmp_path / "crawl.db.cookies.json"
    assert stat.S_IMODE(jar.stat().st_mode) == 0o600
    hosts = json.loads(jar.read_text())["hosts"]
    assert hosts[f"127.0.0.1:{site.port}"]["127.0.0.1|/cookie"]["session"]["value"] == _TOKEN


_HOW = ["one process", "--workers 2", "--redis"]


def _scaled(how: str, redis_url: str | None, job: str) -> list[str]:
    """Return the options that run a crawl ``how`` (``redis_url``, a real redis-server, for
    --redis)."""
    if how == "--workers 2":
        return ["--workers", "2"]
    if how == "--redis":
        assert redis_url is not None
        return ["--redis", redis_url, "--job", job]
    return []


@pytest.mark.parametrize("how", _HOW)
async def test_the_jar_survives_a_resume(
    site: Site, tmp_path: Path, how: str, redis_if_asked: str | None
) -> None:
    """A crawl (in one process, over two worker processes, or through Redis) stopped by
    SIGTERM after its first pages, then run again: the jar file holds the cookie as the run
    stops, and the resumed run's pages carry it."""
    out, jar = tmp_path / "crawl.db", tmp_path / "crawl.db.cookies.json"
    args = ["crawl", site.url("/cookie/start"), "-o", str(out), "--cookies", "--rate", "4/s"]
    args += _scaled(how, redis_if_asked, "term")
    run = await asyncio.create_subprocess_exec(*COMMAND, *args, stderr=asyncio.subprocess.PIPE)
    await asyncio.wait_for(site.wait_until(lambda s: s.by_prefix.get("/cookie", 0) >= 2), 30)
    run.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(run.communicate(), 30)
    assert run.returncode == 143, err
    assert len(_statuses(out)) < 6  # (stopped before the end)
    assert _TOKEN in jar.read_text()
    assert _TOKEN.encode() not in err
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    statuses = _statuses(out)
    assert statuses == {"/start": 200, **dict.fromkeys(_ALL_PAGES, 200)}


async def _wait_for_jar(
    jar: Path, run: asyncio.subprocess.Process, site: Site
) -> dict[str, object]:
    """Return the jar file's hosts once it holds the session cookie, with pages of the site
    still to fetch (a run saves its jar every few seconds while it changes, not only at its
    end)."""
    while run.returncode is None:
        hosts: dict[str, object] = json.loads(jar.read_text())["hosts"] if jar.exists() else {}
        if _TOKEN in json.dumps(hosts):
            assert site.statistics().by_prefix.get("/cookie", 0) < 6, "saved at the end only"
            return hosts
        await asyncio.sleep(0.1)  # (polling a file: no event says it was written)
    raise AssertionError(f"the run ended (exit {run.returncode}) before its jar was saved")


async def _ended(pids: list[int]) -> None:
    """Return once no process of ``pids`` is left (polled in /proc: no event says so)."""
    while True:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("how", _HOW)
async def test_a_kill_9_keeps_the_cookies_saved_so_far(
    site: Site, tmp_path: Path, how: str, redis_if_asked: str | None
) -> None:
    """A crawl (in one process, over two worker processes, or through Redis) killed with
    SIGKILL once it has its cookie: the jar beside the store already holds it (saved while
    the run goes, not only at its end), and the resumed run's pages are all let through
    (through Redis: from the job's jars there, the file gone)."""
    out, jar = tmp_path / "crawl.db", tmp_path / "crawl.db.cookies.json"
    args = ["crawl", site.url("/cookie/start"), "-o", str(out), "--cookies", "--rate", "1/2s"]
    args += _scaled(how, redis_if_asked, "kill")
    # (the worker processes, or the local corral worker)
    helper = "--until-stdin-closes" if how == "--redis" else "corral.http.crawler._child"
    run = await asyncio.create_subprocess_exec(*COMMAND, *args, stderr=asyncio.subprocess.PIPE)
    helpers: list[int] = []
    try:
        await asyncio.wait_for(site.wait_until(lambda s: s.by_prefix.get("/cookie", 0) >= 1), 30)
        helpers = children(run.pid, helper)
        hosts = await asyncio.wait_for(_wait_for_jar(jar, run, site), 30)
    finally:
        if run.returncode is None:
            run.kill()
        await run.communicate()
    assert run.returncode == -signal.SIGKILL
    # (a worker process starts with its first host: one site, one of the two)
    assert len(helpers) == {"one process": 0, "--workers 2": 1, "--redis": 1}[how]
    assert f"127.0.0.1:{site.port}" in hosts
    assert len(_statuses(out)) < 6  # (killed before the end)
    await asyncio.wait_for(_ended(helpers), 30)  # (they end with their pipe)
    if how == "--redis":
        jar.unlink()  # the interrupted job keeps its cookies in Redis, for its resume
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    assert _statuses(out) == {"/start": 200, **dict.fromkeys(_ALL_PAGES, 200)}


async def test_a_resume_without_cookies_says_the_jar_beside_the_store_is_not_used(
    site: Site, tmp_path: Path
) -> None:
    """A store with a jar beside it, run again without ``--cookies``: one line says the
    jar is not used and how to use it; the run goes on without cookies (off by default),
    and the jar is left as it was."""
    out, jar, urls = tmp_path / "f.db", tmp_path / "f.db.cookies.json", tmp_path / "urls.txt"
    urls.write_text(f"{site.url('/cookie/start')}\n")
    first = await acorral("fetch", str(urls), "-o", str(out), "--cookies")
    assert first.returncode == 0, first.stderr
    before = jar.read_bytes()
    urls.write_text(f"{site.url('/cookie/start')}\n{site.url('/cookie/page/1')}\n")
    args = ["fetch", str(urls), "-o", str(out)]
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    notes = [line for line in again.stderr.splitlines() if "cookies.json" in line]
    note = (
        f"corral: note: {jar} holds the cookies of an earlier run of this store: not used "
        "without --cookies (give --cookies to send them)"
    )
    assert notes == [note]
    assert _statuses(out) == {"/start": 200, "/page/1": 401}
    assert jar.read_bytes() == before
    quiet = await acorral(*args, "-q")
    assert quiet.stderr == ""


async def test_a_saved_jar_logs_a_fetch_in(site: Site, tmp_path: Path) -> None:
    """``--cookie-jar FILE`` of a crawl, given to a fetch of the gated pages: all 200."""
    jar = tmp_path / "jar.json"
    crawled = await acorral(
        "crawl", site.url("/cookie/start"), "-o", str(tmp_path / "c.db"), "--max-pages", "1",
        "--cookie-jar", str(jar),
    )  # fmt: skip
    assert crawled.returncode == 0, crawled.stderr
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(f"{site.url(f'/cookie{p}')}\n" for p in sorted(_ALL_PAGES)))
    out = tmp_path / "f.db"
    done = await acorral("fetch", str(urls), "-o", str(out), "--cookie-jar", str(jar))
    assert done.returncode == 0, done.stderr
    assert set(_statuses(out).values()) == {200}


async def test_a_browsers_cookies_txt_is_imported_and_left_as_it_was(
    site: Site, tmp_path: Path
) -> None:
    """A Netscape cookies.txt (as browser extensions export it) logs the fetch in; corral
    does not write its JSON jar over the user's file."""
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(
        "# Netscape HTTP Cookie File\n# exported by a browser\n\n"
        f"#HttpOnly_127.0.0.1\tFALSE\t/cookie\tFALSE\t0\tsession\t{_TOKEN}\n"
        "127.0.0.1\tFALSE\t/\tFALSE\t1\texpired\tlong-ago\n"
    )
    before = cookies.read_bytes()
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site.url('/cookie/page/1')}\n{site.url('/echo')}\n")
    out = tmp_path / "f.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--cookie-jar", str(cookies), "--save-bodies", "store"
    )
    assert done.returncode == 0, done.stderr
    assert _statuses(out) == {"/page/1": 200}
    with sqlite3.connect(out) as conn:
        (body,) = conn.execute("select body from results where url like '%/echo'").fetchone()
    assert "Cookie" not in json.loads(body)["headers"]  # path /cookie only; expired dropped
    assert cookies.read_bytes() == before


async def test_one_hosts_cookie_is_not_sent_to_another(tmp_path: Path) -> None:
    """Two sites on one address, two ports: the cookie the first sets stays in its jar; the
    second's gated page is a 401, the first's a 200."""
    async with open_site() as first, open_site() as second:
        config = FetchConfig(cookies=True, concurrency=1)
        async with open_fetcher(config) as fetcher:
            started = await fetcher.fetch(first.url("/cookie/start"))
            elsewhere = await fetcher.fetch(second.url("/cookie/page/1"))
            home = await fetcher.fetch(first.url("/cookie/page/1"))
    assert (started.status, elsewhere.status, home.status) == (200, 401, 200)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("junk\n", "line 1: neither a corral JSON cookie jar nor", id="junk"),
        pytest.param('{"hosts": {}}', "not a corral cookie jar", id="foreign-json"),
        pytest.param(b"\xff\xfe", "not UTF-8 text", id="binary"),
    ],
)
async def test_a_bad_jar_file_is_one_line_and_exit_2(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    """A --cookie-jar file that is no jar: one line naming it, exit 2, nothing written."""
    jar, out, urls = tmp_path / "jar", tmp_path / "out.db", tmp_path / "urls.txt"
    if isinstance(content, bytes):
        jar.write_bytes(content)
    else:
        jar.write_text(content)
    urls.write_text("http://127.0.0.1:9/\n")
    done = await acorral("fetch", str(urls), "-o", str(out), "--cookie-jar", str(jar))
    assert done.returncode == 2
    assert done.stderr.startswith(f"corral: error: --cookie-jar {jar}")
    assert len(done.stderr.splitlines()) == 1
    assert message in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("command", ["fetch", "crawl"])
async def test_a_jar_in_a_missing_directory_is_refused_before_the_run(
    tmp_path: Path, command: str
) -> None:
    """``--cookie-jar nodir/jar.json``: one line before anything is fetched, exit 2 (the
    run went to its end, then died of a FileNotFoundError writing the jar)."""
    jar, out, urls = tmp_path / "nodir" / "jar.json", tmp_path / "out.db", tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/\n")
    source = str(urls) if command == "fetch" else "http://127.0.0.1:9/"
    done = await acorral(command, source, "-o", str(out), "--cookie-jar", str(jar))
    assert done.returncode == 2
    assert done.stderr == f"corral: error: --cookie-jar {jar}: no directory {jar.parent}\n"
    assert not out.exists()


@pytest.mark.parametrize("how", _HOW)
async def test_the_session_is_kept_in_the_jar_only(
    how: str, site: Site, tmp_path: Path, redis_if_asked: str | None
) -> None:
    """A trial found the session token in clear in the store's ``Set-Cookie`` headers (a 0644
    file, and its exports) while the jar was 0600: with ``--cookies`` a record keeps the
    cookie's name and attributes, its value masked."""
    out = tmp_path / "crawl.db"
    args = ["crawl", site.url("/cookie/start"), "-o", str(out), "--cookies"]
    done = await acorral(*args, *_scaled(how, redis_if_asked, "masked"))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(out) as conn:
        kept = [json.loads(h) for (h,) in conn.execute("select headers from results")]
        everything = "\n".join(str(row) for row in conn.execute("select * from results"))
    start = [h for h in kept if any(name.lower() == "set-cookie" for name in h)]
    assert len(start) == 1, kept
    cookie = next(v for name, v in start[0].items() if name.lower() == "set-cookie")
    assert cookie.startswith("session=***;"), cookie
    assert "Path=/cookie" in cookie, cookie
    assert _TOKEN not in everything
    exported = tmp_path / "out.jsonl"
    done = await acorral("export", str(out), "-o", str(exported))
    assert done.returncode == 0, done.stderr
    assert _TOKEN not in exported.read_text()


async def test_without_cookies_a_record_keeps_set_cookie_as_sent(
    site: Site, tmp_path: Path
) -> None:
    """Off by default, corral keeps no session: the header is the site's answer, kept whole."""
    out = tmp_path / "fetch.db"
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{site.url('/cookie/start')}\n")
    done = await acorral("fetch", str(urls), "-o", str(out))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(out) as conn:
        (headers,) = conn.execute("select headers from results").fetchone()
    assert f"session={_TOKEN};" in headers
