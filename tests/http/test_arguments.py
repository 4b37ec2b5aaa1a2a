"""The command line's fetch options take their defaults from ``FetchConfig`` itself."""

from __future__ import annotations

import dataclasses

from corral._cli import build_parser
from corral.http import FetchConfig
from corral.http._arguments import fetch_config


def test_fetch_and_crawl_without_options_build_the_default_fetch_config() -> None:
    """``corral fetch FILE`` and ``corral crawl URL`` with no option build a ``FetchConfig``
    equal to ``FetchConfig()``: the defaults have one source and cannot drift apart."""
    parser = build_parser()
    for argv in (["fetch", "urls.txt"], ["crawl", "http://127.0.0.1/"]):
        config = fetch_config(parser.parse_args(argv))
        assert config == FetchConfig(), argv


def test_every_option_still_reaches_the_config() -> None:
    """Each option given on the command line lands in its ``FetchConfig`` field."""
    args = build_parser().parse_args(
        ["fetch", "u.txt", "--concurrency", "7", "--per-host", "2", "--retries", "0",
         "--timeout", "5", "--connect-timeout", "1.5", "--max-retry-after", "9",
         "--max-bytes", "1k", "--max-redirects", "3", "--save-bodies", "store"]
    )  # fmt: skip
    config = fetch_config(args)
    got = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    assert got | {"concurrency": 7, "per_host": 2, "retries": 0, "timeout": 5.0} == got
    assert (config.connect_timeout, config.max_retry_after) == (1.5, 9.0)
    assert (config.max_bytes, config.max_redirects, config.save_bodies) == (1024, 3, "store")
