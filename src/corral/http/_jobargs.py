"""The options of where a job runs and what it does again: ``--redis``/``--job`` (a job
in Redis, fetched by workers anywhere) and ``--refresh``/``--max-age`` (fetch again what a
store recorded), shared by ``corral fetch`` and ``corral crawl``."""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from corral._clierrors import UsageError
from corral.http.scale._address import RedisTarget


def add_redis_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--redis URL --job NAME``: one job fetched by workers on any machine."""
    scale = parser.add_argument_group("scale-out (see docs/scale.md)")
    scale.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help="coordinate the job through this Redis (redis://HOST:PORT/DB; default with --job: "
        "$CORRAL_REDIS_URL, which keeps a password off the command line that ps shows): it "
        "feeds the input to workers (corral worker, here or on other machines) and writes "
        "every record into -o",
    )
    scale.add_argument(
        "--job", metavar="NAME", default=None, help="the job's name in Redis (with --redis)"
    )


def redis_target(args: argparse.Namespace, source: str, output: str) -> RedisTarget | None:
    """Return the ``--redis``/``--job`` target of a command line, or None without ``--redis``.

    Raises:
        UsageError: one without the other, a bad URL or name, or an output that cannot be
            resumed (stdout), which a coordinator needs.
    """
    from corral.http._errors import ScaleError
    from corral.http.scale._address import check_url
    from corral.http.scale._redis import check_job

    url = args.redis
    if url is None and args.job is not None:  # as corral worker and corral status do
        url = os.environ.get("CORRAL_REDIS_URL") or None
    if url is None:
        if args.job is not None:
            raise UsageError(
                "--job names a job in Redis: give --redis URL with it (or set CORRAL_REDIS_URL)"
            )
        return None
    if args.job is None:
        raise UsageError("--redis needs --job NAME: the job's name in Redis (e.g. --job prices)")
    if output == "-":
        raise UsageError("--redis writes into a store that can be resumed: give -o FILE, not -o -")
    if source == "-":
        raise UsageError("--redis reads its input from a file (a resumed job reads it again)")
    try:
        url = check_url(url)
        check_job(args.job)
    except ScaleError as exc:
        raise UsageError(exc.message) from None
    return RedisTarget(url, args.job, workers=args.workers)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# The longest age: a datetime this far back is still one (a huge --max-age was an
# OverflowError after the store opened, issue 17).
MAX_AGE_DAYS = 36500


def add_refresh_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--refresh [--max-age AGE]``: fetch again what the store recorded, conditionally;
    ``--retry-failed``: only what failed."""
    again = parser.add_argument_group("fetching again (see 'Refresh' in docs/fetch.md)")
    again.add_argument(
        "--refresh",
        action="store_true",
        help="fetch again the URLs this store recorded, with If-None-Match/If-Modified-Since: "
        "a 304 is not_modified (the earlier body kept), a body with the same SHA-256 unchanged",
    )
    again.add_argument(
        "--max-age",
        type=duration,
        default=None,
        metavar="AGE",
        help="with --refresh: only records older than AGE, e.g. 1d, 1.5d, 12h, 30m (at most "
        "36500d; default: all)",
    )
    again.add_argument(
        "--retry-failed",
        action="store_true",
        help="fetch again the URLs whose latest record failed: an error (proxy, timeout, "
        "too_large...) or a 401/403/407/408/429/5xx; a 404 or 410 is an answer and stays",
    )


def refresh_of(args: argparse.Namespace, notes: list[str]) -> Any:
    """Return the ``Refresh`` the options ask for, or None; into ``notes``, a line saying
    so when the store does not exist yet (a scheduled command's first run, or a typo).

    Raises:
        UsageError: ``--max-age`` without ``--refresh``, ``--refresh`` or
            ``--retry-failed`` with ``-o -`` or with ``--overwrite`` (which would wipe the
            history they fetch again from), or both of them.
    """
    from corral.http.store._refresh import Refresh

    retry = getattr(args, "retry_failed", False)
    if args.refresh and retry:
        raise UsageError("--refresh fetches the failed URLs again too: drop --retry-failed")
    flag = "--refresh" if args.refresh else "--retry-failed"
    if not args.refresh and not retry:
        if args.max_age is not None:
            raise UsageError("--max-age says which records --refresh fetches again: add --refresh")
        return None
    if args.output == "-":
        raise UsageError(f"{flag} fetches again what a store recorded: give -o FILE, not -o -")
    if args.overwrite:
        raise UsageError(
            f"{flag} fetches again what the store recorded, and --overwrite starts the store "
            "afresh: give one"
        )
    if retry and args.max_age is not None:
        raise UsageError("--max-age says which records --refresh fetches again: drop it")
    if not args.quiet and not os.path.exists(args.output):
        notes.append(
            f"corral: note: {args.output} does not exist yet: {flag} has nothing to fetch "
            "again, so this is a first run"
        )
    return Refresh(max_age=args.max_age, failed_only=retry)


def duration(text: str) -> float:
    """Return the seconds of an age such as ``90``, ``30m``, ``12h``, ``1.5d`` or ``2w``
    (a unit in either case), at most ``MAX_AGE_DAYS`` days."""
    if text.strip().startswith("-"):  # (argparse takes "-1d" for an option: see _cli)
        raise argparse.ArgumentTypeError(f"an age cannot be negative: {text!r}")
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not an age: {text!r} (e.g. 30m, 12h, 1d)")
    value = float(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    if value > MAX_AGE_DAYS * 86400:
        raise argparse.ArgumentTypeError(
            f"{text.strip()} is too long: at most {MAX_AGE_DAYS}d (100 years)"
        )
    return value
