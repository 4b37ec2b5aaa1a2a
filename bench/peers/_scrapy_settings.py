"""Scrapy settings shared by the fetch and crawl peers: a fair, fast configuration.

Scrapy's defaults are tuned for politeness on the open web, not for a local server:
16 requests at once, 8 per domain, DEBUG logging of every request. Here concurrency is 100
overall and per domain, there is no download delay and no AutoThrottle, robots.txt is not
fetched (none of the other clients fetch it), cookies and the telnet console are off, and
logging is at INFO with stats every 60 s. Retries stay on (Scrapy's default), as for corral.

``CONCURRENT_ITEMS`` is set to what a response yields (1 when fetching a list, about 10 links
and an item when crawling). Scrapy (2.13 to 2.19 at least) starts that many asyncio tasks for
every response, whatever it yields (scrapy/scrapy#5182, an open PR #7959 starts them on
demand); at the default of 100 this costs about 40% of the fetch spider's time. With no item
pipeline doing IO, nothing is lost by processing a response's output with less parallelism.
"""

from __future__ import annotations


def settings(concurrency: int, feed: str, *, outputs_per_response: int) -> dict[str, object]:
    """Return the settings for a run at ``concurrency`` writing items to ``feed`` (JSONL)."""
    return {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_ITEMS": outputs_per_response,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "FEEDS": {feed: {"format": "jsonlines", "overwrite": True}},
        # The asyncio reactor is the default since Scrapy 2.7; named so the choice is visible.
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    }
