"""``corral run``: run a script under the guard and print the findings at exit."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from corral._clierrors import UsageError


def register(subparsers: Any) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run a Python script under the guard and report asyncio pitfalls",
        description=(
            "Run SCRIPT as __main__ (like `python SCRIPT ARGS...`) under the corral guard, then "
            "print what it found to standard error: loop stalls with the blocking line, "
            "coroutines never awaited, task exceptions never retrieved, tasks left pending, "
            "aiohttp sessions never closed and, with --strict, every blocking call made on the "
            "event loop's thread. The exit code is the script's, or 1 with --strict when "
            "anything was found."
        ),
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="also report blocking calls on the loop thread, raising at each; any finding fails "
        "the run (exit 1)",
    )
    parser.add_argument(
        "--threshold",
        metavar="MS",
        type=float,
        default=100.0,
        help="milliseconds a loop may stay unresponsive before it counts as stalled (default: 100)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the findings as JSON instead of text"
    )
    parser.add_argument(
        "--report",
        metavar="FILE",
        help="write the findings to FILE instead of standard error",
    )
    parser.add_argument("script", help="the Python script to run")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from corral.guard import GuardConfig, format_json, format_text, run_script

    if not args.threshold > 0:
        raise UsageError(
            f"--threshold must be a positive number of milliseconds, got {args.threshold:g}"
        )
    # A diagnostic run: keep the line that created each coroutine (see docs/guard.md).
    config = GuardConfig(strict=args.strict, threshold=args.threshold / 1000, origin_depth=4)
    result = run_script(args.script, args.args, config=config)
    report = format_json(result.findings) if args.json else format_text(result.findings)
    if args.report:
        try:
            with open(args.report, "w", encoding="utf-8") as out:
                out.write(report + "\n")
        except OSError as exc:
            print(report, file=sys.stderr)
            raise UsageError(f"cannot write --report {args.report!r}: {exc.strerror}") from exc
    else:
        print(report, file=sys.stderr)
    if args.strict and result.findings:
        return 1
    return result.exit_code
