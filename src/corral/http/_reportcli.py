"""``corral report``: arguments in, ``write_report`` called, the report's path out; and the
``--report`` of ``corral fetch``/``corral crawl``, which ends their runs the same way."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from corral._clierrors import UsageError

REPORT_EPILOG = """\
The report is one HTML file that opens offline (charts included): the verdict, throughput
by outcome, latency percentiles and bytes over time, status codes and errors with sample
URLs, a per-host table, attempts per URL, the slowest URLs, and for a crawl its frontier,
depths and skip reasons. It reads the store only: it can be made while a run is writing,
and again at any time. --format json writes the same figures for scripts.

exit codes: 0 written, 2 bad usage or a file that is not a corral store.
"""

# What the header says a run's command line set (a flag's dest -> its label).
_SETTINGS = (
    ("concurrency", "concurrency"),
    ("per_host", "per host"),
    ("rate", "rate"),
    ("retries", "retries"),
    ("timeout", "timeout"),
    ("workers", "workers"),
    ("scope", "scope"),
    ("max_pages", "max pages"),
    ("max_depth", "max depth"),
)


def register(subparsers: Any) -> None:
    """Add ``report`` to the ``corral`` command."""
    report = subparsers.add_parser(
        "report",
        help="write a run's report: one offline HTML page of charts",
        description="Write the report of a store written by corral fetch or crawl.",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("store", help="a SQLite store written by corral fetch or crawl")
    report.add_argument(
        "-o",
        "--output",
        default=None,
        help="where to write it, - for stdout (default: beside the store, x.db -> x.report.html)",
    )
    report.add_argument(
        "--format", choices=("html", "json"), default="html", help="default %(default)s"
    )
    report.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing -o file that is not a corral report",
    )
    report.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    if args.output == "-":  # (as corral export: the report on stdout)
        from corral.http._faults import StoreError
        from corral.http.runreport._write import render_report

        try:
            text = render_report(
                args.store, fmt="json" if args.format == "json" else "html", settings=settings
            )
            sys.stdout.write(text)
        except StoreError as exc:
            raise UsageError(str(exc)) from None
        return 0
    print(make_report(args.store, args.output, fmt=args.format, overwrite=args.overwrite))
    return 0


def make_report(
    store: str, output: str | None = None, *, fmt: str = "html", overwrite: bool = False
) -> str:
    """Write the report of ``store`` and return its path.

    Raises:
        UsageError: the store cannot be read, or the report not written (one line).
    """
    from corral.http._faults import StoreError
    from corral.http.runreport._write import write_report

    try:
        return write_report(
            store,
            output,
            fmt="json" if fmt == "json" else "html",
            settings=settings,
            overwrite=overwrite,
        )
    except StoreError as exc:
        raise UsageError(str(exc)) from None


def settings(argv: Sequence[str]) -> Mapping[str, object]:
    """Return what a stored command line (``corral fetch ...``) set, as corral reads it now
    (its defaults included); nothing for a line it does not read."""
    from corral._cli import build_parser

    if len(argv) < 2:
        return {}
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stderr(quiet), contextlib.redirect_stdout(quiet):
            args, _ = build_parser().parse_known_args(list(argv[1:]))
    except SystemExit:
        return {}
    found = {}
    for dest, label in _SETTINGS:
        value = getattr(args, dest, None)
        if value is not None:
            found[label] = value
    return found


def report_after_run(store: str, code: int) -> int:
    """Write the report of a run's store (``--report``) and say where; return the run's code."""
    try:
        path = make_report(store)
    except UsageError as exc:
        print(f"corral: no report: {exc.message}", file=sys.stderr)
        return code
    print(f"report: {path}", file=sys.stderr)
    return code
