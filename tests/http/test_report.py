"""``corral report``: the page of a finished fetch, a running then interrupted one, a crawl
and an empty store, each opened in a real headless Chromium (``chromium.py``).

Each page must show no console error, make no request but for its own ``file://`` URL, have
something drawn on every chart's canvas, and give header figures equal to what the store
holds (counted here with SQL of the test's own). A screenshot of each is kept under
``test-artifacts/report/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import pytest
from chromium import Chromium, PageView, open_chromium
from corral_cli import acorral

import corral
from corral.testing import Site, SiteLayout, open_site

# What these tests check runs in subprocesses (the command, the browser); the test body reads
# the files they write, which strict mode would (rightly) call blocking in library code.
pytestmark = pytest.mark.corral_guard(strict=False)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report"
OK_GREEN = "#2e9d5b"  # the "ok" line of the throughput chart (report.js)
P50_BLUE = "#2f6fdb"  # the p50 line of the latency chart
SKIPS = (
    "robots",
    "out_of_scope",
    "excluded",
    "not_included",
    "max_depth",
    "max_pages",
    "nofollow",
    "repeated_segment",
)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(log_size=100_000, layout=SiteLayout(pages=120)) as running:
        yield running


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Chromium]:
    async with open_chromium(tmp_path / "chromium-profile") as running:
        yield running


def store_header(db: Path) -> dict[str, str]:
    """Return the header's figures as counted from the store directly."""
    skips = ", ".join(f"'{kind}'" for kind in SKIPS)
    with sqlite3.connect(db) as conn:
        (urls,) = conn.execute("select count(*) from urls").fetchone()
        (ok,) = conn.execute("select count(*) from results where ok = 1").fetchone()
        (failed,) = conn.execute(
            f"select count(*) from results where ok = 0 and error_kind not in ({skips})"
        ).fetchone()
        (skipped,) = conn.execute(
            f"select count(*) from results where error_kind in ({skips})"
        ).fetchone()
        (pending,) = conn.execute("select count(*) from urls where state != 1").fetchone()
    figures = {"urls": str(urls), "ok": str(ok), "failed": str(failed)}
    if skipped:
        figures["skipped"] = str(skipped)
    if pending:
        figures["pending"] = str(pending)
    return figures


async def report(db: Path, out: Path, *extra: str) -> Path:
    made = await acorral("report", str(db), "-o", str(out), *extra)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(out)
    return out


async def look(browser: Chromium, page: Path, name: str) -> PageView:
    """Open the page, keep its screenshot, and check what every report page must be."""
    view = await browser.view(page, colors=[OK_GREEN, P50_BLUE])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.png").write_bytes(view.screenshot)
    assert view.errors == []
    assert view.requests == [page.resolve().as_uri()]  # its own file, nothing else
    assert view.canvases
    assert view.ready == str(len(view.canvases))  # the script drew every chart it made
    for chart in view.canvases:
        assert chart["drawn"] > 2000, chart  # axes, grid and data: not a blank canvas
    return view


def shown(view: PageView) -> dict[str, str]:
    """Return the header's figures the store's counts are compared with."""
    names = ("urls", "ok", "failed", "skipped", "pending")
    return {name: value for name, value in view.figures.items() if name in names}


async def test_finished_fetch(site: Site, browser: Chromium, tmp_path: Path) -> None:
    """A finished fetch with --report: the page beside the store, done, its figures the
    store's, the ok line drawn on the throughput chart."""
    urls = [site.url(f"/page/{i}") for i in range(60)]
    urls += [site.url("/status/404"), site.url("/status/410"), site.url("/flaky/1/a")]
    urls += [site.url("/retry-after/1")]  # a 429 each attempt: the host throttled
    source = tmp_path / "urls.txt"
    source.write_text("\n".join(urls) + "\n", encoding="utf-8")
    db = tmp_path / "run.db"
    done = await acorral("fetch", str(source), "-o", str(db), "--no-progress", "--report")
    assert done.returncode == 0, done.stderr
    assert f"report:  corral report {db}" in done.stderr  # the summary names the command
    page = tmp_path / "run.report.html"
    assert f"report: {page}" in done.stderr
    view = await look(browser, page, "finished-fetch")
    assert view.figures["status"] == "done"
    assert shown(view) == store_header(db) == {"urls": "64", "ok": "61", "failed": "3"}
    assert view.chart("throughput")["colors"][OK_GREEN] > 20
    assert view.chart("latency")["colors"][P50_BLUE] > 20
    names = {c["name"] for c in view.canvases}
    assert names == {"throughput", "latency", "bytes", "retries", "samples"}


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "corral", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("select count(*) from results").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


