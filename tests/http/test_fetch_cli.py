"""``corral fetch`` through its real entry point: outputs, exit codes, resume after a kill."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from corral.testing import Site, SiteLayout, open_site

# What these tests check runs in a subprocess (the real command); the test body reads the
# files it wrote, which strict mode would (rightly) call blocking in library code.
pytestmark = pytest.mark.corral_guard(strict=False)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(log_size=100_000, layout=SiteLayout(pages=10)) as running:
        yield running


def corral(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m corral ARGS`` and return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


async def acorral(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a thread, so the test's loop keeps serving the site meanwhile."""
    import corral as toolkit

    return await toolkit.to_thread(lambda: corral(*args, stdin=stdin))


def rows(
    db: Path, query: str = "select url, status, ok, error_kind, attempts from results"
) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(query))


def write_urls(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_fetch_into_sqlite_one_row_per_url(site: Site, tmp_path: Path) -> None:
    """A run writes one results row per unique URL, malformed lines and duplicates included."""
    urls = [site.url(f"/page/{i}") for i in range(30)]
    source = write_urls(
        tmp_path / "urls.txt",
        [
            "# a comment",
            "",
            *urls,
            urls[0],
            urls[1] + "#frag",
            "not a url",
            site.url("/status/404"),
        ],
    )
    db = tmp_path / "out.db"
    run = await acorral("fetch", str(source), "-o", str(db), "--no-progress")
    assert run.returncode == 0, run.stderr
    got = rows(db)
    assert len(got) == 32  # 30 pages, one malformed line, one 404; duplicates once
    assert sorted(str(r[0]) for r in got if r[3] is None) == sorted(urls)
    assert ("not a url", None, 0, "invalid_url", 0) in got
    assert (site.url("/status/404"), 404, 0, "http_status", 1) in got
    assert re.search(r"duplicates +2 ", run.stderr)
    assert f"sqlite3 {db}" in run.stderr


async def test_fail_on_error_exits_1(site: Site, tmp_path: Path) -> None:
    """--fail-on-error makes any failed URL an exit status of 1; the results are still kept."""
    source = write_urls(tmp_path / "urls.txt", [site.url("/page/1"), site.url("/status/500")])
    db = tmp_path / "out.db"
    run = await acorral(
        "fetch", str(source), "-o", str(db), "-q", "--retries", "0", "--fail-on-error"
    )
    assert run.returncode == 1
    assert len(rows(db)) == 2


async def test_jsonl_output_and_stdin_input(site: Site, tmp_path: Path) -> None:
    """Reading stdin and writing JSON lines: one object per URL, with the documented fields."""
    out = tmp_path / "out.jsonl"
    lines = "\n".join(site.url(f"/page/{i}") for i in range(5))
    run = await acorral("fetch", "-", "-o", str(out), "-q", stdin=lines)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 5
    assert {
        "url",
        "final_url",
        "status",
        "ok",
        "error_kind",
        "attempts",
        "elapsed_ms",
        "fetched_at",
        "bytes",
        "content_type",
        "headers",
        "sha256",
    } <= set(records[0])


async def test_stdout_output(site: Site) -> None:
    """-o - writes JSON lines to stdout and nothing else there."""
    run = await acorral("fetch", "-", "-o", "-", "-q", stdin=site.url("/page/3"))
    assert run.returncode == 0, run.stderr
    (record,) = [json.loads(line) for line in run.stdout.splitlines()]
    assert record["status"] == 200


async def test_request_objects_in_the_input(site: Site, tmp_path: Path) -> None:
    """JSON request lines carry a method, headers and a body to the server."""
    request = {
        "url": site.url("/echo"),
        "method": "POST",
        "headers": {"X-A": "b"},
        "json": {"k": 1},
    }
    out = tmp_path / "out.jsonl"
    run = await acorral(
        "fetch", "-", "-o", str(out), "-q", "--save-bodies", "store", stdin=json.dumps(request)
    )
    assert run.returncode == 0, run.stderr
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    import base64

    echo = json.loads(base64.b64decode(record["body_base64"]))
    assert (echo["method"], echo["headers"]["X-A"], echo["json"]) == ("POST", "b", {"k": 1})


async def test_bodies_saved_to_a_directory(site: Site, tmp_path: Path) -> None:
    """--save-bodies dir writes each body once, named by its SHA-256, and records the path."""
    source = write_urls(tmp_path / "urls.txt", [site.url("/page/1"), site.url("/page/2")])
    db, bodies = tmp_path / "out.db", tmp_path / "bodies"
    run = await acorral(
        "fetch",
        str(source),
        "-o",
        str(db),
        "-q",
        "--save-bodies",
        "dir",
        "--bodies-dir",
        str(bodies),
    )
    assert run.returncode == 0, run.stderr
    for sha, path in rows(db, "select sha256, body_path from results"):
        assert Path(str(path)).name == sha
        assert Path(str(path)).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["fetch", "/no/such/file.txt"],
            "cannot read input /no/such/file.txt",
            id="missing-input",
        ),
        pytest.param(["fetch", "-", "--concurrency", "0"], "--concurrency", id="zero-concurrency"),
        pytest.param(["fetch", "-", "--rate", "fast"], "--rate", id="bad-rate"),
        pytest.param(["fetch", "-", "--max-bytes", "lots"], "--max-bytes", id="bad-size"),
        pytest.param(["fetch", "-", "--header", "nocolon"], "--header", id="bad-header"),
        pytest.param(["fetch", "-", "--save-bodies", "dir"], "--bodies-dir", id="dir-without-dir"),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(
    args: list[str], message: str, tmp_path: Path
) -> None:
    """Bad flags and unreadable input: exit 2, one line on stderr naming the problem."""
    run = corral(*args, "-o", str(tmp_path / "x.db"), stdin="")
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert message in lines[0]


