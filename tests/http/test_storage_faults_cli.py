"""Storage faults through the real entry point: one line saying what and where, exit 2.

Disk full (a small tmpfs, or the process's file size limit), a read-only store, a damaged
store (a truncated WAL), a store locked by another program and a store deleted during the
run each end the run with one ``corral: error:`` line, no traceback, no advice that cannot
work, and every record committed before still readable (issue 12, items 5, 12, 18).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

import corral
from corral.testing import Site, SiteLayout, open_site

# What these tests check runs in a subprocess (the real command); the test body reads the
# files it wrote, which strict mode would (rightly) call blocking in library code.
pytestmark = pytest.mark.corral_guard(strict=False)

# Runs ``python -m corral`` with a file size limit (argv[1], bytes) and SIGXFSZ ignored, so a
# write past the limit fails with EFBIG instead of killing the process: a full disk anywhere.
_LIMITED = (
    "import resource, runpy, signal, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
    "runpy.run_module('corral', run_name='__main__', alter_sys=True)\n"
)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=400)) as running:
        yield running


def run_corral(*args: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m corral ARGS`` (with a file size limit if given)."""
    head = ["-m", "corral"] if limit is None else ["-c", _LIMITED, str(limit)]
    return subprocess.run(
        [sys.executable, *head, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


async def acorral(*args: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a thread, so the test's loop keeps serving the site meanwhile."""
    return await corral.to_thread(lambda: run_corral(*args, limit=limit))


def one_error_line(run: subprocess.CompletedProcess[str]) -> str:
    """Assert the run failed with exit 2 and printed exactly one ``corral: error:`` line."""
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("corral: error: "), lines[0]
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_urls(path: Path, urls: list[str]) -> Path:
    path.write_text("".join(url + "\n" for url in urls), encoding="utf-8")
    return path


def results_of(db: Path) -> list[str]:
    """Return the URLs a store recorded, read as any reader would."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [url for (url,) in conn.execute("select url from results")]


def lines_of(out: Path) -> list[str]:
    """Return the URLs of a JSONL output; every line must be a whole JSON record."""
    return [json.loads(line)["url"] for line in out.read_text().splitlines()]


async def recorded(out: Path) -> list[str]:
    """Return the URLs an output recorded (read in a thread: outputs of 10 MB here)."""
    read = lines_of if out.suffix == ".jsonl" else results_of
    return await corral.to_thread(read, out)


# --- item 12: disk full ---------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs to fill; skipped where mounting one is not permitted."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {mount.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def grow(disk: Path) -> None:
    """Free space the way a user would: here, by giving the tmpfs more room."""
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)


def big_bodies(site: Site, tmp_path: Path) -> tuple[Path, list[str]]:
    """200 URLs of distinct 50 kB bodies (they fill 2 MB after a few dozen records)."""
    urls = [site.url(f"/bytes/{50_000 + i}") for i in range(200)]
    return write_urls(tmp_path / "urls.txt", urls), urls


# Slow enough that records are committed a few at a time before the disk fills.
_STORED = ["--save-bodies", "store", "--rate", "20/s", "--no-progress"]


@pytest.mark.parametrize("name", ["out.db", "out.jsonl"])
async def test_disk_full_says_so_keeps_what_was_committed_and_resumes(
    site: Site, tmp_path: Path, small_disk: Path, name: str
) -> None:
    """A full disk: exit 2 and one line saying the disk is full and to free space first (it
    was a traceback after an "interrupted, run again" summary); the records committed are
    readable (JSONL: whole lines only); once there is space, the same command finishes with
    one record per URL."""
    source, urls = big_bodies(site, tmp_path)
    out = small_disk / name
    args = ["fetch", str(source), "-o", str(out), *_STORED]
    line = one_error_line(await acorral(*args))
    assert "no space left" in line
    assert "free some space" in line
    assert str(small_disk) in line
    kept = await recorded(out)
    assert 0 < len(kept) < len(urls)
    assert len(set(kept)) == len(kept)
    grow(small_disk)
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    final = await recorded(out)
    assert sorted(final) == sorted(urls)


@pytest.mark.parametrize("name", ["out.db", "out.jsonl"])
async def test_file_size_limit_says_so_and_keeps_what_was_committed(
    site: Site, tmp_path: Path, name: str
) -> None:
    """Writing past the process's file size limit (EFBIG, as on a full disk): exit 2, one line
    naming the limit; the committed records are readable; without the limit the same command
    finishes with one record per URL."""
    source, urls = big_bodies(site, tmp_path)
    out = tmp_path / name
    args = ["fetch", str(source), "-o", str(out), *_STORED]
    line = one_error_line(await acorral(*args, limit=1_500_000))
    assert str(out) in line
    assert "ulimit -f" in line
    kept = await recorded(out)
    assert 0 < len(kept) < len(urls)
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    final = await recorded(out)
    assert sorted(final) == sorted(urls)


async def test_disk_full_under_bodies_dir_says_so_and_resumes(
    site: Site, tmp_path: Path, small_disk: Path
) -> None:
    """--save-bodies dir on a full disk: exit 2, one line naming the body's file and the full
    disk (it was a traceback); once there is space, the same command finishes."""
    source, urls = big_bodies(site, tmp_path)
    db = tmp_path / "out.db"
    args = ["fetch", str(source), "-o", str(db), "--save-bodies", "dir"]
    args += ["--bodies-dir", str(small_disk / "bodies"), "--rate", "20/s", "--no-progress"]
    line = one_error_line(await acorral(*args))
    assert f"cannot write {small_disk / 'bodies'}" in line
    assert "no space left" in line
    assert 0 < len(results_of(db)) < len(urls)
    grow(small_disk)
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    assert sorted(results_of(db)) == sorted(urls)


# --- item 12: a read-only store -------------------------------------------------------------


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable even for root (``chattr +i``); skip where that is impossible."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"root ignores file modes and chattr +i failed: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


async def test_resuming_a_read_only_store_says_so(site: Site, tmp_path: Path) -> None:
    """Resuming a store that cannot be written: exit 2 and one line saying it is read-only
    (it was a traceback), the store byte for byte as it was."""
    db = tmp_path / "out.db"
    source = write_urls(tmp_path / "urls.txt", [site.url(f"/page/{i}") for i in range(10)])
    first = await acorral("fetch", str(source), "-o", str(db), "-q")
    assert first.returncode == 0, first.stderr
    more = write_urls(tmp_path / "more.txt", [site.url(f"/page/{i}") for i in range(20)])
    before = digest(db)
    with immutable(db):
        line = one_error_line(await acorral("fetch", str(more), "-o", str(db), "-q"))
        assert str(db) in line
        assert "read-only" in line
        assert digest(db) == before
    assert len(results_of(db)) == 10


# --- item 12 and 18: a damaged store (a truncated WAL), and one damaged past its schema ----


def truncate_the_wal(db: Path) -> None:
    """Leave ``db`` as a crash would with a WAL then cut short at no frame boundary.

    Two transactions go to the WAL, a checkpoint copies both into the database file, and the
    WAL is cut inside the second: the database file holds pages newer than the WAL that
    SQLite now trusts, which it reads as a malformed database, on every open.
    """
    work = db.with_name("work.db")
    shutil.copy(db, work)
    with contextlib.closing(sqlite3.connect(work, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("UPDATE urls SET state = 0 WHERE id % 5 = 0")
        first = Path(f"{work}-wal").stat().st_size
        conn.execute("UPDATE urls SET found_on = hex(randomblob(200)) WHERE id % 4 = 0")
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        wal = Path(f"{work}-wal").read_bytes()
        shutil.copy(work, db)  # the database file as the crash left it, with the WAL
    Path(f"{db}-wal").write_bytes(wal[: first + (len(wal) - first) // 2 + 5])
    for leftover in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
        leftover.unlink(missing_ok=True)


def damage_the_urls_table(db: Path) -> None:
    """Overwrite the root page of the ``urls`` table: the schema reads, the frontier does not."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'urls'").fetchone()
    with open(db, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xa5" * page_size)


@pytest.mark.parametrize("damage", [truncate_the_wal, damage_the_urls_table])
@pytest.mark.parametrize("command", ["fetch", "crawl"])
async def test_a_damaged_store_is_one_line_on_every_rerun(
    site: Site, tmp_path: Path, command: str, damage: object
) -> None:
    """A damaged store (a truncated WAL; a table's page overwritten): exit 2 and one line
    saying the store is damaged and what may save its records, on this run and the next
    (it was a traceback on every rerun; the crawl printed an "interrupted, run again"
    summary first)."""
    db = tmp_path / "out.db"
    if command == "fetch":
        source = write_urls(tmp_path / "urls.txt", [site.url(f"/page/{i}") for i in range(3000)])
        args = ["fetch", str(source), "-o", str(db), "-q"]
    else:
        args = ["crawl", site.url("/"), "-o", str(db), "-q", "--per-host", "16"]
        args += ["--max-pages", "500"]
    first = await acorral(*args)
    assert first.returncode == 0, first.stderr
    assert callable(damage)
    await corral.to_thread(damage, db)
    for _ in range(2):
        line = one_error_line(await acorral(*args))
        assert str(db) in line
        assert "damaged" in line
        assert ".recover" in line


# --- item 12: a store locked by another program ---------------------------------------------


async def test_a_store_locked_by_another_program_says_so(site: Site, tmp_path: Path) -> None:
    """Another program holding the store's write lock past SQLite's wait: exit 2 and one line
    saying the store is locked (it was a traceback); once it lets go, the run resumes."""
    db = tmp_path / "out.db"
    source = write_urls(tmp_path / "urls.txt", [site.url(f"/page/{i}") for i in range(10)])
    first = await acorral("fetch", str(source), "-o", str(db), "-q")
    assert first.returncode == 0, first.stderr
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        line = one_error_line(await acorral("fetch", str(source), "-o", str(db), "-q"))
        assert str(db) in line
        assert "locked by another program" in line
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    again = await acorral("fetch", str(source), "-o", str(db), "-q")
    assert again.returncode == 0, again.stderr


# --- item 5: the store deleted during the run ------------------------------------------------


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "corral", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "error", "PYTHONFAULTHANDLER": "1"},
    )


@pytest.mark.parametrize("name", ["fetch.db", "fetch.jsonl", "crawl.db"])
async def test_a_store_deleted_during_the_run_is_not_success(
    site: Site, tmp_path: Path, name: str
) -> None:
    """The output deleted while the run writes it: exit 2 and one line saying so (it was
    "done, results: d.db", exit 0, and no file)."""
    out = tmp_path / name
    if name.startswith("fetch"):
        urls = [site.url(f"/delay/{40 + i % 7}?i={i}") for i in range(300)]
        args = ["fetch", str(write_urls(tmp_path / "urls.txt", urls)), "-o", str(out)]
        args += ["--per-host", "4"]
    else:
        args = ["crawl", site.url("/"), "-o", str(out), "--rate", "40/s", "--max-pages", "300"]
    job = _spawn([*args, "--no-progress"])
    try:
        await site.wait_until(lambda s: s.requests >= 20)
        for path in (out, Path(f"{out}-wal"), Path(f"{out}-shm")):
            path.unlink(missing_ok=True)
        stderr = await corral.to_thread(lambda: job.communicate(timeout=60)[1])
    finally:
        if job.poll() is None:
            job.kill()
            job.communicate()
    assert job.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"corral: error: {out} was deleted or replaced"), lines[0]
