"""``corral lint``: declare the arguments and hand them to ``corral.lint``."""

from __future__ import annotations

import argparse
import sys

_DESCRIPTION = """\
Find asyncio pitfalls before the code runs: blocking calls in async code, forgotten awaits,
sessions per request, nested event loops, unbounded concurrency, lost gather() results, races
across await, coroutine reuse in retries, dropped tasks, loop misuse, executors per call and
queues that are joined but never marked done. Silence one line with `# noqa: COR105`;
configure in [tool.corral.lint] of pyproject.toml (select, ignore, exclude, per-file-ignores).
Exit status: 0 clean, 1 findings, 2 usage error."""


def _codes(text: str) -> tuple[str, ...]:
    from corral.lint._config import split_codes

    return split_codes(text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``lint`` subcommand to the ``corral`` parser."""
    parser = subparsers.add_parser(
        "lint",
        help="find asyncio pitfalls before the code runs",
        description=_DESCRIPTION,
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
        "--jobs", "-j", type=int, metavar="N",
        help="worker processes (default: one per core; small inputs run in one process)",
    )  # fmt: skip
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from corral.lint import lint_paths, render

    findings = lint_paths(args.paths, select=args.select, ignore=args.ignore, jobs=args.jobs)
    sys.stdout.write(render(findings, args.format))
    if args.format == "text":
        files = len({f.path for f in findings})
        summary = f"{len(findings)} finding(s) in {files} file(s)" if findings else "no findings"
        print(f"corral lint: {summary}", file=sys.stderr)
    return 0 if args.exit_zero or not findings else 1
