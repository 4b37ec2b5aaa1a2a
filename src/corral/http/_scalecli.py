"""``corral worker`` and ``corral status``: the commands of a job spread over processes and
machines through Redis (the coordinator is ``corral fetch ... --redis URL --job NAME``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any

from corral._clierrors import UsageError
from corral.http._arguments import positive

if TYPE_CHECKING:
    from corral.http.scale._child import After

_GIVE_UP_AFTER = 5.0  # seconds a stopping worker process takes at most (see run_worker)

WORKER_EPILOG = """\
A worker takes URLs of the job from Redis, fetches them with the job's settings (the
coordinator's --per-host, --rate, retries, timeouts...) and hands every record back through
Redis to the coordinator, which writes the store. Start as many as you like, on any machine
that reaches the Redis and the sites; politeness per host holds across all of them. A worker
started before its job waits for it (it says so); it exits 0 once the job is finished;
Ctrl-C stops it (its requests in flight end and are committed).

exit codes: 0 the job is finished, 2 bad usage, a Redis that refuses us, or a job that is
finished already, 130 interrupted (Ctrl-C), 143 stopped by SIGTERM.
"""


def register(subparsers: Any) -> None:
    """Add ``worker`` and ``status`` to the ``corral`` command."""
    worker = subparsers.add_parser(
        "worker",
        help="fetch URLs of a job coordinated through Redis (from any machine)",
        description="Join a job coordinated through Redis and fetch its URLs.",
        epilog=WORKER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_address(worker)
    worker.add_argument(
        "--concurrency",
        type=positive,
        default=None,
        help="requests in flight in this worker (default: the job's --concurrency)",
    )
    worker.add_argument("--name", default=None, help="this worker's name (default HOST-PID)")
    # A coordinator's local workers: stop when the coordinator hangs up (or dies).
    worker.add_argument("--until-stdin-closes", action="store_true", help=argparse.SUPPRESS)
    worker.set_defaults(handler=_worker)

    status = subparsers.add_parser(
        "status",
        help="show a Redis-coordinated job's progress: per worker, per host, ETA",
        description="Show the progress of a job coordinated through Redis.",
    )
    _add_address(status, job_required=False)
    status.add_argument("store", nargs="?", help=argparse.SUPPRESS)  # (to say: corral report)
    status.set_defaults(handler=_status)


def _add_address(parser: argparse.ArgumentParser, *, job_required: bool = True) -> None:
    parser.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help="redis://HOST:PORT/DB (default: $CORRAL_REDIS_URL, which keeps a password off "
        "the command line that ps shows)",
    )
    parser.add_argument("--job", metavar="NAME", required=job_required, help="the job's name")


def _checked(args: argparse.Namespace) -> tuple[str, str]:
    from corral.http._errors import ScaleError
    from corral.http.scale._address import check_url
    from corral.http.scale._redis import check_job

    url = args.redis or os.environ.get("CORRAL_REDIS_URL")
    if not url:
        raise UsageError("give --redis URL (or set CORRAL_REDIS_URL)")
    try:
        check_job(args.job)
        return check_url(url), args.job
    except ScaleError as exc:
        raise UsageError(exc.message) from None


def _examiner(settings: dict[str, Any]) -> After:
    """Return what examines a crawl job's pages (imported only for a crawl: a fetch
    worker's start is spared the crawler's modules)."""
    if "rules" in settings:  # the crawl's frontier is in Redis: its rules apply here
        from corral.http.crawler._redisworker import FrontierExaminer

        return FrontierExaminer(settings)
    from corral.http.crawler._child import RemoteExaminer

    return RemoteExaminer(settings)


def _worker(args: argparse.Namespace) -> int:
    from corral.http.scale._runworker import run_worker

    url, job = _checked(args)
    try:
        return asyncio.run(
            run_worker(
                url,
                job,
                concurrency=args.concurrency,
                name=args.name,
                lifeline=sys.stdin if args.until_stdin_closes else None,
                give_up_after=_GIVE_UP_AFTER,
                make_after=_examiner,  # (a crawl job's pages are examined here)
            )
        )
    except KeyboardInterrupt:
        return 130


def _status(args: argparse.Namespace) -> int:
    from corral.http.scale._statusview import show_status

    if args.store is not None:  # ``corral status a.db`` said "--job is required" (issue 17)
        raise UsageError(
            "corral status shows a job coordinated over Redis (--redis URL --job NAME); the "
            f"view of a store is corral report {args.store}"
        )
    if args.job is None:
        raise UsageError("corral status needs --job NAME: the job's name in Redis")
    url, job = _checked(args)
    return asyncio.run(show_status(url, job, sys.stdout))
