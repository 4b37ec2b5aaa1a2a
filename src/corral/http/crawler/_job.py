"""The ``corral crawl`` job: the crawler with progress and a summary (export: ``_export.py``)."""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from corral._clierrors import UsageError
from corral.http.crawler._config import CrawlConfig, ParseCallback
from corral.http.crawler._core import CrawlCore, examine_settings, frontier_settings
from corral.http.crawler._robotshold import held_back_lines
from corral.http.pipeline._end import Ending, run_to_end
from corral.http.pipeline._open import open_store
from corral.http.report._summary import retry_lines
from corral.http.scale._address import RedisTarget
from corral.http.scale._coordinate import coordinating
from corral.http.store._sqlite import SQLiteFrontier


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
    workers: int = 1  # worker processes that fetch and parse (--workers)
    redis: RedisTarget | None = None  # a job in Redis, fetched by corral worker processes
    notes: Sequence[str] = ()  # lines to print once the run is accepted (the store open)
    keep_jar: bool = False  # --overwrite leaves the jar beside the store (--cookie-jar named it)


def load_callback(spec: str) -> ParseCallback:
    """Return the function named by ``module:function`` (``--parse``).

    Raises:
        UsageError: the spec is malformed, or names nothing callable.
    """
    module_name, sep, name = spec.partition(":")
    if not sep or not module_name or not name:
        raise UsageError(f"--parse {spec!r}: expected MODULE:FUNCTION")
    if module_name.endswith(".py") or "/" in module_name or "\\" in module_name:
        stem = module_name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].removesuffix(".py")
        raise UsageError(
            f"--parse {spec!r}: give the module's name, not its file ({stem}:{name}, run "
            "from the module's directory)"
        )
    sys.path.insert(0, ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--parse {spec!r}: cannot import {module_name}: {exc}") from None
    except Exception as exc:  # the module's own code failed: one line, as for any bad flag
        raise UsageError(
            f"--parse {spec!r}: importing {module_name} raised {type(exc).__name__}: {exc}"
        ) from None
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
    async with contextlib.AsyncExitStack() as stack:
        coordination = None
        if job.redis is not None:  # before the store opens: a bad address changes nothing
            # the crawl's rules go to the workers: the frontier and seen set are Redis's
            crawl = examine_settings(job.config, job.parse) | frontier_settings(
                job.config, job.seeds
            )
            extra = {"crawl": json.dumps(crawl), "seen": "1"}
            extra["max_pages"] = str(job.config.max_pages or 0)
            coordination = await stack.enter_async_context(
                coordinating(
                    job.redis,
                    job.config.fetch,
                    job.store,
                    kind="crawl",
                    extra=extra,
                    state=job.store,
                    overwrite=job.overwrite,
                )
            )
        core = CrawlCore(
            job.config,
            store=job.store,
            parse=parse,
            argv=job.argv,
            workers=job.workers,
            parse_spec=job.parse,
            coordination=coordination,
        )
        return await _run(job, core)


async def _run(job: CrawlJob, core: CrawlCore) -> int:
    core.set_rules(job.seeds)  # (checked by the command line: the store refuses another crawl)
    await open_store(
        job.store,
        "sqlite",
        core.open,
        overwrite=job.overwrite,
        quiet=job.quiet,
        notes=job.notes,
        keep_jar=job.keep_jar,
    )

    async def work() -> None:
        await core.run(None)

    ending = Ending(
        kind="sqlite", quiet=job.quiet, argv=job.argv, notes=lambda: _notes(core, job.config)
    )
    store = core.store
    stats = await run_to_end(
        work,
        statistics=core.statistics,
        progress=job.progress,
        close=core.close,
        ending=ending,
        sample=store.sample if isinstance(store, SQLiteFrontier) else None,
        events=core.runtime.politeness.take_events,
    )
    # hosts held back: the crawl is not complete (their URLs pending), whatever --fail-on-error
    # a proxy that refused its credentials: the crawl's configuration is wrong (see fetch)
    refused = getattr(core.store, "refused", 0)
    return 1 if (job.fail_on_error and stats.failed) or core.held_back() or refused else 0


def _notes(core: CrawlCore, config: CrawlConfig) -> list[str]:
    """Return the summary's lines on parse errors, hosts held back and the trap guards'
    depth bound."""
    lines = held_back_lines(core.held_back())
    lines += retry_lines(getattr(core.store, "failed", 0), getattr(core.store, "refused", 0))
    skipped = core.runtime.counters.by_skip
    if config.max_depth is None and config.trap_guards and skipped.get("max_depth", 0):
        lines.append(
            f"  max_depth: the trap guards stop {config.depth_bound} links from a seed "
            "(run the same command with --max-depth N to go further, or --no-trap-guards "
            "to lift them)"
        )
    errors = core.parse_errors
    if errors.count:
        raised = errors.count - errors.deaths
        how = [f"the parse callback raised on {_pages(raised)}"] if raised else []
        if errors.deaths:  # (not "raised": it killed the process, os._exit or a crash)
            how.append(f"its {errors.process} died in the callback on {_pages(errors.deaths)}")
        lines.append(
            f"  parse errors {errors.count:,} ({', '.join(how)}: error_kind parse_error, "
            f"links followed, no items){'; the first:' if errors.first else ''}"
        )
        lines.extend(f"    {line}" for line in (errors.first or "").splitlines())
        if errors.first_death:
            lines.append(
                f"    the {errors.process} died in the parse callback on {errors.first_death}"
            )
    return lines


def _pages(n: int) -> str:
    return f"{n:,} page" if n == 1 else f"{n:,} pages"
