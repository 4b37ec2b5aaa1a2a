"""The ``corral crawl`` job: the crawler with progress and a summary (export: ``_export.py``)."""

from __future__ import annotations

import importlib
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from corral._exceptions import InputError, UsageError
from corral.http._crawlconfig import CrawlConfig, ParseCallback
from corral.http._crawler import Crawler
from corral.http._progress import open_progress, render_summary
from corral.http._store import StoreError


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
            async with open_progress(crawler.statistics, mode=job.progress):
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
    return 1 if job.fail_on_error and stats.failed else 0