async def test_running_then_interrupted_fetch(
    site: Site, browser: Chromium, tmp_path: Path
) -> None:
    """Made while the fetch runs, the report says running (the run is left alone); made
    after Ctrl-C, it says interrupted, with the URLs left to do."""
    urls = [site.url(f"/delay/{30 + i % 7}?i={i}") for i in range(300)]
    source = tmp_path / "urls.txt"
    source.write_text("\n".join(urls) + "\n", encoding="utf-8")
    db = tmp_path / "slow.db"
    job = _start(["fetch", str(source), "-o", str(db), "--per-host", "4", "--no-progress"])
    try:
        await site.wait_until(lambda _: _count(db) >= 40)
        running = await report(db, tmp_path / "running.html")
        live = await look(browser, running, "running-fetch")
        assert live.figures["status"] == "running"
        assert int(live.figures["ok"]) >= 40
    finally:
        job.send_signal(signal.SIGINT)
        stderr = job.communicate(timeout=60)[1]
    assert job.returncode == 130, stderr
    page = await report(db, tmp_path / "interrupted.html")
    view = await look(browser, page, "interrupted-fetch")
    assert view.figures["status"] == "interrupted"
    assert view.chart("latency")["colors"][P50_BLUE] > 20
    assert shown(view) == store_header(db)
    assert 0 < int(view.figures["pending"]) < 300


async def test_crawl(site: Site, browser: Chromium, tmp_path: Path) -> None:
    """A crawl's page adds its pages over time and its depth chart; skips are counted."""
    db = tmp_path / "crawl.db"
    done = await acorral(
        "crawl", site.url("/site/0.html"), "-o", str(db), "--max-pages", "80", "--no-progress"
    )
    assert done.returncode == 0, done.stderr
    page = await report(db, tmp_path / "crawl.html")
    view = await look(browser, page, "crawl")
    assert view.figures["status"] == "done"
    assert shown(view) == store_header(db)
    assert int(view.figures["ok"]) >= 80
    # the p50 line is drawn (a short crawl has few samples: a short line, a few pixels)
    assert view.chart("latency")["colors"][P50_BLUE] > 5
    assert {"pages", "frontier", "depth"} <= {c["name"] for c in view.canvases}


async def test_a_job_over_redis_has_a_line_per_worker(
    site: Site, browser: Chromium, tmp_path: Path, redis_url: str
) -> None:
    """A fetch coordinated through Redis with two local workers: the report (page and JSON)
    has a line per worker, their records adding up to the store's."""
    urls = [site.url(f"/delay/30?i={i}") for i in range(120)]
    source = tmp_path / "urls.txt"
    source.write_text("\n".join(urls) + "\n", encoding="utf-8")
    db = tmp_path / "job.db"
    args = ["fetch", str(source), "-o", str(db), "--redis", redis_url, "--job", "rep"]
    done = await acorral(*args, "--workers", "2", "--no-progress", "--report")
    assert done.returncode == 0, done.stderr
    figures = json.loads((await report(db, tmp_path / "job.json", "--format", "json")).read_text())
    workers = figures["workers"]
    assert sum(int(w["records"]) for w in workers) == 120
    assert all(str(w["worker"]).endswith(tuple("0123456789")) for w in workers)  # host-pid
    view = await look(browser, tmp_path / "job.report.html", "redis-job")
    assert view.figures["workers"] == str(len(workers))
    assert shown(view) == store_header(db)


