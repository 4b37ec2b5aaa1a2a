"""Proxies (issue 17): requests through real tinyproxy (HTTP) and microsocks (SOCKS5) servers
on 127.0.0.1, a host sticking to its proxy, a failing proxy rested and its hosts moved,
credentials masked, bad proxy input refused in one line."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from corral_cli import acorral
from proxy_servers import MicroSocks, TinyProxy, TlsProxy, clients_of, owner_of
from redis_server import free_port

from corral import open_scope, to_thread
from corral.http import FetchConfig, open_fetcher
from corral.http.scale._wire import config_from_json, config_to_json
from corral.testing import Site, SiteLayout, open_site

# The CLI's tests read and write their small files on the loop (as test_fetch_cli.py does).
pytestmark = pytest.mark.corral_guard(strict=False)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=50), log_size=10_000) as running:
        yield running


@pytest.fixture
def socks(tmp_path: Path) -> Iterator[MicroSocks]:
    server = MicroSocks(tmp_path, user="bob", password="hunter2")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[TinyProxy]:
    server = TinyProxy(tmp_path, user="ann", password="s3cret")
    server.start()
    yield server
    server.stop()


def _urls(tmp_path: Path, site: Site, paths: list[str]) -> Path:
    file = tmp_path / "urls.txt"
    file.write_text("".join(f"{site.url(p)}\n" for p in paths))
    return file


async def _text(path: Path) -> str:
    return await to_thread(path.read_text)


def _records(store: Path) -> list[dict[str, object]]:
    with sqlite3.connect(store) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("select * from results order by id")]


async def test_the_site_sees_the_socks_proxys_connection_not_corrals(
    site: Site, socks: MicroSocks
) -> None:
    """Through a SOCKS5 proxy with credentials, the site's peer is a socket of the microsocks
    process; the record names the proxy with its password masked; the statistics count it."""
    config = FetchConfig(proxies=(socks.url,), save_bodies="store")
    async with open_fetcher(config) as fetcher:
        result = await fetcher.fetch(site.url("/echo"))
        assert result.ok, result.error
        assert result.body is not None
        peer = json.loads(result.body)["peer"]
        port = int(peer.rsplit(":", 1)[1])
        assert await to_thread(owner_of, port) == socks.pid  # (its connection is open)
        shown = f"socks5://bob:***@127.0.0.1:{socks.port}"
        assert fetcher.statistics().proxies == {shown: (1, 0, 0)}
    assert result.proxy == shown
    assert f"connected to 127.0.0.1:{site.port}" in await _text(socks.log)


async def test_a_fetch_through_tinyproxy_is_forwarded_by_it_and_keeps_its_password_masked(
    site: Site, tinyproxy: TinyProxy, tmp_path: Path
) -> None:
    """``corral fetch --proxy http://user:pass@...``: every request reaches the site through
    tinyproxy (its log names each URL, the site sees its Via header); the store's records
    and command line, and the summary, show the password as ``***``."""
    paths = [f"/page/{n}" for n in range(1, 11)] + ["/echo"]
    urls, out = _urls(tmp_path, site, paths), tmp_path / "out.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--proxy", tinyproxy.url, "--save-bodies", "store"
    )
    assert done.returncode == 0, done.stderr
    records = _records(out)
    assert [r["status"] for r in records] == [200] * 11
    assert {r["proxy"] for r in records} == {f"http://ann:***@127.0.0.1:{tinyproxy.port}"}
    log = await _text(tinyproxy.log)
    assert all(f"{site.url(p)}" in log for p in paths)
    body = records[-1]["body"]
    assert isinstance(body, bytes)
    echo = json.loads(body)
    assert "tinyproxy" in echo["headers"]["Via"]
    with sqlite3.connect(out) as conn:
        (argv,) = conn.execute("select argv from runs").fetchone()
    assert "s3cret" not in argv + done.stderr + done.stdout
    line = next(line for line in done.stderr.splitlines() if "proxy " in line)
    assert line.split() == [
        "proxy", f"http://ann:***@127.0.0.1:{tinyproxy.port}", "11", "requests,",
        "0", "errors,", "rested", "0x",
    ]  # fmt: skip


async def test_a_dead_proxy_costs_its_hosts_a_move_not_their_urls(
    site: Site, socks: MicroSocks, tmp_path: Path
) -> None:
    """The first proxy in the list listens nowhere: the host that met it moves to the SOCKS
    proxy; every URL is fetched, each in one attempt counted, and the summary's line for the
    dead proxy says it was rested."""
    dead = f"http://127.0.0.1:{free_port()}"
    urls, out = _urls(tmp_path, site, [f"/page/{n}" for n in range(1, 31)]), tmp_path / "o.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--proxy", dead, "--proxy", socks.url,
        "--retries", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = _records(out)
    assert len(records) == 30
    assert all(r["ok"] and r["attempts"] == 1 for r in records)
    assert {r["proxy"] for r in records} == {f"socks5://bob:***@127.0.0.1:{socks.port}"}
    dead_line = next(line for line in done.stderr.splitlines() if dead in line)
    assert "rested 1x" in dead_line
    assert " 0 errors" not in dead_line


async def test_a_proxy_refusing_the_credentials_is_the_proxys_error(
    site: Site, socks: MicroSocks, tmp_path: Path
) -> None:
    """Wrong SOCKS credentials and no other proxy: every URL ends with error_kind ``proxy``
    (a failure of the proxy, named in the error), none is lost, nothing reached the site."""
    wrong = socks.url.replace("hunter2", "wrong")
    urls, out = _urls(tmp_path, site, ["/page/1", "/page/2"]), tmp_path / "o.db"
    done = await acorral("fetch", str(urls), "-o", str(out), "--proxy", wrong, "--retries", "1")
    assert done.returncode == 1, done.stderr  # (a proxy refused its credentials)
    records = _records(out)
    assert [r["error_kind"] for r in records] == ["proxy", "proxy"]
    assert all("authentication" in str(r["error"]) for r in records)
    assert "wrong" not in done.stderr + str(records)
    assert site.statistics().by_prefix.get("/page", 0) == 0


async def test_per_proxy_spreads_a_host_over_every_proxy(
    site: Site, socks: MicroSocks, tinyproxy: TinyProxy, tmp_path: Path
) -> None:
    """``--per-proxy``: one host's URLs go through both proxies, in turn."""
    urls, out = _urls(tmp_path, site, [f"/page/{n}" for n in range(1, 21)]), tmp_path / "o.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--per-proxy",
        "--proxy", socks.url, "--proxy", tinyproxy.url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    used = [r["proxy"] for r in _records(out)]
    assert all(r is not None for r in used)
    assert used.count(f"socks5://bob:***@127.0.0.1:{socks.port}") == 10


