"""``corral export`` and ``corral report`` on what is not a store's table (a trial).

A directory given as the store said "no such store" (or "no such file"): it is there, and
is a directory. ``--table items`` of a fetch's store wrote an empty file (no header, no
word): a fetch stores no items. A CSV of an empty table had no header line either.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import ENV

import corral
from corral.testing import Site, open_site

pytestmark = pytest.mark.corral_guard(strict=False)  # commands run in subprocesses


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


def _corral(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "corral", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, check=False, env=ENV, cwd=cwd
    )


async def acorral(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await corral.to_thread(_corral, cwd, *args)


@pytest.mark.parametrize("command", ["export", "report"])
async def test_a_directory_is_said_to_be_one(tmp_path: Path, command: str) -> None:
    """``corral export DIR`` / ``corral report DIR``: one line saying it is a directory."""
    (tmp_path / "crawl").mkdir()
    done = await acorral(tmp_path, command, "crawl")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        (
            "corral: error: crawl is a directory, not a store: give the store's file "
            "(corral fetch and crawl write corral.db by default)"
        )
    ]


@pytest.mark.parametrize("command", ["export", "report"])
@pytest.mark.parametrize("name", ["out.jsonl", "notes.db"])
async def test_a_file_that_is_not_sqlite_is_said_not_to_be_a_store(
    tmp_path: Path, command: str, name: str
) -> None:
    """``corral export out.jsonl`` (a fetch's JSON lines output) or any file that is not
    SQLite: one line saying it is not a corral store and what is read ("file is not a
    database" said nothing of what to give instead)."""
    (tmp_path / name).write_text('{"url": "http://127.0.0.1:9/", "ok": true}\n' * 100)
    done = await acorral(tmp_path, command, name)
    assert done.returncode == 2, done.stderr
    said = (
        f"corral: error: {name} is not a corral store (not an SQLite database): corral "
        f"{command} reads the SQLite file that corral fetch or crawl wrote with -o"
    )
    if name.endswith(".jsonl"):
        said += " (a .jsonl output is JSON lines already)"
    assert done.stderr.splitlines() == [said]


async def test_items_of_a_fetch_store_are_refused_in_one_line(site: Site, tmp_path: Path) -> None:
    """A fetch stores no items: ``--table items`` says so (exit 2), and writes no file."""
    (tmp_path / "urls.txt").write_text(site.url("/page/1") + "\n")
    assert (await acorral(tmp_path, "fetch", "urls.txt", "-q")).returncode == 0
    for fmt in ("csv", "jsonl"):
        done = await acorral(
            tmp_path, "export", "corral.db", "--table", "items", "--format", fmt, "-o", "i.out"
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            (
                "corral: error: corral.db is a store of corral fetch: it has no items (a crawl's "
                "--parse callback stores them); export --table results"
            )
        ]
        assert not (tmp_path / "i.out").exists()


async def test_a_csv_of_an_empty_table_has_its_header(site: Site, tmp_path: Path) -> None:
    """A table with no rows (a fetch's ``history``): the CSV still names its columns."""
    (tmp_path / "urls.txt").write_text(site.url("/page/1") + "\n")
    assert (await acorral(tmp_path, "fetch", "urls.txt", "-q")).returncode == 0
    done = await acorral(
        tmp_path, "export", "corral.db", "--table", "history", "--format", "csv", "-o", "h.csv"
    )
    assert done.returncode == 0, done.stderr
    with (tmp_path / "h.csv").open(newline="") as file:
        rows = list(csv.reader(file))
    assert len(rows) == 1
    assert rows[0][:3] == ["id", "url", "final_url"]
