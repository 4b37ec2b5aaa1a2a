"""A store written by corral before issue 17 (schema 1) opens, is migrated to schema 2 in
place, and refreshes: its records keep their place in ``results`` and their ETags (read from
the headers it stored) are sent, so an unchanged file answers 304.

``V1_SCHEMA`` is schema 1 as corral wrote it (``src/corral/http/store/_schema.py`` before
this change, copied verbatim): the test makes such a store as that corral did.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path

from corral_cli import run_corral
from nginx_server import NginxServer

V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    argv TEXT,
    summary TEXT,
    pid INTEGER,
    hostname TEXT
);
CREATE TABLE IF NOT EXISTS urls (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    host TEXT NOT NULL,
    request TEXT,
    invalid TEXT,
    depth INTEGER NOT NULL DEFAULT 0,
    found_on TEXT,
    state INTEGER NOT NULL DEFAULT 0,
    run INTEGER NOT NULL,
    lease_until REAL,
    lease_run INTEGER
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    url_id INTEGER NOT NULL REFERENCES urls (id),
    url TEXT NOT NULL,
    data TEXT NOT NULL,
    run INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS parked (
    id INTEGER PRIMARY KEY REFERENCES urls (id),
    url TEXT NOT NULL,
    depth INTEGER NOT NULL,
    content_type TEXT,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY REFERENCES urls (id),
    url TEXT NOT NULL,
    final_url TEXT,
    status INTEGER,
    ok INTEGER NOT NULL,
    error_kind TEXT,
    error TEXT,
    attempts INTEGER NOT NULL,
    elapsed_ms REAL NOT NULL,
    fetched_at TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    content_type TEXT,
    headers TEXT,
    sha256 TEXT,
    body BLOB,
    body_path TEXT,
    method TEXT NOT NULL,
    depth INTEGER NOT NULL,
    found_on TEXT,
    run INTEGER NOT NULL
);
"""


def _v1_store(path: Path, nginx: NginxServer, names: list[str]) -> None:
    """Write a finished schema-1 fetch store holding a 200 record of each file."""
    conn = sqlite3.connect(path)
    with conn:
        conn.executescript(V1_SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('job', 'fetch')")
        conn.execute(
            "INSERT INTO runs (id, started_at, finished_at, status, argv, summary) VALUES "
            "(1, '2026-11-01T00:00:00+00:00', '2026-11-01T00:00:09+00:00', 'finished', ?, '{}')",
            (json.dumps(["corral", "fetch"]),),
        )
        for ident, name in enumerate(names, 1):
            url = nginx.url(name)
            with urllib.request.urlopen(url, timeout=5) as response:
                body, headers = response.read(), dict(response.headers)
            conn.execute(
                "INSERT INTO urls (id, key, url, host, state, run) VALUES (?, ?, ?, ?, 1, 1)",
                (ident, url, url, f"127.0.0.1:{nginx.port}"),
            )
            conn.execute(
                "INSERT INTO results (id, url, final_url, status, ok, attempts, elapsed_ms, "
                "fetched_at, bytes, content_type, headers, sha256, body, method, depth, run) "
                "VALUES (?, ?, ?, 200, 1, 1, 1.0, '2026-11-01T00:00:01.000+00:00', ?, "
                "'text/plain', ?, ?, ?, 'GET', 0, 1)",
                (ident, url, url, len(body), json.dumps(headers), _sha(body), body),
            )
    conn.close()


def _sha(body: bytes) -> str:
    import hashlib

    return hashlib.sha256(body).hexdigest()


def test_a_schema_1_store_is_migrated_and_refreshed(nginx: NginxServer, tmp_path: Path) -> None:
    """``corral fetch --refresh`` on a schema-1 store migrates it (schema 2, the validators
    filled from the stored headers) and sends them: nginx answers 304 for each file."""
    names = ["a.txt", "b.txt"]
    for name in names:
        (nginx.root / name).write_text(f"{name}\n" * 10)
    store = tmp_path / "old.db"
    _v1_store(store, nginx, names)
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(nginx.url(name) + "\n" for name in names))
    before = len(nginx.log_lines())

    done = run_corral("fetch", str(urls), "-o", str(store), "-q", "--refresh")

    assert done.returncode == 0, done.stderr
    assert [status for _, status, _, _ in nginx.log_lines()[before:]] == [304, 304]
    conn = sqlite3.connect(store)
    try:
        assert conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == (
            "2",
        )
        changes = conn.execute("SELECT change, body IS NOT NULL FROM results").fetchall()
        assert changes == [("not_modified", 1), ("not_modified", 1)]
        assert conn.execute("SELECT count(*), min(etag) IS NOT NULL FROM history").fetchone() == (
            2,
            1,
        )
    finally:
        conn.close()
    exported = run_corral("export", str(store), "--table", "records")
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 4


def test_a_schema_1_store_exports_unopened(nginx: NginxServer, tmp_path: Path) -> None:
    """``corral export`` reads a schema-1 store without migrating it (a read-only look):
    its results, and its items (none there: no replaced_in column to filter on)."""
    (nginx.root / "a.txt").write_text("a\n")
    store = tmp_path / "old.db"
    _v1_store(store, nginx, ["a.txt"])
    results = run_corral("export", str(store))
    assert results.returncode == 0, results.stderr
    assert json.loads(results.stdout)["status"] == 200
    refused = run_corral("export", str(store), "--table", "items")
    assert refused.returncode == 2  # (a fetch stores no items: said in one line)
    with sqlite3.connect(store) as conn:  # as a crawl of those days would have it
        conn.execute("UPDATE meta SET value = 'crawl' WHERE name = 'job'")
    conn.close()
    items = run_corral("export", str(store), "--table", "items")
    assert items.returncode == 0, items.stderr
    assert items.stdout == ""
