"""``corral lint``: declare the arguments and hand them to ``corral.lint``."""

from __future__ import annotations

import argparse
import sys

_DESCRIPTION = """\
Find asyncio pitfalls before the code runs: blocking calls in async code, forgotten awaits,
sessions per request, nested event loops, unbounded concurrency, lost gather() results, races
across await, coroutine reuse in retries, dropped tasks, loop misuse, executors per call and
queues that are joined but never marked done. Silence one line with `# noqa: COR105`;
configure in [tool.corral.lint] of pyproject.toml (select, ignore, exclude, force-exclude,
per-file-ignores).
Exit status: 0 clean, 1 findings, 2 usage error."""

# Kept as text so that `corral --help` does not import the linter; a test pins it to RULES.
_EPILOG = """rules (docs/lint.md has what each flags, what it does not, and the fix):
  COR000  a file that cannot be read or parsed (reported, then skipped)
  COR101  a blocking call in `async def` (directly or through a helper)
  COR102  a coroutine created but never awaited
  COR103  an HTTP session per request or per loop pass, or not closed on every path
  COR104  asyncio.run()/run_until_complete() reached from a running loop; nest_asyncio
  COR105  one coroutine or task per item, all at once, with no bound in sight
  COR106  gather() without return_exceptions=True in a try that carries on
  COR107  shared state read before an await and written after it, with no lock
  COR108  a retry loop that awaits the same coroutine object again
  COR109  a create_task()/ensure_future() result nobody keeps
  COR110  get_event_loop() at import or in a thread; a loop never closed or closed busy
  COR111  a thread or process pool built inside `async def` on every call
  COR112  queue items taken but never task_done() in a module that join()s the queue"""


def _codes(text: str) -> tuple[str, ...]:
    from corral.lint._config import split_codes

    return split_codes(text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``lint`` subcommand to the ``corral`` parser."""
    parser = subparsers.add_parser(
        "lint",
        help="find asyncio pitfalls before the code runs",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories to lint")
    parser.add_argument(
        "--select", type=_codes, metavar="CODES",
        help="comma-separated codes or prefixes to check, e.g. COR101,COR105 (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--ignore", type=_codes, metavar="CODES",
        help="comma-separated codes or prefixes not to report (added to the configured ones)",
    )  # fmt: skip
    parser.add_argument(
        "--format", choices=("text", "json", "sarif"), default="text",
        help="output format (default: text, one `path:line:col: CODE message` a line)",
    )  # fmt: skip
    parser.add_argument(
        "--exit-zero", action="store_true", help="exit 0 even when there are findings"
    )
    parser.add_argument(
        "--force-exclude", action="store_true", default=None,
        help="apply the configured excludes to paths named on the command line too "
        "(for pre-commit, which names every changed file)",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", "-j", type=int, metavar="N",
        help="worker processes (default: one per core; small inputs run in one process)",
    )  # fmt: skip
    parser.add_argument(
        "--no-cache", action="store_true",
        help="check every file afresh (by default each file's result is kept under the user "
        "cache directory, $CORRAL_LINT_CACHE or ~/.cache/corral/lint, and reused while the "
        "file, corral and the installed packages are unchanged)",
    )  # fmt: skip
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from corral.lint import lint_paths, render

    findings = lint_paths(
        args.paths,
        select=args.select,
        ignore=args.ignore,
        force_exclude=args.force_exclude,
        jobs=args.jobs,
        cache=not args.no_cache,
    )
    sys.stdout.write(render(findings, args.format))
    if args.format == "text":
        files = len({f.path for f in findings})
        summary = f"{len(findings)} finding(s) in {files} file(s)" if findings else "no findings"
        print(f"corral lint: {summary}", file=sys.stderr)
    return 0 if args.exit_zero or not findings else 1
