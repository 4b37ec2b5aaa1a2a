"""``--retry-failed``: a rerun on the same store fetches again the URLs whose latest record
failed (an error, or a 401/403/407/408/429/5xx), the earlier record kept in ``history``;
without it a rerun resumes and its summary says how many failed and how to retry them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from corral_cli import acorral, run_corral
from nginx_server import NginxServer
from proxy_servers import TinyProxy

from corral import to_thread
from corral.testing import Site, SiteLayout, open_site

pytestmark = pytest.mark.corral_guard(strict=False)

HINT = "--retry-failed fetches them again"


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=20, chain_length=4), log_size=10_000) as running:
        yield running


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


def _query(store: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(store)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_a_proxy_down_then_up_only_the_failed_urls_are_fetched_again(
    site: Site, tinyproxy: TinyProxy, tmp_path: Path
) -> None:
    """URLs recorded as ``proxy`` errors while the proxy was down: a plain rerun fetches
    nothing and says how many failed and that --retry-failed fetches them again; with
    --retry-failed (the proxy back) each is fetched once more, ok, the earlier record in
    ``history``; the URLs that were ok are not fetched again."""
    paths = [f"/page/{n}" for n in range(1, 11)]
    urls, out = _urls(tmp_path, site, paths), tmp_path / "o.db"
    good = tmp_path / "good.txt"
    good.write_text("".join(f"{site.url(p)}\n" for p in paths[:4]))
    first = await acorral("fetch", str(good), "-o", str(out), "--proxy", tinyproxy.url)
    assert first.returncode == 0, first.stderr
    await to_thread(tinyproxy.stop)
    down = await acorral(
        "fetch", str(urls), "-o", str(out), "--proxy", tinyproxy.url, "--retries", "0"
    )
    assert down.returncode == 0, down.stderr
    assert "6 URLs recorded as failed" in down.stderr, down.stderr
    assert HINT in down.stderr, down.stderr
    await to_thread(tinyproxy.start)
    plain = await acorral("fetch", str(urls), "-o", str(out), "--proxy", tinyproxy.url)
    assert plain.returncode == 0, plain.stderr
    assert "6 URLs recorded as failed" in plain.stderr, plain.stderr
    assert site.statistics().by_prefix.get("/page", 0) == 4
    again = await acorral(
        "fetch", str(urls), "-o", str(out), "--proxy", tinyproxy.url, "--retry-failed"
    )
    assert again.returncode == 0, again.stderr
    assert site.statistics().by_prefix.get("/page", 0) == 10
    assert "retried" in again.stderr, again.stderr
    assert HINT not in again.stderr, again.stderr
    assert _query(out, "SELECT count(*), sum(ok) FROM results") == [(10, 10)]
    assert _query(out, "SELECT count(*), max(error_kind) FROM history") == [(6, "proxy")]


async def test_a_wrong_proxy_password_then_the_right_one(
    site: Site, tinyproxy: TinyProxy, tmp_path: Path
) -> None:
    """Every URL failed through a proxy refusing the password: a rerun with the right
    password and --retry-failed fetches them all."""
    urls, out = _urls(tmp_path, site, ["/page/1", "/page/2"]), tmp_path / "o.db"
    wrong = tinyproxy.url.replace("s3cret", "nope")
    bad = await acorral("fetch", str(urls), "-o", str(out), "--proxy", wrong, "--retries", "0")
    assert bad.returncode == 1, bad.stderr  # (a proxy refused its credentials)
    assert "2 URLs recorded as failed" in bad.stderr, bad.stderr
    assert "correct them in --proxy" in bad.stderr, bad.stderr
    good = await acorral(
        "fetch", str(urls), "-o", str(out), "--proxy", tinyproxy.url, "--retry-failed"
    )
    assert good.returncode == 0, good.stderr
    assert _query(out, "SELECT count(*), sum(ok) FROM results") == [(2, 2)]
    assert site.statistics().by_prefix.get("/page", 0) == 2


async def test_statuses_worth_another_try_and_answers(site: Site, tmp_path: Path) -> None:
    """A 503 and too_large bodies are fetched again by --retry-failed (with a bigger
    --max-bytes, the bodies are kept); a 404 is an answer and is not."""
    paths = ["/page/1", "/status/404", "/flaky/1/a", "/page/2"]
    urls, out = _urls(tmp_path, site, paths), tmp_path / "o.db"
    first = await acorral(
        "fetch", str(urls), "-o", str(out), "--retries", "0", "--max-bytes", "100"
    )
    assert first.returncode == 0, first.stderr
    kinds: dict[object, object] = dict(
        _query(out, "SELECT url, coalesce(error_kind, '') FROM results")  # type: ignore[arg-type]
    )
    assert kinds[site.url("/page/2")] == "too_large", kinds
    assert "3 URLs recorded as failed" in first.stderr, first.stderr  # 404: an answer
    again = await acorral("fetch", str(urls), "-o", str(out), "--retry-failed", "--max-bytes", "1M")
    assert again.returncode == 0, again.stderr
    rows: dict[object, object] = dict(_query(out, "SELECT url, status FROM results"))  # type: ignore[arg-type]
    assert rows[site.url("/flaky/1/a")] == 200
    assert rows[site.url("/page/2")] == 200
    assert rows[site.url("/page/1")] == 200
    history = {str(url) for (url,) in _query(out, "SELECT url FROM history")}
    assert history == {site.url("/flaky/1/a"), site.url("/page/2"), site.url("/page/1")}


@pytest.mark.parametrize("how", ["one", "workers", "redis"])
async def test_a_crawl_retries_a_failed_page_and_follows_its_links(
    site: Site, tmp_path: Path, how: str, redis_if_asked: str | None
) -> None:
    """A crawl's seed recorded too_large: a rerun with --retry-failed fetches it, parses it
    and crawls the pages it links to (in one process, worker processes, a Redis job)."""
    out = tmp_path / "c.db"
    seed = site.url("/chain/0.html")
    extra = {"one": [], "workers": ["--workers", "2"], "redis": []}[how]
    if redis_if_asked is not None:
        extra = ["--redis", redis_if_asked, "--job", "c"]
    common = ("crawl", seed, "-o", str(out), "--ignore-robots", "--scope", "host", *extra)
    first = await acorral(*common, "--max-bytes", "10", "--retries", "0")
    assert first.returncode == 0, first.stderr
    assert _query(out, "SELECT count(*) FROM results WHERE attempts > 0") == [(1,)]
    assert HINT in first.stderr, first.stderr
    plain = await acorral(*common)
    assert _query(out, "SELECT count(*) FROM results WHERE attempts > 0") == [(1,)], plain.stderr
    again = await acorral(*common, "--retry-failed")
    assert again.returncode == 0, again.stderr
    fetched = {str(u) for (u,) in _query(out, "SELECT url FROM results WHERE ok")}
    assert {seed, site.url("/chain/1.html"), site.url("/chain/3.html")} <= fetched, fetched


async def test_retry_failed_refuses_stdout_and_refresh(tmp_path: Path) -> None:
    """--retry-failed needs a store, and --refresh already fetches failed URLs again."""
    urls = tmp_path / "u.txt"
    urls.write_text("http://127.0.0.1:9/\n")
    out = await acorral("fetch", str(urls), "-o", "-", "--retry-failed")
    assert out.returncode == 2, out.stderr
    assert "give -o FILE" in out.stderr, out.stderr
    both = await acorral(
        "fetch", str(urls), "-o", str(tmp_path / "s.db"), "--retry-failed", "--refresh"
    )
    assert both.returncode == 2, both.stderr
    assert "drop --retry-failed" in both.stderr, both.stderr


@pytest.mark.parametrize("how", ["workers", "redis"])
def test_retry_failed_through_workers_and_redis(
    nginx: NginxServer, tmp_path: Path, how: str, request: pytest.FixtureRequest
) -> None:
    """--retry-failed run by worker processes, or by a Redis job's local workers: the
    too_large records are fetched again with the bigger --max-bytes, and only they."""
    for n in range(12):
        (nginx.root / f"f{n}.txt").write_text(("x" * 200 if n % 2 else "y") + "\n")
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(nginx.url(f"f{n}.txt") + "\n" for n in range(12)))
    store = tmp_path / "s.db"
    if how == "workers":
        extra = ["--workers", "2"]
    else:
        extra = ["--redis", request.getfixturevalue("redis_url"), "--job", "again"]
    first = run_corral("fetch", str(urls), "-o", str(store), "--max-bytes", "100", *extra)
    assert first.returncode == 0, first.stderr
    assert "6 URLs recorded as failed" in first.stderr, first.stderr
    before = len(nginx.log_lines())

    again = run_corral("fetch", str(urls), "-o", str(store), "-q", "--retry-failed", *extra)

    assert again.returncode == 0, again.stderr
    assert len(nginx.log_lines()) - before == 6
    assert _query(store, "SELECT count(*), sum(ok) FROM results") == [(12, 12)]


async def test_a_jsonl_output_is_retried_from_its_state(site: Site, tmp_path: Path) -> None:
    """With -o FILE.jsonl the state file knows what failed: the summary hints, and a rerun
    with --retry-failed appends the URL's new line; -o - gives no hint (nothing to rerun on)."""
    urls, out = _urls(tmp_path, site, ["/page/1", "/flaky/1/j"]), tmp_path / "o.jsonl"
    first = await acorral("fetch", str(urls), "-o", str(out), "--retries", "0")
    assert first.returncode == 0, first.stderr
    assert "1 URL recorded as failed" in first.stderr, first.stderr
    again = await acorral("fetch", str(urls), "-o", str(out), "--retry-failed")
    assert again.returncode == 0, again.stderr
    lines = [json.loads(line) for line in (await to_thread(out.read_text)).splitlines()]
    assert [(r["url"].rsplit("/", 1)[1], r["status"]) for r in lines] == [
        ("1", 200),
        ("j", 503),
        ("j", 200),
    ]
    failing = tmp_path / "failing.txt"
    failing.write_text(site.url("/status/503") + "\n")
    stdout = await acorral("fetch", str(failing), "-o", "-", "--retries", "0")
    assert '"status":503' in stdout.stdout, stdout.stdout
    assert HINT not in stdout.stderr, stdout.stderr