async def test_the_worker_processes_go_through_the_proxies_too(
    site: Site, socks: MicroSocks, tmp_path: Path
) -> None:
    """``--workers 2``: the children fetch through the proxy given to the parent; the
    summary's proxy line adds up their requests."""
    urls, out = _urls(tmp_path, site, [f"/page/{n}" for n in range(1, 21)]), tmp_path / "o.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--workers", "2", "--proxies",
        str(_proxy_file(tmp_path, socks.url)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {r["proxy"] for r in _records(out)} == {f"socks5://bob:***@127.0.0.1:{socks.port}"}
    assert f"127.0.0.1:{socks.port}  20 requests, 0 errors" in done.stderr


def _proxy_file(tmp_path: Path, *urls: str) -> Path:
    file = tmp_path / "proxies.txt"
    file.write_text("# the proxies\n\n" + "".join(f"{url}\n" for url in urls))
    return file


def test_the_distributed_jobs_settings_carry_the_proxies() -> None:
    """The job's settings in Redis (JSON) bring the proxies and --per-proxy to workers."""
    config = FetchConfig(proxies=("socks5://u:p@127.0.0.1:1080", "http://h:3128"), per_proxy=True)
    assert config_from_json(config_to_json(config)) == config


@pytest.mark.parametrize("workers", [pytest.param([], id="one-process"), ["--workers", "2"]])
async def test_a_crawl_goes_through_the_proxy_robots_txt_included(
    site: Site, tinyproxy: TinyProxy, tmp_path: Path, workers: list[str]
) -> None:
    """``corral crawl --proxy``: robots.txt and the pages come through tinyproxy, and the
    proxy's line counts them all (robots.txt, read by the parent, too with ``--workers``)."""
    out = tmp_path / "crawl.db"
    done = await acorral(
        "crawl", site.url("/"), "-o", str(out), "--max-pages", "5", "--proxy", tinyproxy.url,
        *workers,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    fetched = [r for r in _records(out) if r["attempts"]]
    assert len(fetched) == 5
    assert all(r["proxy"] for r in fetched)
    log = await _text(tinyproxy.log)
    assert site.url("/robots.txt") in log
    assert all(str(r["url"]) in log for r in fetched)
    assert f"127.0.0.1:{tinyproxy.port}  6 requests, 0 errors" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--proxy", "ftp://127.0.0.1:21"], "unknown scheme 'ftp'", id="unknown-scheme"
        ),
        pytest.param(
            ["--proxy", "http://u:pw@127.0.0.1:99999"], "malformed proxy URL", id="malformed"
        ),
        pytest.param(["--proxy", "127.0.0.1:3128"], "SCHEME://", id="no-scheme"),
        pytest.param(
            ["--proxy", "http://u:pw#x@127.0.0.1:1"], "'http://u:***@127.0.0.1:1'", id="raw-hash"
        ),
        pytest.param(["--proxies", "missing.txt"], "cannot read missing.txt", id="no-file"),
        pytest.param(["--per-proxy"], "give --proxy or --proxies", id="per-proxy-alone"),
    ],
)
async def test_bad_proxy_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """A bad proxy URL or file: one line naming it (password masked), exit 2, no store."""
    urls, out = tmp_path / "urls.txt", tmp_path / "out.db"
    urls.write_text("http://127.0.0.1:9/\n")
    done = await acorral("fetch", str(urls), "-o", str(out), *args)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1
    assert message in done.stderr
    assert "pw@" not in done.stderr
    assert "pw#" not in done.stderr
    assert not out.exists()


