"""``--refresh``: a store's URLs fetched again with validators, against a real nginx.

nginx answers ``If-None-Match`` with 304 for a file it has not changed (its ETag is the
file's mtime and length), so each case is set up on the files themselves: left alone
(``not_modified``), rewritten with new bytes (``changed``), rewritten with the same bytes
and a new mtime (a 200 with the earlier digest: ``unchanged``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from corral_cli import run_corral
from nginx_server import NginxServer


def _site(nginx: NginxServer, count: int) -> Path:
    for n in range(count):
        (nginx.root / f"f{n}.txt").write_text(f"file {n}\n" * 20)
    urls = nginx.root.parent / "urls.txt"
    urls.write_text("".join(nginx.url(f"f{n}.txt") + "\n" for n in range(count)))
    return urls


def _query(store: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(store)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _bump(path: Path, text: str | None = None) -> None:
    """Rewrite a file (new bytes, or the same) with an mtime a minute later: a new ETag."""
    if text is not None:
        path.write_text(text)
    stat = path.stat()
    os.utime(path, (stat.st_atime + 60, stat.st_mtime + 60))


def test_refresh_sends_validators_and_sorts_what_changed(
    nginx: NginxServer, tmp_path: Path
) -> None:
    """A second run with --refresh sends each URL's ETag: untouched files answer 304
    (``not_modified``, no body sent, the earlier body and digest kept), a rewritten file is
    ``changed``, the same bytes under a new ETag are ``unchanged``; the earlier records move to
    ``history`` and ``records`` has one per URL per run."""
    urls = _site(nginx, 6)
    store = tmp_path / "s.db"
    first = run_corral("fetch", str(urls), "-o", str(store), "-q", "--save-bodies", "store")
    assert first.returncode == 0, first.stderr
    _bump(nginx.root / "f1.txt", "new text\n")
    _bump(nginx.root / "f2.txt", (nginx.root / "f2.txt").read_text())
    before = len(nginx.log_lines())

    second = run_corral(
        "fetch", str(urls), "-o", str(store), "--save-bodies", "store", "--refresh", "--no-progress"
    )

    assert second.returncode == 0, second.stderr
    assert "refreshed" in second.stderr, second.stderr
    assert "not_modified 4" in second.stderr, second.stderr
    served = {uri: (status, sent) for uri, status, sent, _ in nginx.log_lines()[before:]}
    assert served["/f0.txt"] == (304, 0)
    assert served["/f1.txt"][0] == 200
    assert served["/f2.txt"][0] == 200
    rows = {
        str(url).rsplit("/", 1)[1]: (status, change, body, sha)
        for url, status, change, body, sha in _query(
            store, "SELECT url, status, change, body, sha256 FROM results"
        )
    }
    assert {name: row[1] for name, row in rows.items()} == {
        "f0.txt": "not_modified",
        "f1.txt": "changed",
        "f2.txt": "unchanged",
        "f3.txt": "not_modified",
        "f4.txt": "not_modified",
        "f5.txt": "not_modified",
    }
    status, _, body, sha = rows["f0.txt"]
    assert status == 304
    assert body == b"file 0\n" * 20
    assert sha == _query(store, "SELECT sha256 FROM history WHERE url LIKE '%/f0.txt'")[0][0]
    assert rows["f1.txt"][2] == b"new text\n"
    assert _query(store, "SELECT count(*), count(DISTINCT id) FROM history") == [(6, 6)]
    # each body is stored once: not_modified moved it forward, unchanged replaced the copy
    assert _query(store, "SELECT count(*) FROM history WHERE body IS NOT NULL") == [(1,)]
    per_url = _query(store, "SELECT count(*) FROM records GROUP BY id")
    assert per_url == [(2,)] * 6
    runs = _query(store, "SELECT DISTINCT run FROM records ORDER BY run")
    assert runs == [(1,), (2,)]


def test_max_age_leaves_fresh_records_alone(nginx: NginxServer, tmp_path: Path) -> None:
    """``--max-age`` fetches again only records older than the age: right after a run,
    nothing; records dated two days back (set in the store), every one."""
    urls = _site(nginx, 3)
    store = tmp_path / "s.db"
    assert run_corral("fetch", str(urls), "-o", str(store), "-q").returncode == 0
    before = len(nginx.log_lines())

    fresh = run_corral("fetch", str(urls), "-o", str(store), "-q", "--refresh", "--max-age", "1h")
    assert fresh.returncode == 0, fresh.stderr
    assert len(nginx.log_lines()) == before

    conn = sqlite3.connect(store)
    with conn:
        conn.execute("UPDATE results SET fetched_at = '2020-01-01T00:00:00.000+00:00'")
    conn.close()
    stale = run_corral("fetch", str(urls), "-o", str(store), "-q", "--refresh", "--max-age", "1d")
    assert stale.returncode == 0, stale.stderr
    assert len(nginx.log_lines()) == before + 3
    assert _query(store, "SELECT DISTINCT change FROM results") == [("not_modified",)]


def test_refresh_into_json_lines(nginx: NginxServer, tmp_path: Path) -> None:
    """A JSON lines output gains a line per URL fetched again, each with its change; the
    state file keeps the validators the next refresh sends."""
    urls = _site(nginx, 2)
    out = tmp_path / "out.jsonl"
    assert run_corral("fetch", str(urls), "-o", str(out), "-q").returncode == 0
    again = run_corral("fetch", str(urls), "-o", str(out), "-q", "--refresh")
    assert again.returncode == 0, again.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["change"] for line in lines] == [None, None, "not_modified", "not_modified"]
    assert lines[2]["sha256"] == next(x["sha256"] for x in lines[:2] if x["url"] == lines[2]["url"])


def test_refresh_usage_errors(tmp_path: Path) -> None:
    """``--max-age`` without ``--refresh``, and ``--refresh`` into stdout, are usage errors."""
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:9/\n")
    alone = run_corral("fetch", str(urls), "-o", str(tmp_path / "s.db"), "--max-age", "1d")
    assert alone.returncode == 2
    assert "add --refresh" in alone.stderr
    piped = run_corral("fetch", str(urls), "-o", "-", "--refresh")
    assert piped.returncode == 2
    assert "not -o -" in piped.stderr
    bad = run_corral("fetch", str(urls), "--refresh", "--max-age", "soon")
    assert bad.returncode == 2
    assert "not an age" in bad.stderr


def test_refresh_into_a_store_not_there_yet_says_so(nginx: NginxServer, tmp_path: Path) -> None:
    """``--refresh`` or ``--retry-failed`` on a store that does not exist (a first run of a
    scheduled command, or a mistyped path) fetches everything, and says in one line that
    there was nothing to fetch again; ``-q`` leaves it out, and the next run says nothing."""
    urls = _site(nginx, 2)
    for flag in ("--refresh", "--retry-failed"):
        store = tmp_path / f"new{flag}.db"
        first = run_corral("fetch", str(urls), "-o", str(store), flag)
        assert first.returncode == 0, first.stderr
        notes = [line for line in first.stderr.splitlines() if "note:" in line]
        note = (
            f"corral: note: {store} does not exist yet: {flag} has nothing to fetch again, "
            "so this is a first run"
        )
        assert notes == [note]
        assert _query(store, "select count(*) from results where ok") == [(2,)]
        again = run_corral("fetch", str(urls), "-o", str(store), flag)
        assert again.returncode == 0, again.stderr
        assert "note:" not in again.stderr
    quiet = run_corral("fetch", str(urls), "-o", str(tmp_path / "q.db"), "-q", "--refresh")
    assert (quiet.returncode, quiet.stderr) == (0, "")


def test_crawl_refresh_into_a_store_not_there_yet_says_so(
    nginx: NginxServer, tmp_path: Path
) -> None:
    """The same for a crawl."""
    _site(nginx, 1)
    store = tmp_path / "crawl.db"
    first = run_corral("crawl", nginx.url("f0.txt"), "-o", str(store), "--refresh")
    assert first.returncode == 0, first.stderr
    note = (
        f"corral: note: {store} does not exist yet: --refresh has nothing to fetch again, "
        "so this is a first run"
    )
    assert [line for line in first.stderr.splitlines() if "note:" in line] == [note]
