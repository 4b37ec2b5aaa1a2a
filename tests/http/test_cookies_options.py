"""``--cookie-jar`` and ``--overwrite`` as a new user met them (issue 17, a new-user trial):
a jar that is the store itself, a store started afresh that kept its old jar, a note printed
before the run was refused.

The test site's cookie area: ``/cookie/start`` sets ``session`` and links to five pages that
answer 401 without it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import acorral

from corral.testing import Site, open_site

# The CLI's tests read and write their small files on the loop (as test_fetch_cli.py does).
pytestmark = pytest.mark.corral_guard(strict=False)

_TOKEN = "corral-test-session"
_SIDES = ("-wal", "-shm", ".lock", ".corral-state")  # a store's files beside it


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


def _statuses(store: Path) -> dict[str, int | None]:
    with sqlite3.connect(store) as conn:
        rows = conn.execute("select url, status from results where url like '%/cookie/%'")
        return {"/cookie" + url.rsplit("/cookie", 1)[1]: status for url, status in rows}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("output", "jar"),
    [
        pytest.param("same.db", "same.db", id="the-store"),
        pytest.param("same.db", "./sub/../same.db", id="the-store-spelt-otherwise"),
        pytest.param("same.db", "same.db-wal", id="its-wal"),
        pytest.param("same.db", "same.db-shm", id="its-shm"),
        pytest.param("same.db", "same.db.lock", id="its-lock"),
        pytest.param("out.jsonl", "out.jsonl", id="the-jsonl-output"),
        pytest.param("out.jsonl", "out.jsonl.corral-state", id="the-jsonl-state"),
    ],
)
@pytest.mark.parametrize("earlier", [False, True], ids=["new", "resumed"])
async def test_a_jar_that_is_the_store_or_its_files_is_refused_before_anything(
    tmp_path: Path, output: str, jar: str, earlier: bool
) -> None:
    """``--cookie-jar same.db -o same.db`` (or the store's side files): one line, exit 2,
    before anything is opened or written: no store, no lock left, an earlier run's files
    byte for byte (it was a traceback, a lock file left and the run marked running)."""
    (tmp_path / "sub").mkdir()
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/\n")
    if earlier:  # a store of an earlier run (its URL refused: port 9 answers nothing)
        first = await acorral("fetch", str(urls), "-o", str(tmp_path / output), "-q")
        assert first.returncode == 0, first.stderr
    before = _files(tmp_path)
    done = await acorral(
        "fetch", str(urls), "-o", str(tmp_path / output), "--cookie-jar", f"{tmp_path}/{jar}"
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"corral: error: --cookie-jar {tmp_path}/{jar} is "
        + ("a file of the output" if jar.endswith(_SIDES) else "the output")
        + f" {tmp_path / output}: give the jar a file of its own\n"
    )
    assert _files(tmp_path) == before


async def test_a_crawl_refuses_its_store_as_jar(tmp_path: Path) -> None:
    """The same for ``corral crawl``."""
    out = tmp_path / "c.db"
    done = await acorral("crawl", "http://127.0.0.1:9/", "-o", str(out), "--cookie-jar", str(out))
    assert done.returncode == 2
    assert done.stderr == (
        f"corral: error: --cookie-jar {out} is the output {out}: give the jar a file of its own\n"
    )
    assert list(tmp_path.iterdir()) == []


async def test_a_jar_that_is_the_input_is_refused(tmp_path: Path) -> None:
    """``corral fetch urls.txt --cookie-jar urls.txt``: one line, exit 2 (an input with no
    URL in it yet would have been taken for an empty jar and written over)."""
    urls = tmp_path / "urls.txt"
    urls.write_text("")
    done = await acorral(
        "fetch", str(urls), "-o", str(tmp_path / "o.db"), "--cookie-jar", str(urls)
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"corral: error: --cookie-jar {urls} is the input file: give the jar a file of its own\n"
    )
    assert urls.read_text() == ""


async def test_a_jar_that_is_a_directory_is_one_line(tmp_path: Path) -> None:
    """``--cookie-jar DIR``: one line naming it, exit 2, nothing written."""
    urls, folder = tmp_path / "urls.txt", tmp_path / "jars"
    urls.write_text("http://127.0.0.1:9/\n")
    folder.mkdir()
    done = await acorral(
        "fetch", str(urls), "-o", str(tmp_path / "o.db"), "--cookie-jar", str(folder)
    )
    assert done.returncode == 2
    assert done.stderr == f"corral: error: --cookie-jar {folder}: it is a directory\n"
    assert not (tmp_path / "o.db").exists()


async def test_a_jar_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    """A jar the run cannot read (here a symlink to itself: the tests run as root, whom a
    mode of 000 does not stop): one line naming it and why, exit 2, nothing written."""
    urls, jar = tmp_path / "urls.txt", tmp_path / "jar.json"
    urls.write_text("http://127.0.0.1:9/\n")
    jar.symlink_to(jar)
    out = tmp_path / "o.db"
    done = await acorral("fetch", str(urls), "-o", str(out), "--cookie-jar", str(jar))
    assert done.returncode == 2
    assert done.stderr == (
        f"corral: error: --cookie-jar {jar}: cannot read it: Too many levels of symbolic links\n"
    )
    assert not out.exists()


async def test_an_empty_jar_file_is_a_new_jar(site: Site, tmp_path: Path) -> None:
    """``touch jar.json`` then ``--cookie-jar jar.json``: the jar is saved into it (it was
    taken for an empty browser's cookies.txt, which corral never writes: the login lost)."""
    jar, urls = tmp_path / "jar.json", tmp_path / "urls.txt"
    jar.touch()
    urls.write_text(f"{site.url('/cookie/start')}\n")
    done = await acorral("fetch", str(urls), "-o", str(tmp_path / "o.db"), "--cookie-jar", str(jar))
    assert done.returncode == 0, done.stderr
    assert _TOKEN in jar.read_text()


async def _logged_in_store(site: Site, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Return a store whose run logged in (its jar beside it), and an input of one gated
    page."""
    out, urls = tmp_path / "f.db", tmp_path / "urls.txt"
    urls.write_text(f"{site.url('/cookie/start')}\n")
    first = await acorral("fetch", str(urls), "-o", str(out), "--cookies")
    assert first.returncode == 0, first.stderr
    jar = tmp_path / "f.db.cookies.json"
    assert _TOKEN in jar.read_text()
    urls.write_text(f"{site.url('/cookie/page/1')}\n")
    return out, jar, urls


@pytest.mark.parametrize("cookies", [True, False], ids=["cookies", "no-cookies"])
async def test_overwrite_starts_afresh_without_the_old_stores_jar(
    site: Site, tmp_path: Path, cookies: bool
) -> None:
    """``--overwrite`` starts the store afresh, and its jar beside it with it: the old run's
    cookies are not sent (a 401), the old jar is gone, and no note speaks of it (it was
    loaded and used, silently)."""
    out, jar, urls = await _logged_in_store(site, tmp_path)
    args = ["fetch", str(urls), "-o", str(out), "--overwrite"] + (["--cookies"] if cookies else [])
    done = await acorral(*args)
    assert done.returncode == 0, done.stderr
    assert _statuses(out) == {"/cookie/page/1": 401}
    assert not jar.exists() or _TOKEN not in jar.read_text()
    assert "cookies.json" not in done.stderr


@pytest.mark.parametrize("where", ["elsewhere", "beside"])
async def test_overwrite_loads_a_jar_named_with_cookie_jar(
    site: Site, tmp_path: Path, where: str
) -> None:
    """``--overwrite --cookie-jar FILE``: the user named the jar, so it is loaded (the store
    alone starts afresh), even when FILE is the one beside the store."""
    out, jar, urls = await _logged_in_store(site, tmp_path)
    if where == "elsewhere":
        jar = jar.rename(tmp_path / "login.json")
    args = ["fetch", str(urls), "-o", str(out), "--overwrite", "--cookie-jar", str(jar)]
    done = await acorral(*args)
    assert done.returncode == 0, done.stderr
    assert _statuses(out) == {"/cookie/page/1": 200}
    assert _TOKEN in json.dumps(json.loads(jar.read_text()))


async def test_a_refused_run_prints_no_note_first(site: Site, tmp_path: Path) -> None:
    """The note on a jar beside the store not used (no ``--cookies``) comes once the run is
    accepted: a run refused (here, ``--max-age`` without ``--refresh``; a store of the
    other kind) says its one error line alone."""
    out, _, urls = await _logged_in_store(site, tmp_path)
    done = await acorral("fetch", str(urls), "-o", str(out), "--max-age", "1d")
    assert done.returncode == 2
    assert done.stderr == (
        "corral: error: --max-age says which records --refresh fetches again: add --refresh\n"
    )
    crawled = await acorral("crawl", site.url("/cookie/start"), "-o", str(out))
    assert crawled.returncode == 2
    assert len(crawled.stderr.splitlines()) == 1, crawled.stderr
    assert "holds the results of a corral fetch" in crawled.stderr
