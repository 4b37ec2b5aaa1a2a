"""Bad flags as a new user gave them (issue 17, a new-user trial): each is one line, exit 2,
before anything is opened or written, with no advice that cannot work.

The URL is port 9 of the loopback, where nothing answers: a flag refused too late would
leave a store (a run recorded as failed or killed) beside the test.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from corral_cli import run_corral

_NOWHERE = "http://127.0.0.1:9/\n"
_SIDES = ("-wal", "-shm", ".lock", ".corral-state")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each command in the test's directory, and leave the process's as it was (a test
    that changed it moved every later test's relative paths)."""
    monkeypatch.chdir(tmp_path)


def _refused(tmp_path: Path, *args: str, command: str = "fetch") -> str:
    """Run a command that must be refused; return its one line (checked: exit 2, the
    store not made)."""
    (tmp_path / "urls.txt").write_text(_NOWHERE)
    where = ["urls.txt"] if command == "fetch" else ["http://127.0.0.1:9/"]
    output = [] if "-o" in args else ["-o", "d.db"]
    done = run_corral(command, *where, *output, "-q", *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert not any((tmp_path / f"d.db{side}").exists() for side in ("", *_SIDES))
    return lines[0]


def _accepted(tmp_path: Path, *args: str) -> None:
    (tmp_path / "urls.txt").write_text(_NOWHERE)
    done = run_corral("fetch", "urls.txt", "-o", "d.db", "-q", "--retries", "0", *args)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(
            ["--save-bodies", "afile"], "--save-bodies afile: a file, not a directory", id="file"
        ),
        pytest.param(["--save-bodies", "d.db"], "--save-bodies d.db is the output", id="store"),
        pytest.param(["--save-bodies", "d.db-wal"], "is a file of the output d.db", id="store-wal"),
        pytest.param(
            ["--save-bodies", "afile/sub"], "afile is a file, not a directory", id="under-file"
        ),
        pytest.param(["--bodies-dir", "x"], "--bodies-dir x: add --save-bodies dir", id="alone"),
        pytest.param(
            ["--save-bodies", "store", "--bodies-dir", "x"],
            "--save-bodies store keeps the bodies in the store",
            id="with-store",
        ),
    ],
)
def test_a_bodies_directory_that_cannot_work_is_refused_first(
    tmp_path: Path, args: list[str], said: str
) -> None:
    """``--save-bodies afile`` fetched, then died writing ``afile/b9/...`` (a failed run,
    the responses dropped); ``--bodies-dir x`` without ``--save-bodies dir`` was ignored."""
    (tmp_path / "afile").write_text("mine\n")
    line = _refused(tmp_path, *args)
    assert said in line, line
    assert (tmp_path / "afile").read_text() == "mine\n"
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("word", ["NONE", "None", "STORE"])
def test_the_words_of_save_bodies_are_taken_in_any_case(tmp_path: Path, word: str) -> None:
    """``--save-bodies NONE`` made a directory named NONE: the words are words in any case
    (a directory so named is ``./NONE``)."""
    _accepted(tmp_path, "--save-bodies", word)
    assert not (tmp_path / word).exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(["--refresh", "--max-age", "99999999999d"], "--max-age", id="days"),
        pytest.param(["--refresh", "--max-age", "3000000w"], "--max-age", id="weeks"),
        pytest.param(["--refresh", "--max-age", "-1d"], "cannot be negative", id="negative"),
        pytest.param(["--max-bytes", "0.5"], "at least 1 byte", id="half-a-byte"),
        pytest.param(["--max-bytes", "9" * 400 + "G"], "--max-bytes: too large", id="huge-size"),
        pytest.param(
            ["--refresh", "--overwrite"], "--refresh fetches again what the store", id="overwrite"
        ),
    ],
)
@pytest.mark.parametrize("command", ["fetch", "crawl"])
def test_an_age_out_of_range_is_refused_as_parsed(
    tmp_path: Path, args: list[str], said: str, command: str
) -> None:
    """A huge ``--max-age`` was a traceback after the store opened (the run left killed or
    running); ``-1d`` was "expected one argument"; ``--refresh --overwrite`` wiped the
    history it was to refresh."""
    line = _refused(tmp_path, *args, command=command)
    assert said in line, line
    assert "99999999999" not in line or "at most" in line, line


@pytest.mark.parametrize("flag", [["--max-bytes", "1.5k"], ["--max-age", "1.5d", "--refresh"]])
def test_decimals_are_taken_by_sizes_and_ages_alike(tmp_path: Path, flag: list[str]) -> None:
    """``--max-age 1.5d`` was taken and ``--max-bytes 1.5G`` refused."""
    _accepted(tmp_path, *flag)


