"""``corral export``: JSON columns as JSON values, items as CSV columns, streaming.

A store keeps some columns as JSON text (a result's ``headers``, an item's ``data``, a run's
``argv`` and ``summary``, a frontier row's ``request``); JSON lines carry them as the JSON
values they hold, not as strings of JSON. A CSV of items has one column per item key (the union
of keys, in first-seen order, as Scrapy's CSV exporter writes them), nested values as JSON text.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import corral
from corral.http import Page, open_crawler
from corral.http.store._export import export
from corral.testing import Site, SiteLayout, open_site

# What these tests check runs in a subprocess (the real command); the test body reads the
# files it wrote, which strict mode would (rightly) call blocking in library code.
pytestmark = pytest.mark.corral_guard(strict=False)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=40, chain_length=8, orphans=3)) as running:
        yield running


def _items(page: Page) -> list[dict[str, Any]]:
    item: dict[str, Any] = {"url": page.url, "depth": page.depth}
    if page.url.endswith("/site/3.html"):  # a key only some items have, with a nested value
        item["extra"] = {"tags": ["a", "b"], "n": 1}
    item["ok"] = True
    item["note"] = None
    return [item]


@pytest.fixture
async def store(site: Site, tmp_path: Path) -> Path:
    path = tmp_path / "c.db"
    crawler = open_crawler(store=path, parse=_items, max_pages=8, include=["/site/"])
    async with crawler:
        await crawler.run([site.url("/site/0.html")])
    return path


def run_corral(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def exported(store: Path, table: str) -> list[dict[str, Any]]:
    run = run_corral("export", str(store), "--table", table)
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def test_jsonl_results_carry_headers_as_an_object(store: Path) -> None:
    """A result's headers are a JSON object and ``ok`` a boolean, as in a fetch's JSON lines."""
    rows = exported(store, "results")
    fetched = [row for row in rows if row["status"] == 200]
    assert fetched
    for row in fetched:
        assert isinstance(row["headers"], dict)
        assert row["headers"]["Content-Type"].startswith("text/html")
        assert row["ok"] is True
    assert all(row["headers"] is None for row in rows if row["status"] is None)


def test_jsonl_items_carry_the_item_as_a_value(store: Path) -> None:
    """An item's ``data`` is the item itself, nested values and all."""
    rows = exported(store, "items")
    assert len(rows) == 8
    by_url = {row["url"]: row["data"] for row in rows}
    assert all(isinstance(data, dict) for data in by_url.values())
    third = next(data for url, data in by_url.items() if url.endswith("/site/3.html"))
    assert third["extra"] == {"tags": ["a", "b"], "n": 1}
    assert third["ok"] is True
    assert third["note"] is None


def test_jsonl_runs_carry_argv_and_summary_as_values(store: Path) -> None:
    """A run's ``argv`` is a list and its ``summary`` an object."""
    (run,) = exported(store, "runs")
    assert isinstance(run["argv"], list)
    assert isinstance(run["summary"], dict)


async def test_jsonl_urls_carry_a_request_as_an_object(site: Site, tmp_path: Path) -> None:
    """A frontier row's stored request (a POST with a JSON body) is a JSON object."""
    post = {"url": site.url("/echo"), "method": "POST", "json": {"q": [1, 2]}}
    (tmp_path / "in.jsonl").write_text(json.dumps(post) + "\n" + site.url("/page/1") + "\n")
    path = tmp_path / "f.db"
    fetched = await corral.to_thread(
        run_corral, "fetch", str(tmp_path / "in.jsonl"), "-o", str(path), "-q"
    )
    assert fetched.returncode == 0, fetched.stderr
    # (in a thread: a blocking subprocess.run on this loop stalled it under load, and the
    # guard rightly called that out)
    rows = {row["url"]: row for row in await corral.to_thread(exported, path, "urls")}
    assert rows[site.url("/echo")]["request"]["method"] == "POST"
    assert rows[site.url("/echo")]["request"]["json"] == {"q": [1, 2]}
    assert rows[site.url("/page/1")]["request"] is None


def test_csv_items_have_one_column_per_key(store: Path, tmp_path: Path) -> None:
    """The CSV of items has the union of the items' keys as columns, in first-seen order;
    a missing key is an empty cell, a nested value its JSON text, null an empty cell."""
    out = tmp_path / "items.csv"
    run = run_corral("export", str(store), "--table", "items", "--format", "csv", "-o", str(out))
    assert run.returncode == 0, run.stderr
    reader = csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))
    rows = list(reader)
    assert reader.fieldnames == ["url", "depth", "ok", "note", "extra"]
    assert len(rows) == 8
    third = next(row for row in rows if row["url"].endswith("/site/3.html"))
    assert json.loads(third["extra"]) == {"tags": ["a", "b"], "n": 1}
    assert (third["ok"], third["note"]) == ("true", "")
    others = [row for row in rows if row is not third]
    assert all(row["extra"] == "" for row in others)
    assert sorted(int(row["depth"]) for row in rows) == sorted(
        json.loads(line)["data"]["depth"]
        for line in run_corral("export", str(store), "--table", "items").stdout.splitlines()
    )


def test_export_streams_in_bounded_memory(tmp_path: Path) -> None:
    """Exporting 20,000 items (about 4 MB of JSON) as CSV and as JSON lines holds no more
    than a few rows at a time: Python's peak allocation stays far below the data's size."""
    path = tmp_path / "big.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, url_id INTEGER, url TEXT, "
            "data TEXT, run INTEGER)"
        )
        blob = "x" * 150
        conn.executemany(
            "INSERT INTO items (url_id, url, data, run) VALUES (?, ?, ?, 1)",
            ((i, f"u{i}", json.dumps({"i": i, "k": i % 7, "text": blob})) for i in range(20_000)),
        )
    for fmt in ("csv", "jsonl"):
        sink = _CountingSink()
        tracemalloc.start()
        try:
            written = export(str(path), table="items", fmt=fmt, out=sink)  # type: ignore[arg-type]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert written == 20_000
        assert sink.size > 3_000_000
        assert peak < 1_000_000, (fmt, peak)


class _CountingSink:
    """A text stream that counts what is written and keeps none of it."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text)
        return len(text)
