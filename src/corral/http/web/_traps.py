"""Crawl trap guards: the rules that stop a crawl from following a site forever (issue 13).

Traps are pages that make new URLs without end: a calendar whose every month links to the
next, a catch-all path whose relative link appends itself (``/a/`` -> ``/a/a/`` -> ...).
corral's guards, on by default and lifted together (``CrawlConfig.trap_guards``):

- a bound on depth, 20 links from a seed unless ``max_depth`` says otherwise: Heritrix's
  default ``TooManyHopsDecideRule`` (max-hops 20). It ends every chain, the calendar
  included; pagination deeper than 20 "next" links needs ``max_depth`` raised;
- no URL whose path repeats one segment, or a run of two or three, three times in a row
  (``/a/a/a/``, ``/x/y/x/y/x/y/``): Heritrix's ``PathologicalPathDecideRule`` (its default
  allows two repetitions) and Nutch's default ``regex-urlfilter`` loop rule. Recorded as
  ``repeated_segment``.

There is no rule for URLs that differ only by a counter (``/calendar/2026/12`` after
``/calendar/2026/11``): a counter step cannot be told from pagination or from numeric ids
without reading the pages (every link of a site of ``/item/{id}`` pages is one), and a run
of counter steps is a chain, which the depth bound ends. Heritrix, Scrapy and Crawlee have
none either; Heritrix documents a pattern excluded by hand for a known calendar, which
``exclude`` does here.
"""

from __future__ import annotations

import re

DEFAULT_MAX_DEPTH = 20
# One to three whole segments, then the same twice more, ending at a segment boundary.
_REPEATED = re.compile(r"((?:/[^/]+){1,3}?)\1\1(?=/|$)")


def repeated_segment(url: str) -> bool:
    """Return whether the path of ``url`` (normalised) repeats a segment run three times."""
    rest = url.partition("://")[2]
    slash = rest.find("/")
    if slash < 0:
        return False
    path = rest[slash:].partition("?")[0].partition("#")[0]
    return path.count("/") >= 3 and _REPEATED.search(path) is not None
