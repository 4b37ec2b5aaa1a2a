"""``python -m corral.testing``: declare the options, then serve the site until a signal.

The first line on stdout is the site's base URL, so a parent process can read it and start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from corral.testing._layout import SiteLayout
from corral.testing._ratelimited import RateLimitPolicy
from corral.testing._robots import RobotsPolicy
from corral.testing._serve import serve_until_signalled
from corral.testing._site import Site

_PROG = "python -m corral.testing"


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m corral.testing``."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description=(
            "Serve corral's test site (see docs/testing.md) until SIGTERM or SIGINT. "
            "The first line of stdout is the base URL."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (0)")
    parser.add_argument("--log-size", type=int, default=1000, help=argparse.SUPPRESS)
    limited = parser.add_argument_group("the rate-limited area, /limited/...")
    limited.add_argument("--rate", type=float, default=20.0, help="requests/s per client (20)")
    limited.add_argument("--burst", type=int, default=5, help="requests at once (5)")
    limited.add_argument("--ban-after", type=int, default=10, help="429s before a ban (10)")
    limited.add_argument("--no-ban", action="store_true", help="answer 429 but never ban")
    limited.add_argument("--ban-window", type=float, default=10.0, help="seconds (10)")
    limited.add_argument("--ban-seconds", type=float, help="ban length (default: forever)")
    limited.add_argument("--client-header", help="header that names the client (peer address)")
    crawl = parser.add_argument_group("the crawl site")
    crawl.add_argument("--pages", type=int, default=1000, help="generated pages (1000)")
    crawl.add_argument("--chain-length", type=int, default=20, help="depth chain length (20)")
    crawl.add_argument("--orphans", type=int, default=10, help="sitemap-only pages (10)")
    crawl.add_argument("--other-host", default="localhost", help="second host name (localhost)")
    crawl.add_argument("--crawl-delay", type=float, help="robots.txt Crawl-delay (none)")
    crawl.add_argument("--request-rate", help="robots.txt Request-rate, e.g. 1/5 (none)")
    crawl.add_argument("--robots-status", type=int, default=200, help="robots.txt status (200)")
    return parser


def _announce(site: Site) -> None:
    print(site.base_url, flush=True)


def _policies(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[RateLimitPolicy, RobotsPolicy, SiteLayout]:
    """Build the site's policies from the flags; a value out of range is a usage error."""
    try:
        rate_limit = RateLimitPolicy(
            rate=args.rate,
            burst=args.burst,
            ban_after=None if args.no_ban else args.ban_after,
            ban_window=args.ban_window,
            ban_seconds=args.ban_seconds,
            client_header=args.client_header,
        )
        robots = RobotsPolicy(
            crawl_delay=args.crawl_delay, request_rate=args.request_rate, status=args.robots_status
        )
        layout = SiteLayout(
            pages=args.pages,
            chain_length=args.chain_length,
            orphans=args.orphans,
            other_host=args.other_host,
        )
    except ValueError as exc:
        parser.error(str(exc))
    return rate_limit, robots, layout


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m corral.testing`` and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    rate_limit, robots, layout = _policies(parser, args)
    serve = serve_until_signalled(
        host=args.host,
        port=args.port,
        rate_limit=rate_limit,
        robots=robots,
        layout=layout,
        log_size=args.log_size,
        on_ready=_announce,
    )
    try:
        asyncio.run(serve)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        where = f"{args.host}:{args.port}"
        print(f"{_PROG}: error: cannot listen on {where}: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # a SIGINT before the handlers were installed
        pass
    return 0
