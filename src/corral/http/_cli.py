"""``corral fetch`` and ``corral demo``: arguments in, ``run_fetch_job`` called, exit code out."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Coroutine
from typing import Any

from corral._clierrors import UsageError
from corral.http._arguments import (
    add_fetch_options,
    count,
    fetch_config,
    positive,
    progress_mode,
)
from corral.http._jarargs import keeps_jar
from corral.http._jobargs import add_redis_options, add_refresh_options, redis_target, refresh_of

FETCH_EPILOG = """\
input: one URL a line (blank lines and # comments skipped), or JSON lines of request
objects {"url": ..., "method": ..., "headers": {...}, "body": "..." | "json": ...}.

output: a SQLite file (the default, table "results"), a .jsonl file, or - for stdout.
Running the same command again resumes: URLs already recorded are not fetched again
(--refresh fetches them again, conditionally: unchanged ones answer 304). An existing file
that is not this job's earlier output is refused (--overwrite replaces it). With
--save-bodies DIR, a large body streams to DIR and a cut-short download is resumed.

exit codes: 0 done (even if some URLs failed), 1 with --fail-on-error when any URL
failed, or when a proxy refused its credentials, 2 bad usage, unreadable input or an
unusable output (a full disk, a read-only or damaged store: the line says which), 75
this machine ran out of file descriptors or memory, 130 interrupted (Ctrl-C), 143 stopped
by SIGTERM (run it again to resume), 141 the reader of stdout went away.
"""


CRAWL_EPILOG = """\
every URL the crawl meets gets one record in the results table: fetched pages, and URLs
not fetched with the reason as error_kind (robots, out_of_scope, excluded, not_included,
max_depth, max_pages, nofollow, repeated_segment). Running the same command again resumes.

trap guards (on unless --no-trap-guards): links are followed at most 20 steps from a seed
(unless --max-depth says otherwise), and a URL whose path repeats a segment three times in
a row (/a/a/a/) is not fetched (repeated_segment). Run again with a bigger --max-depth or
--max-pages, or with --no-trap-guards, the crawl goes on from the URLs the earlier bound
stopped. A parse callback that raises gives its page the outcome parse_error; the crawl
goes on.

exit codes: as corral fetch (0 done, 1 --fail-on-error, 2 bad usage, 75 out of file
descriptors or memory, 130 interrupted, 143 SIGTERM); also 1 when hosts were held back
(their robots.txt did not answer: their URLs are left for the next run) or a proxy refused
its credentials.
"""


def register(subparsers: Any) -> None:
    """Add ``fetch`` and ``demo`` to the ``corral`` command."""
    fetch = subparsers.add_parser(
        "fetch",
        help="fetch many URLs politely into a SQLite store (resumable)",
        description="Fetch many URLs: fast, polite per host, retried, resumable.",
        epilog=FETCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument("input", nargs="?", default=None, help="file of URLs, or - for stdin")
    fetch.add_argument(
        "-o",
        "--output",
        default="corral.db",
        help="SQLite file, .jsonl file or - (default %(default)s)",
    )
    add_fetch_options(fetch)
    add_refresh_options(fetch)
    _add_report_option(fetch)
    add_redis_options(fetch)
    fetch.set_defaults(handler=_fetch)

    demo = subparsers.add_parser(
        "demo",
        help="fetch a few thousand pages from a local test site, with live progress",
        description="Start corral's local test site and fetch a few thousand URLs from it "
        "into a SQLite store, with the live progress bar and the summary.",
    )
    demo.add_argument("-o", "--output", default="corral-demo.db", help="default %(default)s")
    demo.add_argument("-n", "--urls", type=int, default=3000, help="how many URLs (default 3000)")
    demo.add_argument(
        "--overwrite", action="store_true", help="replace an output the demo did not write"
    )
    demo.set_defaults(handler=_demo)

    crawl = subparsers.add_parser(
        "crawl",
        help="follow links from seed URLs politely into a SQLite store (resumable)",
        description="Crawl from seed URLs: robots.txt obeyed, same host by default, "
        "breadth first and fair across hosts, resumable after a crash.",
        epilog=CRAWL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    crawl.add_argument("seeds", nargs="+", metavar="URL", help="where to start")
    crawl.add_argument(
        "-o", "--output", default="corral-crawl.db", help="the SQLite store (default %(default)s)"
    )
    scope = crawl.add_argument_group("scope")
    scope.add_argument(
        "--scope",
        choices=("host", "domain", "prefix"),
        default="host",
        help="follow links to the seeds' hosts (default), registrable domains, or URL prefixes",
    )
    scope.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="REGEX",
        help="follow only URLs matching one of these (repeatable)",
    )
    scope.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="REGEX",
        help="skip URLs matching any of these (repeatable)",
    )
    scope.add_argument(
        "--max-pages", type=positive, default=None, metavar="N", help="stop after fetching N pages"
    )
    scope.add_argument(
        "--max-depth",
        type=count,
        default=None,
        metavar="N",
        help="follow links at most N steps from a seed (default 20 with the trap guards, "
        "else no bound)",
    )
    scope.add_argument(
        "--no-trap-guards",
        action="store_true",
        help="lift the trap guards: no default depth bound and no repeated_segment rule",
    )
    scope.add_argument(
        "--parse-types",
        default="text/html,application/xhtml+xml",
        metavar="TYPES",
        help="media types parsed for links, comma-separated (default: HTML)",
    )
    scope.add_argument(
        "--ignore-robots", action="store_true", help="do not read or obey robots.txt"
    )
    scope.add_argument(
        "--sitemaps", action="store_true", help="also start from the seeds' sitemaps"
    )
    scope.add_argument(
        "--follow-nofollow", action="store_true", help="follow rel=nofollow links too"
    )
    scope.add_argument(
        "--frontier-bound",
        type=positive,
        default=1_000_000,
        metavar="N",
        help="pause link extraction while more than N URLs wait (default 1,000,000)",
    )
    scope.add_argument(
        "--parse",
        default=None,
        metavar="MODULE:FUNCTION",
        help="a function given each parsed page; the items it returns go to the items table",
    )
    add_fetch_options(crawl)
    add_refresh_options(crawl)
    _add_report_option(crawl)
    add_redis_options(crawl)
    crawl.set_defaults(handler=_crawl)

    export = subparsers.add_parser(
        "export",
        help="write what a run stored as JSON lines or CSV",
        description="Write a store's results (or items) as JSON lines or CSV.",
    )
    export.add_argument("store", help="a SQLite store written by corral fetch or crawl")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default jsonl")
    export.add_argument(
        "--table",
        choices=("results", "items", "urls", "runs", "history", "records"),
        default="results",
        help="default results (each URL's latest record); history: records later runs "
        "replaced; records: both, one per URL per run",
    )
    export.add_argument(
        "--all-runs",
        action="store_true",
        help="items: also those a later parse of their page replaced (default: the latest)",
    )
    export.add_argument("-o", "--output", default="-", help="a file, or - for stdout (default)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing -o file")
    export.set_defaults(handler=_export)


def _add_report_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--report",
        action="store_true",
        help="write the run's HTML report beside the store at the end (corral report STORE)",
    )


def _ended(args: argparse.Namespace, code: int) -> int:
    """Write the run's report if asked (``--report``), and return ``code``."""
    if not args.report:
        return code
    from corral.http._reportcli import report_after_run

    return report_after_run(args.output, code)


def _fetch(args: argparse.Namespace) -> int:
    from corral.http.fetcher._job import FetchJob, run_fetch_job

    source = args.input
    if source is None:
        if sys.stdin.isatty():
            raise UsageError("give an input file of URLs, or - to read them from stdin")
        source = "-"
    if args.report and (args.output == "-" or args.output.endswith((".jsonl", ".ndjson"))):
        raise UsageError(
            f"--report reads the run's SQLite store, and -o {args.output} writes JSON lines: "
            "give -o FILE.db, or drop --report"
        )
    redis = redis_target(args, source, args.output)
    if redis is None and args.workers == 0:
        raise UsageError("--workers 0 leaves the fetching to workers started apart: give --redis")
    notes: list[str] = []  # (printed once the run is accepted: the store open)
    config = fetch_config(args, notes)
    job = FetchJob(
        input=source,
        output=args.output,
        config=config,
        progress=progress_mode(args),  # type: ignore[arg-type]
        quiet=args.quiet,
        fail_on_error=args.fail_on_error,
        argv=["corral", *sys.argv[1:]],
        overwrite=args.overwrite,
        redis=redis,
        workers=args.workers if redis is None else 1,
        refresh=refresh_of(args, notes),
        notes=tuple(notes),
        keep_jar=keeps_jar(args),
    )
    return _ended(args, _run(run_fetch_job(job)))


def _crawl(args: argparse.Namespace) -> int:
    from corral.http._errors import BadScope
    from corral.http.crawler._config import CrawlConfig, crawl_rules
    from corral.http.crawler._job import CrawlJob, run_crawl_job

    redis = redis_target(args, "seeds", args.output)
    if redis is None and args.workers == 0:
        raise UsageError("--workers 0 leaves the fetching to workers started apart: give --redis")
    if args.output == "-" or args.output.endswith((".jsonl", ".ndjson")):
        raise UsageError(
            f"-o {args.output}: a crawl writes a SQLite store (e.g. -o crawl.db); "
            "corral export STORE writes its results as JSON lines"
        )
    notes: list[str] = []  # (printed once the run is accepted: the store open)
    config = CrawlConfig(
        fetch=fetch_config(args, notes),
        scope=args.scope,
        include=tuple(args.include),
        exclude=tuple(args.exclude),
        max_pages=args.max_pages,
        max_depth=args.max_depth,
        parse_types=tuple(t.strip() for t in args.parse_types.split(",") if t.strip()),
        obey_robots=not args.ignore_robots,
        sitemaps=args.sitemaps,
        follow_nofollow=args.follow_nofollow,
        frontier_bound=args.frontier_bound,
        trap_guards=not args.no_trap_guards,
        refresh=refresh_of(args, notes),
    )
    try:  # the seeds and patterns are checked here, before anything is written
        crawl_rules(config, args.seeds)
    except BadScope as exc:
        raise UsageError(str(exc)) from None
    job = CrawlJob(
        seeds=args.seeds,
        store=args.output,
        config=config,
        parse=args.parse,
        progress=progress_mode(args),  # type: ignore[arg-type]
        quiet=args.quiet,
        fail_on_error=args.fail_on_error,
        argv=["corral", *sys.argv[1:]],
        overwrite=args.overwrite,
        workers=args.workers if redis is None else 1,
        redis=redis,
        notes=tuple(notes),
        keep_jar=keeps_jar(args),
    )
    return _ended(args, _run(run_crawl_job(job)))


def _export(args: argparse.Namespace) -> int:
    from corral.http.store._export import check_source, export
    from corral.http.store._output import check_plain_output

    check_source(args.store, args.table)  # (before -o is made: nothing written if refused)
    check_plain_output(args.output, source=args.store, overwrite=args.overwrite)
    if args.output == "-":
        export(
            args.store, table=args.table, fmt=args.format, out=sys.stdout, all_runs=args.all_runs
        )
        return 0
    try:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            count = export(
                args.store, table=args.table, fmt=args.format, out=out, all_runs=args.all_runs
            )
    except OSError as exc:
        raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"corral export: {count:,} rows of {args.table} to {args.output}", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from corral.http.fetcher._demo import run_demo

    if args.urls < 1:
        raise UsageError("--urls must be at least 1")
    return _run(run_demo(args.output, args.urls, overwrite=args.overwrite))


def _run(job: Coroutine[Any, Any, int]) -> int:
    """Run a job to its end, the collector set for a long run of short-lived objects.

    A fetch makes and drops a few dozen objects a request; at the default threshold the
    youngest generation is scanned every 700 net allocations, and each scan walks the
    modules and settings that live for the whole run. Freezing those and scanning every
    10,000 cut the collector's time on a 20,000-URL fetch from about 0.15 s to 0.01 s.
    """
    import gc

    from corral.http.pipeline._interrupt import run_interruptible

    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, *thresholds[1:])
    _reads_from_the_heap()
    try:
        return run_interruptible(job)  # SIGINT and SIGTERM: a graceful stop (130, 143)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _reads_from_the_heap() -> None:
    """Keep socket reads' buffers in the heap (glibc), not in a mapping of their own each.

    asyncio reads a socket into a fresh 256 KiB buffer, then shrinks it to what came. glibc
    serves a request that size with mmap, so every response cost an mmap, an mremap and a
    munmap (three system calls: 60,000 on a 20,000-URL fetch, seen with ``strace -c``),
    unless glibc happened to raise its threshold on the way. A fixed 1 MiB threshold makes
    that certain; measured with ``MALLOC_MMAP_THRESHOLD_``, it took 5 to 8% off a fetch's CPU
    time. The process is the job's own (the CLI), so the setting is ours to make.
    """
    import os

    confstr = getattr(os, "confstr", None)  # (not on Windows)
    try:
        libc = (confstr("CS_GNU_LIBC_VERSION") if confstr else None) or ""
    except (ValueError, OSError):  # not a glibc system
        return
    if not libc.startswith("glibc"):
        return
    import ctypes

    m_mmap_threshold = -3  # malloc.h
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(m_mmap_threshold, 1 << 20)