@pytest.mark.parametrize(
    ("proxy", "said"),
    [
        pytest.param(
            "http://bob:p@ss#x@127.0.0.1:18802", "written percent-encoded", id="at-and-hash"
        ),
        pytest.param("http://bob:pass@127.0.0.1:18802#x", "written percent-encoded", id="hash"),
        pytest.param("http://u:pw@127.0.0.1:99999", "port 99999", id="port"),
        pytest.param("http://u:pw@", "no host", id="no-host"),
        pytest.param("http://u:pw@127.0.0.1:", "no port after", id="empty-port"),
        pytest.param("socks5://127.0.0.1:", "no port after", id="empty-socks-port"),
        pytest.param(
            "socks5h://127.0.0.1:1080", "socks5:// already resolves host names", id="socks5h"
        ),
    ],
)
def test_a_proxy_url_that_parses_two_ways_is_refused(tmp_path: Path, proxy: str, said: str) -> None:
    """``p@ss#x`` as a password was taken as the host ``ss``, its tail shown; a bad port
    was told to percent-encode its password."""
    line = _refused(tmp_path, "--proxy", proxy)
    assert said in line, line
    assert ("percent-encoded" in line) == (said == "written percent-encoded"), line
    for secret in ("p@ss", "ss#x", ":pass", ":pw"):
        assert secret not in line, line


@pytest.mark.parametrize(
    ("jar", "said"),
    [
        pytest.param(
            '{"corral_cookie_jar": 1, "hosts": {"x": 5}}', 'host "x": not an object', id="host"
        ),
        pytest.param('{"corral_cookie_jar": 1, "hosts": 5}', '"hosts": not an object', id="hosts"),
        pytest.param('{"corral_cookie_jar": 2, "hosts": {}}', "made by a newer corral", id="newer"),
        pytest.param("[1]", "not a corral cookie jar", id="list"),
    ],
)
def test_a_jar_that_is_wrong_says_what_and_where(tmp_path: Path, jar: str, said: str) -> None:
    """``{"hosts": {"x": 5}}`` said "('int' object has no attribute 'items')"; a jar of a
    newer format said 'no "corral_cookie_jar": 1'."""
    (tmp_path / "jar.json").write_text(jar)
    line = _refused(tmp_path, "--cookie-jar", "jar.json")
    assert said in line, line
    assert "jar.json" in line, line
    assert "attribute" not in line, line


def test_an_empty_jar_path_is_said_to_be_empty(tmp_path: Path) -> None:
    """``--cookie-jar ""`` said "cannot read it: Is a directory"."""
    assert "--cookie-jar: the path is empty" in _refused(tmp_path, "--cookie-jar", "")


def test_a_cookies_txt_with_a_bom_is_read(tmp_path: Path) -> None:
    """Notepad saves UTF-8 with a byte order mark: line 1 was "neither ... nor ..."."""
    line = "127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tabc\n"
    (tmp_path / "cookies.txt").write_bytes(b"\xef\xbb\xbf" + line.encode())
    _accepted(tmp_path, "--cookie-jar", "cookies.txt")
    jar = tmp_path / "jar.json"
    jar.write_bytes(b"\xef\xbb\xbf" + json.dumps({"corral_cookie_jar": 1, "hosts": {}}).encode())
    _accepted(tmp_path, "--cookie-jar", "jar.json", "--overwrite")


def test_status_of_a_store_points_at_report(tmp_path: Path) -> None:
    """``corral status a.db`` said "--job is required"."""
    done = run_corral("status", "a.db")
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "corral report a.db" in done.stderr
    assert "Redis" in done.stderr


def test_reading_a_store_leaves_no_wal_or_shm(tmp_path: Path) -> None:
    """``corral report STORE`` and ``corral export`` left ``STORE-wal`` and ``STORE-shm``."""
    _accepted(tmp_path)
    assert not (tmp_path / "d.db-wal").exists()
    for args in (["export", "d.db", "-o", "out.jsonl"], ["report", "d.db"]):
        done = run_corral(*args)
        assert done.returncode == 0, done.stderr
        left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("d.db-"))
        assert left == [], (args, left)
    with sqlite3.connect(tmp_path / "d.db") as conn:
        assert conn.execute("select count(*) from results").fetchone() == (1,)


def test_a_reader_leaves_a_running_writer_its_files(tmp_path: Path) -> None:
    """A reader that closes while a writer holds the store leaves the WAL to the writer
    (the last to close cleans up): the writer commits on, and nothing is lost."""
    from corral.http.store._reading import open_reader

    store = str(tmp_path / "w.db")
    writer = sqlite3.connect(store)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("CREATE TABLE t (n INTEGER)")
    writer.execute("INSERT INTO t VALUES (1)")
    writer.commit()
    reader = open_reader(store)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (1,)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("INSERT INTO t VALUES (2)")
    reader.close()
    assert Path(f"{store}-wal").exists()
    writer.execute("INSERT INTO t VALUES (3)")
    writer.commit()
    writer.close()
    assert not Path(f"{store}-wal").exists()
    with sqlite3.connect(store) as conn:
        assert conn.execute("SELECT n FROM t ORDER BY n").fetchall() == [(1,), (3,)]
    conn.close()
