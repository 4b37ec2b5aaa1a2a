"""``--refresh`` through the other drivers: worker processes (``--workers 2``) and a Redis
job, against a real nginx. The validators travel with the request (its headers), the
comparison happens at the store's commit: each driver gets the 304s and the changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from corral_cli import run_corral
from nginx_server import NginxServer


def _changes(store: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(store)
    try:
        return conn.execute("SELECT DISTINCT status, change FROM results").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("how", ["workers", "redis"])
def test_refresh_through_workers_and_redis(
    nginx: NginxServer, tmp_path: Path, how: str, request: pytest.FixtureRequest
) -> None:
    """A refresh run by worker processes, or by a Redis job's local workers, sends the
    validators: every file answers 304 and is recorded ``not_modified``."""
    for n in range(20):
        (nginx.root / f"f{n}.txt").write_text(f"{n}\n")
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(nginx.url(f"f{n}.txt") + "\n" for n in range(20)))
    store = tmp_path / "s.db"
    if how == "workers":
        extra = ["--workers", "2"]
    else:
        extra = ["--redis", request.getfixturevalue("redis_url"), "--job", "again"]
    first = run_corral("fetch", str(urls), "-o", str(store), "-q", *extra)
    assert first.returncode == 0, first.stderr
    before = len(nginx.log_lines())

    again = run_corral("fetch", str(urls), "-o", str(store), "-q", "--refresh", *extra)

    assert again.returncode == 0, again.stderr
    assert {status for _, status, _, _ in nginx.log_lines()[before:]} == {304}
    assert _changes(store) == [(304, "not_modified")]