async def test_a_bad_line_in_the_proxies_file_is_named(tmp_path: Path) -> None:
    """A --proxies file with a bad line: the file and the line number in one line."""
    proxies = _proxy_file(tmp_path, "socks5://127.0.0.1:1080", "gopher://x:70")
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/\n")
    done = await acorral(
        "crawl", "http://127.0.0.1:9/", "-o", str(tmp_path / "c.db"), "--proxies", str(proxies)
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"corral: error: --proxies {proxies}, line 4: proxy 'gopher://x:70': unknown scheme "
        "'gopher' (one of http://, https://, socks5://)"
    )


def test_per_proxy_lanes_keep_the_hosts_robots_interval() -> None:
    """A robots.txt Crawl-delay of a host holds in each of its lanes ("host via proxy"),
    made before or after it was read."""
    from corral.http.engine._politeness import Politeness

    politeness = Politeness(concurrency=10, per_host=2, interval=0.0, adaptive=True)
    before = politeness.host("example.org via http://p1:3128")
    politeness.set_interval("example.org", 2.0)
    after = politeness.host("example.org via socks5://p2:1080")
    other = politeness.host("example.net via http://p1:3128")
    assert (before.interval, after.interval, other.interval) == (2.0, 2.0, 0.0)


async def test_a_redis_job_hands_the_proxies_to_its_workers_and_sums_their_counts(
    site: Site, socks: MicroSocks, tmp_path: Path, redis_url: str
) -> None:
    """``--redis`` with two workers: the job's settings carry the proxies; the workers fetch
    through them; the coordinator's summary has each proxy's line, the workers' counts added
    up (a dead proxy first: each worker that met it rested it, each attempt an error)."""
    urls, out = _urls(tmp_path, site, [f"/page/{n}" for n in range(1, 41)]), tmp_path / "o.db"
    dead = f"http://127.0.0.1:{free_port()}"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--redis", redis_url, "--job", "proxied",
        "--workers", "2", "--proxy", dead, "--proxy", socks.url, "--retries", "0",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = _records(out)
    assert len(records) == 40
    shown = f"socks5://bob:***@127.0.0.1:{socks.port}"
    assert {r["proxy"] for r in records} == {shown}
    assert "hunter2" not in done.stderr
    assert f"connected to 127.0.0.1:{site.port}" in await _text(socks.log)
    lines = {words[1]: words[2:] for line in done.stderr.splitlines() if (words := line.split())}
    assert lines[shown][:2] == ["40", "requests,"]
    requests, errors, rested = (int(lines[dead][n].rstrip("x")) for n in (0, 2, 5))
    assert requests == errors >= rested >= 1, lines[dead]  # (those in flight: one rest)
    assert rested <= 2, lines[dead]


