"""The options ``corral fetch`` and ``corral crawl`` share, and their value types.

Defaults come from ``FetchConfig`` itself (one source: the command line and the Python API
cannot drift apart). ``FetchConfig`` is light to import; the connector's socket plan, which
loads aiohttp, is imported when a command runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from corral._clierrors import UsageError
from corral.http._bodiesargs import bodies_options
from corral.http._jarargs import cookie_options
from corral.http.engine._config import FetchConfig

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_DEFAULTS = FetchConfig()
MAX_WORKERS = 64  # (as corral.http.scale._processes, which the parser does not import)


def add_fetch_options(parser: argparse.ArgumentParser) -> None:
    """Add the options ``fetch`` and ``crawl`` share (``FetchConfig``'s fields)."""
    polite = parser.add_argument_group("politeness (per host unless said)")
    polite.add_argument(
        "--concurrency",
        type=positive,
        default=_DEFAULTS.concurrency,
        help="requests in flight over all hosts (default %(default)s)",
    )
    polite.add_argument(
        "--workers",
        type=workers,
        default=1,
        help="worker processes on this machine, each fetching its share of the hosts "
        f"(default 1: this process; at most {MAX_WORKERS}); with --redis, the local "
        "corral worker processes (0: only workers started apart)",
    )
    polite.add_argument(
        "--per-host",
        type=positive,
        default=_DEFAULTS.per_host,
        help="requests in flight per host (default %(default)s)",
    )
    polite.add_argument(
        "--rate",
        default=None,
        help="request starts per host, e.g. 5/s or 100/min (default: none; a host answering "
        "429/503 is slowed down all the same)",
    )
    polite.add_argument(
        "--user-agent", default=None, help="the User-Agent header (default: corral/VERSION ...)"
    )
    polite.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header for every request (repeatable)",
    )
    limits = parser.add_argument_group("retries, timeouts and limits")
    limits.add_argument(
        "--retries",
        type=count,
        default=_DEFAULTS.retries,
        help="retries for connection errors, timeouts, 429 and 5xx; never other 4xx "
        "(default %(default)s)",
    )
    limits.add_argument(
        "--timeout",
        type=_seconds,
        default=_DEFAULTS.timeout,
        help="seconds per attempt, in total (default %(default)g); waits for a slot or a retry "
        "do not count",
    )
    limits.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=_DEFAULTS.connect_timeout,
        help="seconds to connect, per attempt (default %(default)g)",
    )
    limits.add_argument(
        "--max-retry-after",
        type=_seconds,
        default=_DEFAULTS.max_retry_after,
        metavar="SECONDS",
        help="the longest Retry-After waited (default %(default)g); a longer one ends its URL "
        "at once and pauses its host for this long only",
    )
    limits.add_argument(
        "--max-bytes",
        type=_size,
        default=_DEFAULTS.max_bytes,
        help="largest body after decompression, e.g. 10M or 1.5G (default 10M); larger: too_large",
    )
    limits.add_argument(
        "--max-redirects",
        type=count,
        default=_DEFAULTS.max_redirects,
        help="redirects per attempt (default %(default)s)",
    )
    add_session_options(parser)
    output = parser.add_argument_group("output and display")
    output.add_argument(
        "--save-bodies",
        type=_save_bodies,
        default=_DEFAULTS.save_bodies,
        metavar="none|store|DIR",
        help="keep bodies: none (default), in the store, or as files in DIR (named by their "
        "SHA-256; a large one streamed there and resumed after a failure or a kill)",
    )
    output.add_argument(
        "--bodies-dir",
        default=None,
        help="the directory of --save-bodies dir (the same as --save-bodies DIR)",
    )
    output.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="live progress (default: a bar on a terminal, else a plain line every few seconds)",
    )
    output.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing -o file and the cookie jar beside it, starting afresh "
        "(without --overwrite, a file that is not this job's earlier output is refused)",
    )
    output.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress and no summary (an interrupted run still says how to resume)",
    )
    output.add_argument(
        "--fail-on-error", action="store_true", help="exit 1 when any URL ended in an error"
    )


def add_session_options(parser: argparse.ArgumentParser) -> None:
    """Add the proxy and cookie options (``FetchConfig.proxies`` ... ``cookie_jar``)."""
    session = parser.add_argument_group("proxies and cookies (see docs/fetch.md)")
    session.add_argument(
        "--proxy",
        action="append",
        default=[],
        metavar="URL",
        help="a proxy, http://, https:// or socks5://[USER:PASS@]HOST:PORT (repeatable); a "
        "host sticks to one, and moves to another when its proxy fails",
    )
    session.add_argument(
        "--proxies", metavar="FILE", default=None, help="a file of proxy URLs, one a line"
    )
    session.add_argument(
        "--proxy-ca",
        metavar="FILE",
        default=None,
        help="a PEM file of CA certificates to trust for https:// proxies, beside the "
        "system's (a proxy's self-signed certificate)",
    )
    session.add_argument(
        "--per-proxy",
        action="store_true",
        help="spread each host over every proxy, politeness per (host, proxy): for sites "
        "that limit by IP",
    )
    session.add_argument(
        "--cookies",
        action="store_true",
        help="keep the cookies sites set, one jar per host (default: none kept); with a "
        "store, the jar is kept beside it (-o FILE.cookies.json) for a resumed run",
    )
    session.add_argument(
        "--cookie-jar",
        metavar="FILE",
        default=None,
        help="load cookies from FILE and save the jar as JSON (every 2 s while it changes, "
        "and at the end): into FILE when it is a JSON jar or new; a browser's cookies.txt is "
        "only read, never written, and the jar saved beside it (FILE.corral.json, loaded "
        "instead while newer); implies --cookies",
    )


