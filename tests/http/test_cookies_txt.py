"""``--cookie-jar cookies.txt`` (a browser's export, never written): the cookies sites set
are saved beside it, loaded by the next run, and said so; an all-expired file is named
(issue 17, a new-user trial)."""

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


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


def _statuses(store: Path) -> list[int]:
    with sqlite3.connect(store) as conn:
        return [status for (status,) in conn.execute("select status from results")]


async def test_the_cookies_sites_set_are_kept_beside_a_cookies_txt(
    site: Site, tmp_path: Path
) -> None:
    """A run with a cookies.txt leaves it as it was, saves the jar (with the session the
    site set) to ``cookies.txt.corral.json``, says so in one note, and the next run with
    the same ``--cookie-jar cookies.txt`` loads that newer file: logged in."""
    cookies = tmp_path / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tlang\ten\n")
    before = cookies.read_bytes()
    login, page = tmp_path / "login.txt", tmp_path / "page.txt"
    login.write_text(f"{site.url('/cookie/start')}\n")
    page.write_text(f"{site.url('/cookie/page/1')}\n")
    saved = tmp_path / "cookies.txt.corral.json"

    first = await acorral(
        "fetch", str(login), "-o", str(tmp_path / "a.db"), "--cookie-jar", str(cookies)
    )

    assert first.returncode == 0, first.stderr
    assert cookies.read_bytes() == before
    assert "corral-test-session" in saved.read_text()
    assert json.loads(saved.read_text())["corral_cookie_jar"] == 1
    notes = [line for line in first.stderr.splitlines() if "note:" in line]
    assert notes == [
        (
            f"corral: note: --cookie-jar {cookies} is a cookies.txt, only read: the cookies "
            f"sites set are saved to {saved}, which later runs load instead while it is newer"
        )
    ], first.stderr
    second = await acorral(
        "fetch", str(page), "-o", str(tmp_path / "b.db"), "--cookie-jar", str(cookies)
    )
    assert second.returncode == 0, second.stderr
    assert _statuses(tmp_path / "b.db") == [200]


async def test_a_cookies_txt_whose_cookies_all_expired_is_named(site: Site, tmp_path: Path) -> None:
    """Every cookie of the file expired: one note says so (the pages' 401s have a cause)."""
    cookies = tmp_path / "cookies.txt"
    cookies.write_text(
        "127.0.0.1\tFALSE\t/\tFALSE\t1\tsession\told\n"
        "#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t2\tother\told\n"
    )
    page = tmp_path / "page.txt"
    page.write_text(f"{site.url('/cookie/page/1')}\n")

    done = await acorral(
        "fetch", str(page), "-o", str(tmp_path / "a.db"), "--cookie-jar", str(cookies)
    )

    assert done.returncode == 0, done.stderr
    assert f"corral: note: {cookies}: all 2 cookies expired\n" in done.stderr, done.stderr