async def test_status_shows_the_workers_proxy_counts_added_up(redis_url: str) -> None:
    """Each worker's heartbeat carries its per-proxy counts; ``corral status`` adds them up
    over the job's workers, one line a proxy."""
    from corral.http.scale._queue import JobQueue
    from corral.http.scale._statusview import render

    queue = await JobQueue.connect(redis_url, "proxy-status")
    try:
        await queue.configure({"per_host": "1"})
        await queue.heartbeat("w1", {"fetched": 3}, {"http://p:1": (3, 1, 1)})
        await queue.heartbeat(
            "w2", {"fetched": 5}, {"http://p:1": (4, 0, 0), "socks5://q:2": (1, 0, 0)}
        )
        status = await queue.status()
        assert status.proxies == {"http://p:1": (7, 1, 1), "socks5://q:2": (1, 0, 0)}
        assert [figures for _, _, figures in status.workers] == [{"fetched": 3}, {"fetched": 5}]
        lines = render("proxy-status", status)
        at = lines.index("proxies (the workers' attempts so far):")
        assert lines[at + 1 : at + 3] == [
            "  http://p:1  7 requests, 1 error, rested 1x",
            "  socks5://q:2  1 request, 0 errors, rested 0x",
        ]
    finally:
        await queue.delete()
        await queue.close()


@pytest.fixture
async def wants_credentials() -> AsyncIterator[str]:
    """An HTTP proxy that answers every request 407 (tinyproxy 1.11 answers a wrong password
    with a 401 of its own, so this one is a small aiohttp server of the test's)."""
    from aiohttp import web

    @web.middleware
    async def refuse(request: web.Request, handler: object) -> web.Response:
        # (every request, a CONNECT's authority-form target too, which matches no route)
        return web.Response(status=407, headers={"Proxy-Authenticate": 'Basic realm="p"'})

    app = web.Application(middlewares=[refuse])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    yield f"http://ann:nope@127.0.0.1:{tcp.port}"
    await runner.cleanup()


async def test_a_407_from_an_http_proxy_moves_the_host(
    site: Site, wants_credentials: str, socks: MicroSocks, tmp_path: Path
) -> None:
    """A 407 is the proxy's failure (rested, the host moved to the SOCKS proxy), not the
    URL's; with no other proxy it is recorded as a ``proxy`` error, and the summary counts
    it under ``by error`` (not ``by status``: the site never answered)."""
    urls, out = _urls(tmp_path, site, ["/page/1", "/page/2"]), tmp_path / "o.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--proxy", wants_credentials, "--proxy", socks.url
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [(r["ok"], r["attempts"]) for r in _records(out)] == [(1, 1), (1, 1)]
    assert "rested 1x" in next(line for line in done.stderr.splitlines() if "ann:***" in line)
    alone = tmp_path / "alone.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(alone), "--proxy", wants_credentials, "--retries", "0"
    )
    assert done.returncode == 1, done.stderr  # (a proxy refused its credentials)
    errors = [(r["error_kind"], r["status"]) for r in _records(alone)]
    assert errors == [("proxy", 407), ("proxy", 407)]
    assert "nope" not in done.stderr + str(_records(alone))
    # the summary counts the proxy's 407s as proxy errors, not as statuses of the site
    lines = done.stderr.splitlines()
    assert "407" not in next(line for line in lines if "by status" in line), done.stderr
    assert "proxy: 2" in next(line for line in lines if "by error" in line), done.stderr


def test_a_host_sticks_to_its_proxy_until_it_is_rested() -> None:
    """Hosts are dealt the proxies in turn and keep theirs; a rested proxy's hosts move to one
    that is up; a rest doubles with each failure in a row; all resting: the soonest back."""
    from corral.http.engine._proxies import REST, ProxyPool

    pool = ProxyPool(["http://a:1", "http://b:2"], per_proxy=False)
    a, b = pool.routes
    assert [pool.for_host(h, 0.0) for h in ("x", "y", "x", "y")] == [a, b, a, b]
    assert pool.failed(a, 1.0) is True  # b is up: x moves
    assert pool.for_host("x", 1.0) is b
    assert a.resting_until == 1.0 + REST
    assert pool.failed(a, 2.0) is True  # (already resting: the same rest)
    assert (a.errors, a.rested) == (2, 1)
    assert pool.failed(b, 3.0) is False  # nobody is up
    assert pool.for_host("z", 4.0) is a  # the one back first
    assert pool.failed(a, 1.0 + REST) is False  # its rest is over, b still rests
    assert a.resting_until == 1.0 + REST + 2 * REST  # a second failure in a row: twice as long
    pool.succeeded(a)
    assert a.failures_in_a_row == 0


