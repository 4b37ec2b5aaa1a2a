"""What makes a crawl the crawl a store holds: its seeds, its parse callback and its scope.

A store resumes the crawl that made it. Run with other seeds or another ``--parse`` on the
same ``-o``, corral took the command for a resume: a second site's pages and a second
callback's items went into the first crawl's tables, mixed (a new-user trial). The first run
records what the crawl *is* (``crawl_identity``); a later run with a different one is
refused before it records anything (``SQLiteFrontier``'s ``job``), in one line naming the
first difference and the ways out (another ``-o``, or ``--overwrite``).

What may change between runs, being how (not what) to crawl: politeness (``--concurrency``,
``--per-host``, ``--rate``, ``--workers``), retries and timeouts, proxies, cookies, the
headers and user agent, how far to crawl (``--max-pages``, ``--max-depth``,
``--no-trap-guards``: the summary advises a bigger bound to go further, and a run with it
crawls the URLs the earlier bound stopped, ``store/_crawlrows.revive``), ``--sitemaps``
(more seeds of the same sites), ``--refresh``, ``--frontier-bound``, the bodies kept, the
report and the output's verbosity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from corral.http.crawler._config import CrawlConfig
from corral.http.web._urls import check, mask_credentials, normalize_url


def crawl_identity(
    config: CrawlConfig, seeds: Sequence[str], parse: object, parse_spec: str | None
) -> dict[str, Any]:
    """Return what a crawl is, keyed by the option that sets each part (for the message)."""
    return {
        "seeds": sorted({mask_credentials(normalize_url(check(seed))) for seed in seeds}),
        "--parse": parse_spec or name_of(parse),
        "--scope": config.scope,
        "--include": list(config.include),
        "--exclude": list(config.exclude),
        "--parse-types": sorted(config.parse_types),
        "--ignore-robots": not config.obey_robots,
        "--follow-nofollow": config.follow_nofollow,
    }


def name_of(parse: object) -> str | None:
    """Return ``module:qualname`` of a callback given as an object (the Python API), or
    None for none."""
    if parse is None:
        return None
    target = getattr(parse, "func", parse)  # functools.partial
    module = getattr(target, "__module__", None) or "?"
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}:{name}"
