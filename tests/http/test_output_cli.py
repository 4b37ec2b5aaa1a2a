"""Which existing ``-o`` files corral may write into, through the real entry point.

corral resumes its own output and refuses anything else with exit 2 and one line, leaving
the file byte for byte; ``--overwrite`` replaces it on purpose (issue 12, items 3, 4, 18).
"""

from __future__ import annotations

import hashlib
import json
import os
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
    async with open_site(layout=SiteLayout(pages=20)) as running:
        yield running


def run_corral(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m corral ARGS`` and return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


async def acorral(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a thread, so the test's loop keeps serving the site meanwhile."""
    return await corral.to_thread(lambda: run_corral(*args))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def siblings(path: Path) -> list[str]:
    """Return the names of the files beside ``path`` that start with its name."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


def one_error_line(run: subprocess.CompletedProcess[str]) -> str:
    """Assert the run failed with exit 2 and exactly one ``corral: error:`` line; return it."""
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("corral: error: "), lines[0]
    return lines[0]


def urls_file(site: Site, tmp_path: Path, n: int = 5) -> Path:
    path = tmp_path / "urls.txt"
    path.write_text("".join(site.url(f"/page/{i}") + "\n" for i in range(n)), encoding="utf-8")
    return path


def a_foreign_database(path: Path, *, results_table: bool) -> Path:
    """Make a SQLite database of someone else's, closed cleanly (no -wal or -shm left)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        conn.execute("INSERT INTO notes (text) VALUES ('mine, not corral''s')")
        if results_table:
            conn.execute("CREATE TABLE results (name TEXT, score REAL)")
            conn.execute("INSERT INTO results VALUES ('alice', 1.5)")
    conn.close()
    return path


# --- item 3: an existing file that is not corral's output of this job --------------------


@pytest.mark.parametrize("name", ["data.jsonl", "data.db"])
async def test_a_users_file_as_output_is_refused_and_left_alone(
    site: Site, tmp_path: Path, name: str
) -> None:
    """-o naming a file corral did not write: exit 2, one line naming it and --overwrite,
    the file byte for byte as it was, nothing created beside it, nothing fetched."""
    out = tmp_path / name
    out.write_text('{"my": "precious data"}\n' * 50, encoding="utf-8")
    before = digest(out)
    line = one_error_line(await acorral("fetch", str(urls_file(site, tmp_path)), "-o", str(out)))
    assert str(out) in line
    assert "--overwrite" in line
    assert digest(out) == before
    assert siblings(out) == [name]
    assert site.statistics().requests == 0


async def test_jsonl_whose_state_file_is_gone_is_refused(site: Site, tmp_path: Path) -> None:
    """A real earlier JSONL output whose .corral-state was deleted is not erased (it was:
    3,000 records lost, exit 0): exit 2, one line naming the missing state file."""
    source, out = urls_file(site, tmp_path, 30), tmp_path / "data.jsonl"
    first = await acorral("fetch", str(source), "-o", str(out), "-q")
    assert first.returncode == 0, first.stderr
    before = digest(out)
    Path(f"{out}.corral-state").unlink()
    line = one_error_line(await acorral("fetch", str(source), "-o", str(out), "-q"))
    assert f"{out}.corral-state" in line
    assert "--overwrite" in line
    assert digest(out) == before
    assert len(out.read_text().splitlines()) == 30


async def test_jsonl_shorter_than_its_state_is_refused_with_the_way_out(
    site: Site, tmp_path: Path
) -> None:
    """A JSONL output emptied behind corral's back while its state remains: exit 2, and the
    line gives --overwrite as the way to start over (no state file surgery)."""
    source, out = urls_file(site, tmp_path), tmp_path / "data.jsonl"
    assert (await acorral("fetch", str(source), "-o", str(out), "-q")).returncode == 0
    out.write_text("")
    line = one_error_line(await acorral("fetch", str(source), "-o", str(out), "-q"))
    assert "--overwrite" in line
    again = await acorral("fetch", str(source), "-o", str(out), "-q", "--overwrite")
    assert again.returncode == 0, again.stderr
    assert len(out.read_text().splitlines()) == 5


@pytest.mark.parametrize("name", ["data.jsonl", "data.db"])
async def test_overwrite_replaces_a_file_on_purpose(site: Site, tmp_path: Path, name: str) -> None:
    """--overwrite replaces whatever is there (and a JSONL's old state) with this run's output."""
    out = tmp_path / name
    out.write_text("old\n" * 10, encoding="utf-8")
    Path(f"{out}.corral-state").write_text("stale")
    run = await acorral("fetch", str(urls_file(site, tmp_path)), "-o", str(out), "--overwrite")
    assert run.returncode == 0, run.stderr
    if name.endswith(".jsonl"):
        assert [json.loads(line)["status"] for line in out.read_text().splitlines()] == [200] * 5
    else:
        with sqlite3.connect(out) as conn:
            assert conn.execute("select count(*) from results").fetchone() == (5,)
        conn.close()


@pytest.mark.parametrize("name", ["data.jsonl", "data.db"])
async def test_an_empty_existing_file_is_used(site: Site, tmp_path: Path, name: str) -> None:
    """An empty file (a user's ``touch``) holds nothing to lose: it is used as it is."""
    out = tmp_path / name
    out.touch()
    run = await acorral("fetch", str(urls_file(site, tmp_path)), "-o", str(out), "-q")
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 0


async def test_stdout_appended_to_a_users_file_keeps_what_was_there(
    site: Site, tmp_path: Path
) -> None:
    """-o - with stdout appended to a file (``>> all.jsonl``): the records go after what the
    file held (it was cut to nothing, stdout taken for a JSONL output to resume)."""
    out = tmp_path / "all.jsonl"
    out.write_text('{"mine": 1}\n', encoding="utf-8")
    source = urls_file(site, tmp_path)

    def append() -> subprocess.CompletedProcess[bytes]:
        with open(out, "ab") as stdout:
            return subprocess.run(
                [sys.executable, "-m", "corral", "fetch", str(source), "-o", "-", "-q"],
                stdout=stdout,
                stderr=subprocess.PIPE,
                timeout=120,
                check=False,
            )

    run = await corral.to_thread(append)
    assert run.returncode == 0, run.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == '{"mine": 1}'
    assert [json.loads(line)["status"] for line in lines[1:]] == [200] * 5


async def test_crawl_refuses_a_users_file_and_overwrites_on_purpose(
    site: Site, tmp_path: Path
) -> None:
    """corral crawl -o a file it did not write: exit 2 and the file untouched; with
    --overwrite the crawl replaces it."""
    out = tmp_path / "crawl.db"
    out.write_text("my notes\n" * 100, encoding="utf-8")
    before = digest(out)
    args = ["crawl", site.url("/site/0.html"), "-o", str(out), "--max-pages", "3", "-q"]
    line = one_error_line(await acorral(*args))
    assert "--overwrite" in line
    assert digest(out) == before
    again = await acorral(*args, "--overwrite")
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(out) as conn:
        assert conn.execute("select count(*) from results where status = 200").fetchone() == (3,)
    conn.close()


async def test_export_refuses_an_existing_file_and_its_own_store(
    site: Site, tmp_path: Path
) -> None:
    """corral export -o an existing file: exit 2, untouched; --overwrite replaces it. Its own
    store as the output is refused even with --overwrite (it was truncated before being read)."""
    store = tmp_path / "c.db"
    run = await acorral("crawl", site.url("/site/0.html"), "-o", str(store), "--max-pages", "3")
    assert run.returncode == 0, run.stderr
    out = tmp_path / "results.csv"
    out.write_text("precious,csv\n", encoding="utf-8")
    line = one_error_line(await acorral("export", str(store), "--format", "csv", "-o", str(out)))
    assert "--overwrite" in line
    assert out.read_text() == "precious,csv\n"
    replaced = await acorral("export", str(store), "--format", "csv", "-o", str(out), "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert out.read_text().startswith("id,url,")
    before = digest(store)
    one_error_line(await acorral("export", str(store), "-o", str(store), "--overwrite"))
    assert digest(store) == before


def test_demo_refuses_a_users_file_and_replaces_its_own(tmp_path: Path) -> None:
    """corral demo starts afresh over its own earlier store, but refuses a file it did not
    make (it deleted whatever was there)."""
    out = tmp_path / "mine.db"
    out.write_text("my notes\n" * 100, encoding="utf-8")
    before = digest(out)
    line = one_error_line(run_corral("demo", "-o", str(out), "-n", "40"))
    assert "--overwrite" in line
    assert digest(out) == before
    own = tmp_path / "demo.db"
    for _ in range(2):
        run = run_corral("demo", "-o", str(own), "-n", "40")
        assert run.returncode == 0, run.stderr
        with sqlite3.connect(own) as conn:
            assert conn.execute("select count(*) from runs").fetchone() == (1,)
        conn.close()


# --- item 4: an unrelated SQLite database ---------------------------------------------------


@pytest.mark.parametrize("results_table", [False, True], ids=["own-tables", "own-results-table"])
@pytest.mark.parametrize("command", ["fetch", "crawl"])
async def test_an_unrelated_sqlite_database_is_left_byte_for_byte(
    site: Site, tmp_path: Path, command: str, results_table: bool
) -> None:
    """A SQLite database corral did not make (no meta.schema_version) gets no tables added
    (it got six) and no traceback (with its own results table): exit 2, one line, the file
    byte for byte, no -wal or -shm left beside it."""
    db = a_foreign_database(tmp_path / "other.db", results_table=results_table)
    before = digest(db)
    if command == "fetch":
        args = ["fetch", str(urls_file(site, tmp_path)), "-o", str(db)]
    else:
        args = ["crawl", site.url("/site/0.html"), "-o", str(db), "--max-pages", "3"]
    line = one_error_line(await acorral(*args))
    assert str(db) in line
    assert "not made by corral" in line
    assert digest(db) == before
    assert siblings(db) == ["other.db"]


async def test_an_unrelated_database_is_replaced_with_overwrite(site: Site, tmp_path: Path) -> None:
    """--overwrite replaces an unrelated database with a corral store."""
    db = a_foreign_database(tmp_path / "other.db", results_table=True)
    run = await acorral("fetch", str(urls_file(site, tmp_path)), "-o", str(db), "--overwrite")
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(db) as conn:
        tables = {name for (name,) in conn.execute("select name from sqlite_master")}
        assert "notes" not in tables
        assert conn.execute("select count(*) from results").fetchone() == (5,)
    conn.close()


# --- item 18: a missing directory -----------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "name"),
    [
        pytest.param(["fetch", "-"], "x.db", id="fetch-db"),
        pytest.param(["fetch", "-"], "x.jsonl", id="fetch-jsonl"),
        pytest.param(["crawl", "http://127.0.0.1:9/"], "x.db", id="crawl"),
    ],
)
def test_a_missing_directory_is_named_as_such(
    command: list[str], name: str, tmp_path: Path
) -> None:
    """-o into a directory that does not exist says so (it said "not a usable SQLite
    database"), and the crawl prints no "interrupted" summary before it."""
    missing = tmp_path / "missing" / "dir"
    run = subprocess.run(
        [sys.executable, "-m", "corral", *command, "-o", str(missing / name)],
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    line = one_error_line(run)
    assert f"directory {missing} does not exist" in line
    assert "SQLite" not in line


async def test_jsonl_of_a_run_killed_before_its_first_commit_is_resumed(
    site: Site, tmp_path: Path
) -> None:
    """A JSON lines output whose state committed no length yet holds only that run's own
    uncommitted lines (records are appended before their transaction): the same command
    resumes, cuts them off and fetches their URLs again (it was refused on every rerun)."""
    urls = [site.url(f"/page/{i}") for i in range(5)]
    source = tmp_path / "urls.txt"
    source.write_text("\n".join(urls) + "\n")
    out = tmp_path / "out.jsonl"
    first = await acorral("fetch", str(source), "-o", str(out), "-q")
    assert first.returncode == 0, first.stderr
    # Made as a kill before the first commit leaves it: nothing committed, lines written.
    with sqlite3.connect(f"{out}.corral-state") as conn:
        conn.execute("DELETE FROM meta WHERE name = 'jsonl_length'")
        conn.execute("UPDATE urls SET state = 0")
        conn.execute("UPDATE runs SET status = 'running', finished_at = NULL")
    conn.close()
    again = await acorral("fetch", str(source), "-o", str(out), "-q")
    assert again.returncode == 0, again.stderr
    recorded = [json.loads(line)["url"] for line in out.read_text().splitlines()]
    assert sorted(recorded) == sorted(urls)


def test_demo_gives_no_advice_its_command_cannot_take(tmp_path: Path) -> None:
    """The demo records some failures on purpose; its summary must not tell the user to run
    "the same command with --retry-failed": ``corral demo`` takes no such flag (and starts
    afresh each time)."""
    own = tmp_path / "demo.db"
    run = run_corral("demo", "-o", str(own), "-n", "40")
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(own) as conn:
        (failed,) = conn.execute("select count(*) from results where not ok").fetchone()
    conn.close()
    assert failed > 0  # (so the note had something to say)
    assert "--retry-failed" not in run.stderr