async def test_a_store_made_before_the_proxy_column_gains_it(
    site: Site, socks: MicroSocks, tmp_path: Path
) -> None:
    """A store of schema 1 (an earlier corral: no ``proxy`` column, nor the refresh's) is
    migrated when opened: its records keep NULL, the new ones name their proxy, and a
    ``--refresh`` moves the old record to ``history`` column for column (``records``)."""
    urls, out = _urls(tmp_path, site, ["/page/1"]), tmp_path / "old.db"
    first = await acorral("fetch", str(urls), "-o", str(out))
    assert first.returncode == 0, first.stderr
    with sqlite3.connect(out) as conn:  # back to schema 1's shape
        conn.execute("drop view records")
        conn.execute("drop table history")
        for column in ("etag", "last_modified", "change", "proxy"):
            conn.execute(f"alter table results drop column {column}")
        conn.execute("alter table items drop column replaced_in")
        conn.execute("update meta set value = '1' where name = 'schema_version'")
    urls.write_text(f"{site.url('/page/1')}\n{site.url('/page/2')}\n")
    again = await acorral("fetch", str(urls), "-o", str(out), "--proxy", socks.url)
    assert again.returncode == 0, again.stderr
    shown = f"socks5://bob:***@127.0.0.1:{socks.port}"
    assert [(r["url"], r["proxy"]) for r in _records(out)] == [
        (site.url("/page/1"), None), (site.url("/page/2"), shown)
    ]  # fmt: skip
    fresh = await acorral("fetch", str(urls), "-o", str(out), "--proxy", socks.url, "--refresh")
    assert fresh.returncode == 0, fresh.stderr
    with sqlite3.connect(out) as conn:
        seen = conn.execute("select url, run, proxy, status from records order by url, run")
        assert list(seen) == [
            (site.url("/page/1"), 1, None, 200), (site.url("/page/1"), 3, shown, 200),
            (site.url("/page/2"), 2, shown, 200), (site.url("/page/2"), 3, shown, 200),
        ]  # fmt: skip


async def test_a_refused_tunnel_is_the_proxys_failure(
    site: Site, socks: MicroSocks, tmp_path: Path
) -> None:
    """An https URL through tinyproxy, which opens tunnels to port 443 only: its refusal of
    the CONNECT rests it and moves the host to the SOCKS proxy; what follows is the site's
    answer (plain HTTP where TLS was expected: not a proxy error)."""
    narrow = TinyProxy(tmp_path)
    narrow.connect_ports = (443,)
    await to_thread(narrow.start)
    try:
        urls, out = tmp_path / "urls.txt", tmp_path / "o.db"
        urls.write_text(f"https://127.0.0.1:{site.port}/page/1\n")
        done = await acorral(
            "fetch", str(urls), "-o", str(out), "--retries", "0",
            "--proxy", narrow.url, "--proxy", socks.url,
        )  # fmt: skip
    finally:
        await to_thread(narrow.stop)
    assert done.returncode == 0, done.stderr
    (record,) = _records(out)
    assert record["proxy"] == f"socks5://bob:***@127.0.0.1:{socks.port}"
    assert record["error_kind"] not in (None, "proxy")
    assert record["attempts"] == 1
    assert "rested 1x" in next(line for line in done.stderr.splitlines() if narrow.url in line)


async def test_a_proxy_spelled_twice_is_one_route_and_one_line(
    site: Site, tinyproxy: TinyProxy, tmp_path: Path
) -> None:
    """The same proxy given as ``http://h:P`` and ``HTTP://h:P/`` (``--proxy`` and a
    ``--proxies`` file): one route, one summary line; one URL makes "1 request", "0 errors"."""
    urls, out = _urls(tmp_path, site, ["/page/1"]), tmp_path / "o.db"
    spelled = tinyproxy.url.replace("http://", "HTTP://") + "/"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--proxy", tinyproxy.url,
        "--proxies", str(_proxy_file(tmp_path, spelled)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stderr.splitlines()]
    assert [words[1:] for words in lines if words[:1] == ["proxy"]] == [
        [f"http://ann:***@127.0.0.1:{tinyproxy.port}", "1", "request,", "0", "errors,",
         "rested", "0x"],
    ]  # fmt: skip
    config = FetchConfig(proxies=(tinyproxy.url, spelled, "http://127.0.0.1:1"))
    assert config.proxies == (tinyproxy.url, "http://127.0.0.1:1")