def session_options(args: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    """Return ``FetchConfig``'s proxy and cookie fields from parsed options (``notes``: what
    to say once the run is accepted).

    Raises:
        UsageError: a bad proxy URL, an unreadable --proxies file, --per-proxy alone, a
            --proxy-ca file that is not certificates or has no https:// proxy to serve, a
            bad --cookie-jar (``_jarargs``).
    """
    from corral.http.engine._proxies import check_ca, check_proxy, read_proxies

    try:
        proxies = [check_proxy(url) for url in args.proxy]
    except ValueError as exc:
        raise UsageError(f"--proxy: {exc}") from None
    if args.proxies is not None:
        try:
            listed = read_proxies(args.proxies)
        except OSError as exc:
            why = exc.strerror or exc
            raise UsageError(f"--proxies: cannot read {args.proxies}: {why}") from None
        except ValueError as exc:  # (it names the file and the line)
            raise UsageError(f"--proxies {exc}") from None
        if not listed:
            raise UsageError(f"--proxies {args.proxies}: no proxy URL in the file")
        proxies += listed
    if args.per_proxy and not proxies:
        raise UsageError("--per-proxy spreads hosts over proxies: give --proxy or --proxies")
    if args.proxy_ca is not None:
        try:
            check_ca(args.proxy_ca, proxies)
        except ValueError as exc:
            raise UsageError(f"--proxy-ca {args.proxy_ca}: {exc}") from None
    return {
        "proxies": tuple(dict.fromkeys(proxies)),  # (a proxy given twice: one route)
        "per_proxy": args.per_proxy,
        "proxy_ca": args.proxy_ca,
        **cookie_options(args, notes),
    }


def fetch_config(args: argparse.Namespace, notes: list[str] | None = None) -> Any:
    """Build a ``FetchConfig`` from parsed options (a bad ``--rate`` or ``--header`` is a
    usage error; a concurrency past the open-files limit is noted, then lowered by the
    fetcher). The notes go to ``notes``, for the job to print once the run is accepted (a
    note before a refusal misled, issue 17)."""
    from corral._ratelimit import parse_rate
    from corral.http.engine._config import DEFAULT_USER_AGENT
    from corral.http.engine._connector import plan_sockets

    if args.rate is not None:
        try:
            parse_rate(args.rate)
        except ValueError as exc:
            raise UsageError(f"--rate: {exc}") from None
    save_bodies, bodies_dir = bodies_options(args)
    notes = [] if notes is None else notes
    session = session_options(args, notes)
    note = plan_sockets(args.concurrency).note(args.concurrency)  # the fetcher lowers it
    if note is not None and not args.quiet:
        notes.append(note)
    return FetchConfig(
        concurrency=args.concurrency,
        per_host=args.per_host,
        rate=args.rate,
        retries=args.retries,
        timeout=args.timeout,
        connect_timeout=args.connect_timeout,
        max_bytes=args.max_bytes,
        max_redirects=args.max_redirects,
        max_retry_after=args.max_retry_after,
        headers=dict(_header(h) for h in args.header),
        user_agent=args.user_agent or DEFAULT_USER_AGENT,
        save_bodies=save_bodies,
        bodies_dir=bodies_dir,
        **session,
    )


def progress_mode(args: argparse.Namespace) -> str:
    """Return the progress mode the display flags ask for."""
    if args.quiet:
        return "off"
    if args.progress is None:
        return "auto"
    return "auto" if args.progress else "off"


def positive(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def workers(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= MAX_WORKERS:  # 0: with --redis, only workers started apart
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_WORKERS}, not {value}")
    return value


def count(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"cannot be negative ({value})")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def _size(text: str) -> int:
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 500k, 10M, 1.5G)")
    unit = (match.group(2) or "").lower()[:1]
    number = float(match.group(1))  # (1.5G as 1.5d is: decimals in both)
    if number * _UNITS[unit] >= 2**62:  # (an int of an infinite float is an OverflowError)
        raise argparse.ArgumentTypeError(f"too large (at most {2**62 // _UNITS['g']:,}G)")
    value = int(number * _UNITS[unit])
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1 byte")
    return value


def _save_bodies(text: str) -> str:
    """Return ``none``, ``store``, ``dir`` (in any case: ``bodies_options`` reads them) or a
    directory (``./store`` for one named so)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give none, store or a directory")
    return text


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise UsageError(f"--header {text!r}: expected 'Name: value'")
    return name.strip(), value.strip()
