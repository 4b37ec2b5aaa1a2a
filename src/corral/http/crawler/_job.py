"""The ``corral crawl`` job: the crawler with progress and a summary (export: ``_export.py``)."""

from __future__ import annotations

import functools
import importlib
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from corral import to_thread
from corral._exceptions import OutputError, UsageError
from corral.http.crawler._config import CrawlConfig, ParseCallback
from corral.http.crawler._crawler import Crawler
from corral.http.pipeline._interrupt import stoppable
from corral.http.report._progress import open_progress, render_summary
from corral.http.store._faults import StoreError
from corral.http.store._output import prepare_output


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
    overwrite: bool = False  # replace an existing file that is not this crawl's store


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
    """Crawl to the end (or to Ctrl-C) and return the exit code.

    Raises:
        OutputError: the store cannot be used, or failed on its files (a full disk...).
    """
    parse = load_callback(job.parse) if job.parse else None
    await to_thread(functools.partial(prepare_output, job.store, "sqlite", overwrite=job.overwrite))
    crawler = Crawler(job.config, store=job.store, parse=parse, argv=job.argv)
    try:
        await crawler.__aenter__()
    except StoreError as exc:  # nothing ran: the error alone, no summary (issue 12, item 18)
        raise OutputError(str(exc)) from None
    earlier = crawler.store().earlier
    if earlier is not None and not job.quiet:
        print(f"corral: {earlier.note()}", file=sys.stderr)
    finished = False
    fault: StoreError | None = None
    try:
        try:
            async with open_progress(crawler.statistics, mode=job.progress), stoppable():
                await crawler.run(job.seeds)
            finished = True
        except StoreError as exc:  # the store failed: its one line says all (no summary)
            fault = exc
        finally:
            fault = await _close(crawler, fault)
    finally:
        stats = crawler.statistics()
        if fault is None and (not job.quiet or not finished):
            resume = None if finished else shlex.join(job.argv)
            print(
                render_summary(stats, store_kind="sqlite", resume_command=resume), file=sys.stderr
            )
            for line in _notes(crawler, job.config):
                print(line, file=sys.stderr)
    if fault is not None:
        raise OutputError(str(fault))
    return 1 if job.fail_on_error and stats.failed else 0


async def _close(crawler: Crawler, fault: StoreError | None) -> StoreError | None:
    """Close the crawler; return the fault that ended the crawl, or the one closing met (a
    store deleted during the crawl is noticed here at the latest)."""
    try:
        await crawler.__aexit__(None, None, None)
    except StoreError as exc:
        return fault or exc
    return fault


def _notes(crawler: Crawler, config: CrawlConfig) -> list[str]:
    """Return the summary's lines on parse errors and on the trap guards' depth bound."""
    lines = []
    if config.max_depth is None and config.trap_guards and crawler.skipped.get("max_depth", 0):
        lines.append(
            f"  max_depth: the trap guards stop {config.depth_bound} links from a seed "
            "(--max-depth N or --no-trap-guards to go further)"
        )
    if crawler.parse_errors:
        lines.append(
            f"  parse errors {crawler.parse_errors:,} (the parse callback raised: error_kind "
            "parse_error, links followed, no items); the first:"
        )
        first = crawler.first_parse_error or ""
        lines.extend(f"    {line}" for line in first.splitlines())
    return lines