async def test_a_407_names_its_proxy_once(
    site: Site, wants_credentials: str, tmp_path: Path
) -> None:
    """A 407 recorded as the URL's error (no other proxy) names the proxy once, masked."""
    urls, out = _urls(tmp_path, site, ["/page/1"]), tmp_path / "o.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--proxy", wants_credentials, "--retries", "0"
    )
    assert done.returncode == 1, done.stderr  # (a proxy refused its credentials)
    (record,) = _records(out)
    error = str(record["error"])
    assert error.count("127.0.0.1:") == 1, error
    assert "ann:***@" in error


async def test_tinyproxys_401_for_a_wrong_password_is_the_proxys_not_the_sites(
    site: Site, tinyproxy: TinyProxy, socks: MicroSocks, tmp_path: Path
) -> None:
    """tinyproxy 1.11.1 refuses a wrong password with a 401 of its own (no Via header, which
    it puts on every answer it forwards): that is the proxy's failure (rested, the host moved
    to the SOCKS proxy; alone, a ``proxy`` error with status 401); a site's own 401 through
    the right password stays the site's."""
    wrong = tinyproxy.url.replace("s3cret", "wrong")
    urls, out = _urls(tmp_path, site, ["/page/1", "/page/2"]), tmp_path / "o.db"
    done = await acorral("fetch", str(urls), "-o", str(out), "--proxy", wrong, "--proxy", socks.url)
    assert done.returncode == 0, done.stderr
    assert [(r["ok"], r["attempts"]) for r in _records(out)] == [(1, 1), (1, 1)]
    assert "rested 1x" in next(line for line in done.stderr.splitlines() if "ann:***" in line)
    alone = tmp_path / "alone.db"
    done = await acorral("fetch", str(urls), "-o", str(alone), "--proxy", wrong, "--retries", "0")
    assert done.returncode == 1, done.stderr  # (a proxy refused its credentials)
    records = _records(alone)
    assert [(r["error_kind"], r["status"]) for r in records] == [("proxy", 401), ("proxy", 401)]
    assert "401 from proxy" in str(records[0]["error"])
    assert site.statistics().by_prefix.get("/page", 0) == 2  # (only the SOCKS proxy's two)
    own = tmp_path / "own.db"
    (tmp_path / "own.txt").write_text(f"{site.url('/status/401')}\n{site.url('/page/3')}\n")
    done = await acorral(
        "fetch", str(tmp_path / "own.txt"), "-o", str(own), "--proxy", tinyproxy.url
    )
    assert done.returncode == 0, done.stderr
    assert [(r["error_kind"], r["status"]) for r in _records(own)] == [
        ("http_status", 401), (None, 200)
    ]  # fmt: skip


@pytest.fixture
def tls_proxy(tmp_path: Path) -> Iterator[TlsProxy]:
    server = TlsProxy(tmp_path, user="ann", password="s3cret")
    server.start()
    yield server
    server.stop()


async def test_an_https_proxy_with_its_ca_given_carries_the_requests(
    site: Site, tls_proxy: TlsProxy, tmp_path: Path
) -> None:
    """``--proxy https://...`` (TLS to the proxy: socat in front of tinyproxy) with
    ``--proxy-ca`` naming its self-signed certificate: every URL comes through it, the site's
    peer is tinyproxy's socket, the records name the proxy with its password masked."""
    paths = [f"/page/{n}" for n in range(1, 6)] + ["/echo"]
    urls, out = _urls(tmp_path, site, paths), tmp_path / "out.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--proxy", tls_proxy.url,
        "--proxy-ca", str(tls_proxy.certificate), "--save-bodies", "store",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = _records(out)
    assert [r["status"] for r in records] == [200] * 6
    shown = f"https://ann:***@127.0.0.1:{tls_proxy.port}"
    assert {r["proxy"] for r in records} == {shown}
    body = records[-1]["body"]
    assert isinstance(body, bytes)
    echo = json.loads(body)
    assert "tinyproxy" in echo["headers"]["Via"]
    assert "Proxy-Authorization" not in echo["headers"]
    log = await _text(tls_proxy.inner.log)
    assert all(site.url(p) in log for p in paths)
    assert f"{shown}  6 requests, 0 errors" in done.stderr
    assert "s3cret" not in done.stderr