async def test_empty_store(browser: Chromium, tmp_path: Path) -> None:
    """A run of no URLs still gives a page: its axes drawn, zeros in the header."""
    source = tmp_path / "none.txt"
    source.write_text("", encoding="utf-8")
    db = tmp_path / "empty.db"
    done = await acorral("fetch", str(source), "-o", str(db), "--no-progress")
    assert done.returncode == 0, done.stderr
    page = await report(db, tmp_path / "empty.html")
    view = await look(browser, page, "empty-store")
    assert view.figures["status"] == "done"
    assert shown(view) == store_header(db) == {"urls": "0", "ok": "0", "failed": "0"}


async def test_json_format_has_the_same_figures(site: Site, tmp_path: Path) -> None:
    """--format json writes the figures the page draws, for scripts and CI; the host's
    Retry-After waits and slow-downs are among them (the run's events)."""
    source = tmp_path / "urls.txt"
    urls = [site.url(f"/page/{i}") for i in range(10)] + [site.url("/retry-after/1")]
    source.write_text("\n".join(urls) + "\n")
    db = tmp_path / "run.db"
    done = await acorral("fetch", str(source), "-o", str(db), "--no-progress")
    assert done.returncode == 0, done.stderr
    out = await report(db, tmp_path / "run.json", "--format", "json")
    figures = json.loads(out.read_text())
    assert figures["header"]["ok"] == 10
    assert figures["header"]["failed"] == 1
    assert figures["header"]["status"] == "done"
    assert figures["statuses"] == [
        {"status": 200, "count": 10, "samples": urls[:3]},
        {"status": 429, "count": 1, "samples": [urls[-1]]},
    ]
    assert figures["settings"]["concurrency"] == 100
    (host,) = figures["throttling"]["hosts"]
    assert host["host"] == site.url("/").split("/")[2]
    assert host["retry_afters"] == 4  # the first attempt and 3 retries, each closing it 1 s
    assert host["closed_s"] == 4.0
    assert host["slow_downs"] >= 1


async def test_the_page_loads_nothing_from_elsewhere(site: Site, tmp_path: Path) -> None:
    """The page is one file: no script, stylesheet or image by URL; uPlot's licence ships
    beside it in the package."""
    source = tmp_path / "urls.txt"
    source.write_text(site.url("/page/1") + "\n")
    db = tmp_path / "run.db"
    done = await acorral("fetch", str(source), "-o", str(db), "--no-progress")
    assert done.returncode == 0, done.stderr
    page = (await report(db, tmp_path / "run.html")).read_text()
    for needle in ("<script src", "<link", "<img", "@import", "url("):
        assert needle not in page
    assets = resources.files("corral.http.runreport") / "assets"
    assert "MIT License" in (assets / "uPlot.LICENSE").read_text()


async def test_the_report_never_replaces_a_database(site: Site, tmp_path: Path) -> None:
    """``-o`` naming the store (or any SQLite file) is refused, the file left as it was."""
    source = tmp_path / "urls.txt"
    source.write_text(site.url("/page/1") + "\n")
    db = tmp_path / "run.db"
    done = await acorral("fetch", str(source), "-o", str(db), "--no-progress")
    assert done.returncode == 0, done.stderr
    before = db.read_bytes()
    made = await acorral("report", str(db), "-o", str(db))
    assert made.returncode == 2
    assert "is a SQLite database" in made.stderr
    assert db.read_bytes() == before


