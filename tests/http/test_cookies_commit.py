"""A record whose response changed the cookie jar is never in the store before that jar is
on disk (issue 17, a new-user trial): the record of a login page committed at once, the
jar only every 2 s, so a ``kill -9`` in between left a store that said the login page was
done and no jar that held its cookie; the resume never fetched the login page again and
recorded every other page as a 401.

The test site's cookie area: ``/cookie/start`` sets ``session`` and links to five pages that
answer 401 without it.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import pytest
from corral_cli import COMMAND, acorral, children

from corral import to_thread
from corral.testing import Site, open_site

# The CLI's tests read and write their small files on the loop (as test_fetch_cli.py does).
pytestmark = pytest.mark.corral_guard(strict=False)

_PAGES = [f"/cookie/page/{n}" for n in range(1, 6)]


def _recorded(store: Path) -> dict[str, int | None]:
    """Return the store's records of the cookie area (path: status), read-only."""
    if not store.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
            rows = conn.execute("select url, status from results where url like '%/cookie/%'")
            return {"/" + url.split("/", 3)[3]: status for url, status in rows}
    except sqlite3.DatabaseError:  # (the store is being made: no table yet)
        return {}


async def _recorded_start(store: Path, run: asyncio.subprocess.Process) -> None:
    """Return once the store holds the record of ``/cookie/start`` (polled: no event crosses
    from the run's process to this one)."""
    while "/cookie/start" not in await to_thread(_recorded, store):
        if run.returncode is not None:
            raise AssertionError(f"the run ended (exit {run.returncode}) before the record")
        await asyncio.sleep(0.005)


async def _ended(pids: list[int]) -> None:
    """Return once no process of ``pids`` is left (polled in /proc: no event says so)."""
    while True:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("command", ["crawl", "fetch"])
@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "workers-2"])
async def test_a_kill_9_right_after_the_login_record_keeps_the_login(
    tmp_path: Path, command: str, workers: int
) -> None:
    """``--cookies``, SIGKILL as soon as the record of the page that set the cookie is in the
    store (well before the every-2-s save): the jar beside the store already holds the
    cookie, and the resumed run's pages all answer 200, not 401."""
    out = tmp_path / "c.db"
    async with open_site() as site:
        if command == "crawl":
            source = site.url("/cookie/start")
        else:
            urls = tmp_path / "urls.txt"
            urls.write_text("".join(f"{site.url(p)}\n" for p in ["/cookie/start", *_PAGES]))
            source = str(urls)
        args = [command, source, "-o", str(out), "--cookies", "--workers", str(workers)]
        # (one request to the site every 2 s: the kill comes before the second)
        run = await asyncio.create_subprocess_exec(
            *COMMAND, *args, "--rate", "1/2s", stderr=asyncio.subprocess.PIPE
        )
        helpers: list[int] = []
        try:
            await asyncio.wait_for(_waited_start(site, run, out, helpers, workers), 30)
        finally:
            if run.returncode is None:
                run.kill()
            await run.communicate()
        assert run.returncode == -signal.SIGKILL
        assert "/cookie/page/5" not in _recorded(out)  # (killed before the end)
        assert "corral-test-session" in (tmp_path / "c.db.cookies.json").read_text()
        await asyncio.wait_for(_ended(helpers), 30)  # (they end with their pipe)
        again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    recorded = _recorded(out)
    assert recorded == {"/cookie/start": 200, **dict.fromkeys(_PAGES, 200)}


async def _waited_start(
    site: Site, run: asyncio.subprocess.Process, out: Path, helpers: list[int], workers: int
) -> None:
    """Wait for the login page's record; note the worker processes (to wait for their end)."""
    if workers > 1:
        await site.wait_until(lambda s: s.by_prefix.get("/cookie", 0) >= 1)
        helpers.extend(children(run.pid, "corral.http."))
    await _recorded_start(out, run)