async def test_the_site_sees_the_https_proxys_connection(site: Site, tls_proxy: TlsProxy) -> None:
    """From Python (``FetchConfig.proxy_ca``): while a request is at the site, the one
    connection the site has is tinyproxy's (behind the TLS proxy), not corral's."""
    config = FetchConfig(proxies=(tls_proxy.url,), proxy_ca=str(tls_proxy.certificate))
    async with open_fetcher(config) as fetcher, open_scope() as scope:
        slow = await scope.spawn(fetcher.fetch, site.url("/delay/2000"))
        async with asyncio.timeout(10):
            await site.wait_until(lambda stats: stats.in_flight == 1)
        assert await to_thread(clients_of, site.port) == {tls_proxy.inner.pid}
        result = await slow
    assert result.ok, result.error
    assert result.proxy == f"https://ann:***@127.0.0.1:{tls_proxy.port}"


async def test_an_https_proxy_whose_certificate_is_not_trusted_is_the_proxys_failure(
    site: Site, tls_proxy: TlsProxy, socks: MicroSocks, tmp_path: Path
) -> None:
    """Without ``--proxy-ca``, the proxy's self-signed certificate is refused (corral checks
    a proxy's certificate as a site's): a failure of the proxy, rested, its host moved to the
    SOCKS proxy; alone, a ``proxy`` error that says so, and nothing reached the site.
    ``SSL_CERT_FILE`` naming the certificate trusts it too."""
    urls, out = _urls(tmp_path, site, ["/page/1", "/page/2"]), tmp_path / "o.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(out), "--proxy", tls_proxy.url, "--proxy", socks.url
    )
    assert done.returncode == 0, done.stderr
    assert [(r["ok"], r["attempts"]) for r in _records(out)] == [(1, 1), (1, 1)]
    assert "rested 1x" in next(line for line in done.stderr.splitlines() if "https://" in line)
    alone = tmp_path / "alone.db"
    done = await acorral(
        "fetch", str(urls), "-o", str(alone), "--proxy", tls_proxy.url, "--retries", "0"
    )
    assert done.returncode == 0, done.stderr
    records = _records(alone)
    assert [r["error_kind"] for r in records] == ["proxy", "proxy"]
    assert "certificate" in str(records[0]["error"])
    assert "--proxy-ca" in str(records[0]["error"])
    assert site.statistics().by_prefix.get("/page", 0) == 2  # (the SOCKS proxy's two only)
    trusted = tmp_path / "trusted.db"
    env = {"SSL_CERT_FILE": str(tls_proxy.certificate)}
    done = await acorral("fetch", str(urls), "-o", str(trusted), "--proxy", tls_proxy.url, env=env)
    assert done.returncode == 0, done.stderr
    assert [r["status"] for r in _records(trusted)] == [200, 200]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--proxy-ca", "{tmp}/missing.pem"], "cannot read", id="no-file"),
        pytest.param(["--proxy-ca", "{tmp}/urls.txt"], "no certificate", id="not-pem"),
        pytest.param(
            ["--proxy-ca", "{cert}", "--proxy", "http://127.0.0.1:1"],
            "give an https:// proxy",
            id="no-https-proxy",
        ),
    ],
)
async def test_a_bad_proxy_ca_is_one_line_and_exit_2(
    tmp_path: Path, tls_proxy: TlsProxy, args: list[str], message: str
) -> None:
    """``--proxy-ca`` that cannot be read, is not a PEM certificate, or has no https:// proxy
    to serve: one line, exit 2, no store."""
    urls, out = tmp_path / "urls.txt", tmp_path / "out.db"
    urls.write_text("http://127.0.0.1:9/\n")
    args = [a.replace("{cert}", str(tls_proxy.certificate)) for a in args]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--proxy" not in args:
        args += ["--proxy", tls_proxy.url]
    done = await acorral("fetch", str(urls), "-o", str(out), *args)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert message in done.stderr
    assert not out.exists()