async def test_the_report_replaces_its_own_file_but_not_anothers(
    site: Site, tmp_path: Path
) -> None:
    """A second report replaces the first (page or JSON); ``-o`` naming a file of the user's
    is refused, one line, the file as it was, unless ``--overwrite`` (it was replaced
    without a word)."""
    source = tmp_path / "urls.txt"
    source.write_text(site.url("/page/1") + "\n")
    db = tmp_path / "run.db"
    done = await acorral("fetch", str(source), "-o", str(db), "--no-progress")
    assert done.returncode == 0, done.stderr
    for extra in ((), ("--format", "json")):
        for _ in range(2):
            again = await acorral("report", str(db), "-o", str(tmp_path / "r.out"), *extra)
            assert again.returncode == 0, again.stderr
    notes = tmp_path / "notes.html"
    notes.write_text("my notes\n")
    refused = await acorral("report", str(db), "-o", str(notes))
    assert refused.returncode == 2
    assert refused.stderr == (
        f"corral: error: {notes} exists and is not a corral report; to replace it, add "
        "--overwrite, or give another -o\n"
    )
    assert notes.read_text() == "my notes\n"
    replaced = await acorral("report", str(db), "-o", str(notes), "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert notes.read_text().startswith("<!doctype html>")


async def test_report_needs_a_sqlite_store(tmp_path: Path) -> None:
    """--report with a JSON lines output is refused before anything runs (exit 2)."""
    source = tmp_path / "urls.txt"
    source.write_text("http://127.0.0.1:9/\n")
    done = await acorral("fetch", str(source), "-o", str(tmp_path / "out.jsonl"), "--report")
    assert done.returncode == 2
    assert "--report" in done.stderr
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        pytest.param(None, "no such store", id="missing"),
        pytest.param(
            b"not a database at all, just text" * 100, "not a corral store", id="not-sqlite"
        ),
    ],
)
async def test_a_file_that_is_no_store_is_refused(
    tmp_path: Path, content: bytes | None, says: str
) -> None:
    """What is not a corral store: one line saying what and where, exit 2."""
    store = tmp_path / "x.db"
    if content is not None:
        store.write_bytes(content)
    made = await acorral("report", str(store))
    assert made.returncode == 2
    lines = made.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(store) in lines[0]
    assert says in lines[0]


async def test_a_killed_run_says_killed(site: Site, tmp_path: Path) -> None:
    """A run killed with SIGKILL left its row 'running' and nobody holds the store's lock:
    the report says killed, with the URLs left, and its duration ends at the last write."""
    urls = [site.url(f"/delay/{30 + i % 7}?i={i}") for i in range(300)]
    source = tmp_path / "urls.txt"
    source.write_text("\n".join(urls) + "\n", encoding="utf-8")
    db = tmp_path / "killed.db"
    job = _start(["fetch", str(source), "-o", str(db), "--per-host", "4", "--no-progress"])
    try:
        await site.wait_until(lambda _: _count(db) >= 20)
    finally:
        job.send_signal(signal.SIGKILL)
        job.communicate(timeout=60)
    out = await report(db, tmp_path / "killed.json", "--format", "json")
    header = json.loads(out.read_text())["header"]
    assert header["status"] == "killed"
    assert header["ok"] == _count(db)
    assert 0 < header["pending"] < 300
    assert 0 < header["seconds"] < 60


async def test_a_run_through_proxies_has_a_line_per_proxy(
    site: Site, browser: Chromium, tmp_path: Path
) -> None:
    """Two runs on one store through tinyproxy and a dead proxy: the report (JSON and page)
    has a line per proxy, its requests, errors and rests of both runs added up, as the
    summaries said them."""
    from proxy_servers import TinyProxy
    from redis_server import free_port

    proxy = TinyProxy(tmp_path)
    await corral.to_thread(proxy.start)
    try:
        dead = f"http://127.0.0.1:{free_port()}"
        db = tmp_path / "proxied.db"
        for batch in ("a", "b"):
            source = tmp_path / f"{batch}.txt"
            source.write_text("".join(f"{site.url(f'/page/{i}?{batch}')}\n" for i in range(20)))
            args = ["fetch", str(source), "-o", str(db), "--proxy", dead, "--proxy", proxy.url]
            done = await acorral(*args, "--no-progress", "--retries", "0")
            assert done.returncode == 0, done.stderr
    finally:
        await corral.to_thread(proxy.stop)
    figures = json.loads((await report(db, tmp_path / "p.json", "--format", "json")).read_text())
    rows = {row["proxy"]: row for row in figures["proxies"]}
    assert rows[f"http://127.0.0.1:{proxy.port}"]["requests"] == 40
    assert rows[dead]["rested"] == 2  # once a run
    assert rows[dead]["errors"] == rows[dead]["requests"] >= 2
    view = await look(browser, await report(db, tmp_path / "p.html"), "proxies")
    assert view.figures["proxies"] == "2"
