"""The ``corral crawl`` job and ``corral export``: the crawler with progress, and the store out."""

from __future__ import annotations

import base64
import csv
import importlib
import json
import shlex
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from corral._exceptions import InputError, UsageError
from corral.http._crawlconfig import CrawlConfig, ParseCallback
from corral.http._crawler import Crawler
from corral.http._interrupt import stoppable
from corral.http._progress import open_progress, render_summary
from corral.http._store import TABLES, StoreError, rows_of


@dataclass(frozen=True, slots=True, kw_only=True)
class CrawlJob:
    """One ``corral crawl`` invocation."""

    seeds: Sequence[str]
    store: str
    config: CrawlConfig
    parse: str | None = None
    progress: Literal["auto", "bar", "plain", "off"] = "auto"
    quiet: bool = False
    fail_on_error: bool = False
    argv: Sequence[str] = ()


def load_callback(spec: str) -> ParseCallback:
    """Return the function named by ``module:function`` (``--parse``).

    Raises:
        UsageError: the spec is malformed, or names nothing callable.
    """
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise UsageError(f"--parse {spec!r}: expected MODULE:FUNCTION")
    sys.path.insert(0, ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--parse {spec!r}: cannot import {module_name}: {exc}") from None
    finally:
        sys.path.pop(0)
    function = getattr(module, name, None)
    if not callable(function):
        raise UsageError(f"--parse {spec!r}: {module_name} has no function {name}")
    return function  # type: ignore[no-any-return]


async def run_crawl_job(job: CrawlJob) -> int:
    """Crawl to the end (or to Ctrl-C) and return the exit code."""
    parse = load_callback(job.parse) if job.parse else None
    crawler = Crawler(job.config, store=job.store, parse=parse, argv=job.argv)
    finished = False
    try:
        try:
            await crawler.__aenter__()
        except StoreError as exc:
            raise InputError(str(exc)) from None
        try:
            async with open_progress(crawler.statistics, mode=job.progress), stoppable():
                await crawler.run(job.seeds)
            finished = True
        finally:
            await crawler.__aexit__(None, None, None)
    finally:
        stats = crawler.statistics()
        resume = None if finished else shlex.join(job.argv)
        if not job.quiet or not finished:
            print(
                render_summary(stats, store_kind="sqlite", resume_command=resume), file=sys.stderr
            )
            skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(crawler.skipped.items()))
            if skipped:
                print(f"  not fetched: {skipped} (recorded, see error_kind)", file=sys.stderr)
    return 1 if job.fail_on_error and stats.failed else 0


def export(store: str, *, table: str, fmt: Literal["jsonl", "csv"], out: IO[str]) -> int:
    """Write a store's table as JSON lines or CSV; return how many rows were written.

    Raises:
        InputError: the store cannot be read, or has no such table.
    """
    if table not in TABLES:
        raise UsageError(f"--table must be one of {', '.join(TABLES)}, not {table!r}")
    if not Path(store).is_file():
        raise InputError(f"cannot read store {store}: no such file")
    written = 0
    writer: Any = None
    try:
        for row in rows_of(store, table):
            row = {k: _plain(v) for k, v in row.items()}
            if fmt == "jsonl":
                out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
            else:
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
            written += 1
    except sqlite3.DatabaseError as exc:
        raise InputError(f"cannot read store {store}: {exc}") from None
    return written


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value