async def test_an_https_url_through_an_https_proxy_is_tls_in_tls(
    tls_proxy: TlsProxy, tmp_path: Path
) -> None:
    """An https URL through the https:// proxy: a ``CONNECT`` tunnel inside the TLS to the
    proxy, and the site's own TLS inside that (the site here serves the proxy's certificate,
    which ``proxy_ca`` trusts: through that proxy, for the site too)."""
    import ssl

    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello over {request.scheme}")

    app = web.Application()
    app.router.add_get("/", hello)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_proxy.certificate, tmp_path / "proxy-key.pem")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    secure = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await secure.start()
    try:
        config = FetchConfig(
            proxies=(tls_proxy.url,), proxy_ca=str(tls_proxy.certificate), save_bodies="store"
        )
        async with open_fetcher(config) as fetcher:
            result = await fetcher.fetch(f"https://127.0.0.1:{secure.port}/")
    finally:
        await runner.cleanup()
    assert result.ok, result.error
    assert result.body == b"hello over https"
    assert f"CONNECT 127.0.0.1:{secure.port}" in await _text(tls_proxy.inner.log)


async def test_a_worker_without_the_jobs_proxy_ca_file_says_so(
    tmp_path: Path, redis_url: str
) -> None:
    """A job whose settings name a ``--proxy-ca`` file this machine does not have: the
    worker ends at once with one line naming it, exit 2."""
    from corral.http.scale._queue import JobQueue

    missing = tmp_path / "elsewhere.pem"
    config = FetchConfig(proxies=("https://127.0.0.1:1",), proxy_ca=str(missing))
    queue = await JobQueue.connect(redis_url, "ca-job")
    try:
        await queue.configure({"config": config_to_json(config)})
        done = await acorral("worker", "--redis", redis_url, "--job", "ca-job")
    finally:
        await queue.delete()
        await queue.close()
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1
    assert f"--proxy-ca {missing}: cannot read it" in done.stderr


_REFUSED = "refused by a proxy for its credentials: correct them in --proxy"


@pytest.mark.parametrize(
    "kind", ["socks5", "tinyproxy 401", "407", "tunnel 407", "tinyproxy tunnel 401"]
)
async def test_a_proxy_refusing_the_credentials_costs_one_request_a_url_and_says_what_to_do(
    kind: str,
    site: Site,
    socks: MicroSocks,
    tinyproxy: TinyProxy,
    wants_credentials: str,
    tmp_path: Path,
) -> None:
    """Wrong credentials do not get better with retries: each URL is refused once, recorded
    ``proxy`` ("wants other credentials"), and the summary's advice is to correct the
    credentials before ``--retry-failed`` (not "the same command"); exit 1. The corrected
    command with ``--retry-failed`` then fetches them all."""
    right = {"socks5": socks.url, "tinyproxy 401": tinyproxy.url}.get(kind, socks.url)
    wrong = {
        "socks5": socks.url.replace("hunter2", "wrong"),
        "tinyproxy 401": tinyproxy.url.replace("s3cret", "wrong"),
        "tinyproxy tunnel 401": tinyproxy.url.replace("s3cret", "wrong"),
    }.get(kind, wants_credentials)
    urls, out = _urls(tmp_path, site, ["/page/1", "/page/2", "/page/3"]), tmp_path / "o.db"
    if "tunnel" in kind:  # an https URL: the proxy's refusal answers the CONNECT
        urls.write_text("".join(f"https://127.0.0.1:{n}/page/{n}\n" for n in (1, 2, 3)))
    done = await acorral("fetch", str(urls), "-o", str(out), "--proxy", wrong)
    assert done.returncode == 1, done.stderr
    records = _records(out)
    assert [(r["error_kind"], r["attempts"]) for r in records] == [("proxy", 1)] * 3
    assert all("wants other credentials" in str(r["error"]) for r in records), records[0]
    failed = next(line for line in done.stderr.splitlines() if line.startswith("  failed:"))
    assert (
        f"failed: 3 URLs recorded as failed (an error, or a 401/403/407/408/429/5xx), {_REFUSED}"
        in failed
    ), failed
    assert "the same command" not in failed
    proxy = next(line for line in done.stderr.splitlines() if line.startswith("  proxy "))
    assert proxy.endswith("3 requests, 3 errors, rested 1x"), proxy
    if "tunnel" in kind:
        return  # (no https site behind those URLs to fetch them from)
    again = await acorral("fetch", str(urls), "-o", str(out), "--proxy", right, "--retry-failed")
    assert again.returncode == 0, again.stderr
    assert [(r["ok"], r["attempts"]) for r in _records(out)] == [(1, 1)] * 3
