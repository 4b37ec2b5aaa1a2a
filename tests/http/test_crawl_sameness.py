"""A store resumes its own crawl only: another crawl on the same ``-o`` is refused.

``corral crawl SITE --parse a:f -o x.db`` then ``corral crawl OTHER --parse b:g -o x.db`` was
taken as a resume: the second site's pages and the second callback's items went into the
first crawl's tables. Now the seeds, the callback and the scope are the crawl's identity: a
run with another one exits 2 with one line naming the difference, before it records
anything; how to crawl (``--concurrency``, ``--max-pages``, ...) may change on a resume, and
``--overwrite`` starts afresh.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import ENV

import corral
from corral.http import StoreError, open_crawler
from corral.testing import Site, SiteLayout, open_site

pytestmark = pytest.mark.corral_guard(strict=False)  # commands run in subprocesses

CALLBACKS = """\
def a(page):
    return [{"by": "a", "url": page.url}]


def b(page):
    return [{"by": "b", "url": page.url}]
"""


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=10)) as running:
        yield running


async def crawl(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    def run() -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "corral", "crawl", *args, "--no-progress"]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False, cwd=cwd, env=ENV
        )

    return await corral.to_thread(run)


async def contents(store: Path) -> tuple[int, set[str]]:
    """Return the store's runs and which callbacks made its items."""

    def read() -> tuple[int, set[str]]:
        with sqlite3.connect(store) as conn:
            runs = conn.execute("select count(*) from runs").fetchone()[0]
            items = {json.loads(d)["by"] for (d,) in conn.execute("select data from items")}
        return runs, items

    return await corral.to_thread(read)


@pytest.mark.parametrize(
    ("change", "line"),
    [
        pytest.param(
            ["--parse", "shop:b"],
            "(--parse shop:a; this command: --parse shop:b)",
            id="parse",
        ),
        pytest.param(
            ["--parse", "shop:a", "--ignore-robots"],
            "(without --ignore-robots; this command: with --ignore-robots)",
            id="robots",
        ),
        pytest.param(
            ["--parse", "shop:a", "--scope", "domain"],
            "(--scope host; this command: --scope domain)",
            id="scope",
        ),
    ],
)
async def test_another_crawl_on_the_store_is_refused_in_one_line(
    site: Site, tmp_path: Path, change: list[str], line: str
) -> None:
    """Another callback or scope on the same store: exit 2, one line naming the difference
    and the ways out; the store is as the first crawl left it (no run, no item added)."""
    await corral.to_thread((tmp_path / "shop.py").write_text, CALLBACKS)
    seed = site.url("/site/0.html")
    first = await crawl(tmp_path, seed, "-o", "x.db", "--parse", "shop:a")
    assert first.returncode == 0, first.stderr
    before = await contents(tmp_path / "x.db")
    other = await crawl(tmp_path, seed, "-o", "x.db", *change)
    assert other.returncode == 2, other.stderr
    assert other.stderr == (
        f"corral: error: x.db holds another crawl {line}: give this one another -o, or "
        "--overwrite to replace that one (its own command resumes it)\n"
    )
    assert await contents(tmp_path / "x.db") == before == (1, {"a"})


async def test_other_seeds_are_refused_and_overwrite_starts_afresh(
    site: Site, tmp_path: Path
) -> None:
    """Other seeds: refused, naming both; with ``--overwrite`` the new crawl replaces the
    store (its items only)."""
    await corral.to_thread((tmp_path / "shop.py").write_text, CALLBACKS)
    one, two = site.url("/site/0.html"), site.url("/site/5.html")
    assert (await crawl(tmp_path, one, "-o", "x.db", "--parse", "shop:a")).returncode == 0
    other = await crawl(tmp_path, two, "-o", "x.db", "--parse", "shop:b")
    assert other.returncode == 2
    assert f"(seeds {one}; this command: seeds {two})" in other.stderr
    fresh = await crawl(tmp_path, two, "-o", "x.db", "--parse", "shop:b", "--overwrite")
    assert fresh.returncode == 0, fresh.stderr
    assert await contents(tmp_path / "x.db") == (1, {"b"})


async def test_how_to_crawl_may_change_on_a_resume(site: Site, tmp_path: Path) -> None:
    """The same crawl with other politeness, a bigger budget or its seeds in another order
    resumes: exit 0, a second run, the same callback's items."""
    await corral.to_thread((tmp_path / "shop.py").write_text, CALLBACKS)
    one, two = site.url("/site/0.html"), site.url("/site/1.html")
    args = ["-o", "x.db", "--parse", "shop:a", "--max-pages", "3"]
    assert (await crawl(tmp_path, one, two, *args)).returncode == 0
    again = await crawl(
        tmp_path, two, one, "-o", "x.db", "--parse", "shop:a", "--max-pages", "8",
        "--concurrency", "4", "--per-host", "2", "--rate", "50/s", "--workers", "2",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert await contents(tmp_path / "x.db") == (2, {"a"})


async def test_open_crawler_refuses_another_crawls_store(site: Site, tmp_path: Path) -> None:
    """The Python API: ``crawl`` with other seeds on a store raises ``StoreError``; a resume
    with the same seeds after it is not taken for the resume of a run interrupted."""
    store = tmp_path / "x.db"
    seed = site.url("/site/0.html")
    async with open_crawler(store=store, max_pages=2) as crawler:
        await crawler.run([seed])
    async with open_crawler(store=store) as crawler:
        with pytest.raises(StoreError, match=r"holds another crawl \(seeds "):
            await crawler.run([site.url("/site/5.html")])
    async with open_crawler(store=store, max_pages=2) as crawler:
        await crawler.run([seed])

    def statuses() -> list[str]:
        with sqlite3.connect(store) as conn:
            return [row[0] for row in conn.execute("select status from runs order by id")]

    assert await corral.to_thread(statuses) == ["finished", "refused", "finished"]
