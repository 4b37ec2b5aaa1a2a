"""``CrawlConfig``, and the ``Page`` / ``Parsed`` objects a crawl hands to user code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from corral.http.engine._config import FetchConfig
from corral.http.engine._result import FetchResult
from corral.http.store._refresh import Refresh
from corral.http.web._rules import DEFAULT_CONTENT_TYPES, CrawlRules
from corral.http.web._traps import DEFAULT_MAX_DEPTH

ScopeKind = Literal["host", "domain", "prefix"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CrawlConfig:
    """How to crawl: what to fetch (``fetch``), what to follow, and how far.

    Attributes:
        fetch: the fetcher's options (politeness, retries, timeouts, limits).
        scope: follow links to the seeds' hosts (``"host"``), registrable domains
            (``"domain"``), or URLs under the seeds (``"prefix"``).
        include: regular expressions; when given, only URLs matching one are followed.
        exclude: regular expressions; URLs matching one are skipped.
        max_pages: stop after fetching this many pages (the rest is recorded as skipped).
        max_depth: follow links at most this many steps from a seed; None: 20 while
            ``trap_guards`` is on (Heritrix's default), no bound when it is off.
        parse_types: media types whose bodies are parsed for links (and given to ``parse``).
        obey_robots: obey robots.txt (Disallow, Allow, Crawl-delay, Request-rate).
        sitemaps: also read the seeds' sitemaps (robots.txt ``Sitemap:`` lines, or
            ``/sitemap.xml``), indexes and gzipped ones included.
        follow_nofollow: follow links marked ``rel=nofollow`` (skipped by default).
        frontier_bound: when more URLs than this wait in the frontier, link extraction
            pauses (fetched pages are parked on disk and parsed later); fetching goes on.
        trap_guards: guard against crawler traps (endless calendars, self-appending
            relative links): the default depth bound and the ``repeated_segment`` rule
            (``docs/crawl.md``, "Trap guards"). False lifts both.
        refresh: crawl again the pages earlier runs of the store fetched (older than its
            ``max_age``), with conditional requests (``docs/crawl.md``, "Refresh").
        robots_backoff: seconds before each new try of a robots.txt that did not answer
            (5xx, 429, a connect or proxy error), in the run; the host's URLs wait meanwhile,
            and after the last try stay pending for the next run (never recorded refused).
    """

    fetch: FetchConfig = field(default_factory=FetchConfig)
    scope: ScopeKind = "host"
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()
    max_pages: int | None = None
    max_depth: int | None = None
    parse_types: Sequence[str] = DEFAULT_CONTENT_TYPES
    obey_robots: bool = True
    sitemaps: bool = False
    follow_nofollow: bool = False
    frontier_bound: int = 1_000_000
    trap_guards: bool = True
    refresh: Refresh | None = None
    robots_backoff: Sequence[float] = (1.0, 2.0, 4.0)

    def __post_init__(self) -> None:
        if self.max_pages is not None and self.max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        if self.max_depth is not None and self.max_depth < 0:
            raise ValueError("max_depth cannot be negative")
        if self.frontier_bound < 1:
            raise ValueError("frontier_bound must be at least 1")
        if any(not delay >= 0 for delay in self.robots_backoff):
            raise ValueError("robots_backoff takes seconds, none negative")

    @property
    def depth_bound(self) -> int | None:
        """Return the depth the crawl stops at: ``max_depth``, or the trap guards' default."""
        if self.max_depth is not None or not self.trap_guards:
            return self.max_depth
        return DEFAULT_MAX_DEPTH


def crawl_rules(config: CrawlConfig, seeds: Iterable[str]) -> CrawlRules:
    """Return the crawl scope of ``seeds`` under ``config`` (the one place it is built).

    Raises:
        BadScope: a seed is not an http(s) URL, or a pattern does not compile.
    """
    return CrawlRules(
        seeds=tuple(seeds),
        kind=config.scope,
        include=tuple(config.include),
        exclude=tuple(config.exclude),
        max_depth=config.depth_bound,
        content_types=tuple(config.parse_types),
        traps=config.trap_guards,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """A crawled URL, as the crawl yields it and the parse callback sees it.

    Attributes:
        url: the URL fetched (normalised).
        depth: links from the nearest seed (seeds: 0).
        found_on: the page it was found on (None for seeds).
        result: the URL's final record (status, error kind, bytes, ...).
        body: the body, for responses of a parsed media type (else None).
        links: the URLs found on the page that the crawl follows (in scope, new or not).
        items: what the parse callback made of it.
    """

    url: str
    depth: int
    found_on: str | None
    result: FetchResult
    body: bytes | None = None
    links: tuple[str, ...] = ()
    items: tuple[Mapping[str, Any], ...] = ()

    @property
    def ok(self) -> bool:
        """Return whether the fetch succeeded."""
        return self.result.ok

    def text(self, errors: str = "replace") -> str:
        """Return the body decoded with the response's charset (or UTF-8)."""
        charset = "utf-8"
        content_type = self.result.content_type or ""
        if "charset=" in content_type:
            charset = content_type.split("charset=", 1)[1].split(";")[0].strip() or charset
        try:
            return (self.body or b"").decode(charset, errors)
        except LookupError:
            return (self.body or b"").decode("utf-8", errors)


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a parse callback returns: items to store and, optionally, the links to follow.

    Attributes:
        items: JSON-ready mappings, stored in the ``items`` table.
        links: URLs to follow instead of the links corral found (None: follow corral's).
    """

    items: Sequence[Mapping[str, Any]] = ()
    links: Sequence[str] | None = None


ParseResult = Parsed | Iterable[Mapping[str, Any]] | None
ParseCallback = Callable[[Page], ParseResult | Awaitable[ParseResult]]