def test_not_a_database_is_an_output_error(tmp_path: Path) -> None:
    """An output path that is not a SQLite database is refused with one line, untouched."""
    bogus = tmp_path / "notes.db"
    bogus.write_text("these are my notes, not a database\n" * 100)
    run = corral("fetch", "-", "-o", str(bogus), stdin="")
    assert run.returncode == 2
    assert "is not a corral store (not SQLite)" in run.stderr
    assert bogus.read_text().startswith("these are my notes")


async def test_running_again_fetches_nothing_twice(site: Site, tmp_path: Path) -> None:
    """The same command again skips every URL already recorded and says so."""
    source = write_urls(tmp_path / "urls.txt", [site.url(f"/page/{i}") for i in range(20)])
    db = tmp_path / "out.db"
    first = await acorral("fetch", str(source), "-o", str(db), "--no-progress")
    assert first.returncode == 0, first.stderr
    served = site.statistics().by_prefix["/page"]
    again = await acorral("fetch", str(source), "-o", str(db), "--no-progress")
    assert again.returncode == 0, again.stderr
    assert site.statistics().by_prefix["/page"] == served == 20
    assert re.search(r"resumed +20\b", again.stderr)
    assert len(rows(db)) == 20


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "corral", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # faulthandler: a child that does not stop is made to say where it is (_stopped)
        env={**os.environ, "PYTHONWARNINGS": "error", "PYTHONFAULTHANDLER": "1"},
    )


def _stopped(job: subprocess.Popen[str], timeout: float = 30) -> str:
    """Wait for the child to exit and return its stderr; if it does not within ``timeout``,
    abort it (faulthandler prints every thread's stack) and fail with what it printed."""
    try:
        return job.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        job.send_signal(signal.SIGABRT)
        stderr = job.communicate()[1]
        pytest.fail(f"corral did not stop within {timeout} s; its stderr:\n{stderr}")


@pytest.fixture
def slow_urls(site: Site, tmp_path: Path) -> tuple[Path, list[str]]:
    urls = [site.url(f"/delay/{30 + i % 7}?i={i}") for i in range(300)]
    return write_urls(tmp_path / "urls.txt", urls), urls


@pytest.mark.parametrize("output", ["out.db", "out.jsonl"])
async def test_resume_after_kill_9(
    site: Site, tmp_path: Path, slow_urls: tuple[Path, list[str]], output: str
) -> None:
    """Killed mid-run, the same command finishes: one record per URL, none fetched twice
    among those recorded before the kill."""
    source, urls = slow_urls
    out = tmp_path / output
    args = ["fetch", str(source), "-o", str(out), "--per-host", "8", "--no-progress"]
    job = _start(args)
    try:
        await site.wait_until(lambda s: s.requests >= 120)
    finally:
        job.send_signal(signal.SIGKILL)
        job.communicate()
    recorded_before = _recorded(out)
    assert 0 < len(recorded_before) < len(urls)
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    final = _recorded(out)
    assert sorted(final) == sorted(urls)  # exactly one record per URL
    hits: dict[str, int] = {}
    for record in site.statistics().recent:
        hits[record.target] = hits.get(record.target, 0) + 1
    for url in recorded_before:
        assert hits[url.removeprefix(site.base_url)] == 1, url


def _recorded(out: Path) -> list[str]:
    if out.suffix == ".jsonl":
        return [json.loads(line)["url"] for line in out.read_text().splitlines()]
    return [str(r[0]) for r in rows(out, "select url from results")]


async def test_ctrl_c_stops_gracefully_and_says_how_to_resume(
    site: Site, tmp_path: Path, slow_urls: tuple[Path, list[str]]
) -> None:
    """SIGINT: exit 130, results kept, and the command to resume printed."""
    source, urls = slow_urls
    db = tmp_path / "out.db"
    args = ["fetch", str(source), "-o", str(db), "--per-host", "4", "--no-progress"]
    job = _start(args)
    await site.wait_until(lambda s: s.requests >= 40)
    job.send_signal(signal.SIGINT)  # (the site is not served meanwhile: no help from it)
    stderr = _stopped(job)
    assert job.returncode == 130, stderr
    assert "resume" in stderr
    assert f"corral fetch {source}" in stderr
    kept = len(rows(db))
    assert kept > 0
    with sqlite3.connect(db) as conn:
        (status,) = conn.execute("select status from runs order by id desc limit 1").fetchone()
    assert status == "interrupted"
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    assert len(rows(db)) == len(urls)
