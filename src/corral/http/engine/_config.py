"""``FetchConfig``: every option of the fetcher, as one frozen object (the CLI's flags map 1:1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from corral import __version__
from corral._ratelimit import parse_rate
from corral._retry import Backoff, as_backoff
from corral.http.engine._proxies import check_proxy

SaveBodies = Literal["none", "store", "dir"]
DEFAULT_USER_AGENT = f"corral/{__version__} (bulk fetcher; polite by default)"
RETRY_STATUSES = frozenset({429, *range(500, 600)})
RETRY_ERRORS = frozenset({"connect", "dns", "timeout", "reset", "protocol", "proxy"})


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchConfig:
    """How to fetch: concurrency, politeness, retries, timeouts and limits.

    Attributes:
        concurrency: the most requests in flight at once, over all hosts.
        per_host: the most requests in flight at once to one host.
        rate: the most request starts per host, as ``"5/s"`` (None: no fixed rate; a host
            that answers 429/503 is still slowed down adaptively).
        retries: retries after the first attempt, for the errors and statuses below.
        connect_timeout: seconds to connect, per attempt.
        timeout: seconds for a whole attempt (connect, send, headers and body). Time spent
            waiting for a slot or a retry is never counted.
        max_bytes: the largest body accepted, counted after decompression (a gzip bomb
            stops here as ``too_large``).
        max_redirects: redirects followed per attempt.
        headers: headers sent with every request.
        user_agent: the User-Agent header.
        save_bodies: ``"none"``, ``"store"`` (in the results), or ``"dir"`` (files named by
            their SHA-256 under ``bodies_dir``).
        bodies_dir: where ``save_bodies="dir"`` writes.
        retry_statuses: statuses that are retried (429 and 5xx by default; never other 4xx).
        retry_errors: error kinds that are retried.
        backoff: waits between retries (a server's Retry-After takes precedence); a number
            is the first wait, doubling (``Backoff(initial=number)``).
        max_retry_after: the longest Retry-After honoured; a longer one ends the URL.
        adaptive: slow a host down when it answers 429/503, and speed it up as it recovers.
        proxies: proxy URLs (``http://``, ``https://``, ``socks5://``, credentials in the
            URL) the requests go through; a host sticks to one while it works.
        per_proxy: spread each host's requests over every proxy, with the politeness of a
            host of its own per (host, proxy): for sites that limit by IP.
        proxy_ca: a PEM file of certificates trusted, beside the system's, for the
            ``https://`` proxies' own certificates (a proxy's self-signed one), or the PEM
            text itself (a job over Redis sends its workers the text, read from the file).
        cookies: keep the cookies sites set, one jar per host (off: stateless).
        cookie_jar: a file the jar is loaded from (a corral JSON jar, or a Netscape
            ``cookies.txt``) and saved to as a JSON jar every 2 s while it changes and when the
            fetcher closes; implies ``cookies``.
    """

    concurrency: int = 100
    per_host: int = 8
    rate: str | None = None
    retries: int = 3
    connect_timeout: float = 10.0
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 10
    headers: Mapping[str, str] = field(default_factory=dict)
    user_agent: str = DEFAULT_USER_AGENT
    save_bodies: SaveBodies = "none"
    bodies_dir: str | None = None
    retry_statuses: frozenset[int] = RETRY_STATUSES
    retry_errors: frozenset[str] = RETRY_ERRORS
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=0.5, max=30.0))
    max_retry_after: float = 300.0
    adaptive: bool = True
    proxies: tuple[str, ...] = ()
    per_proxy: bool = False
    proxy_ca: str | None = None
    cookies: bool = False
    cookie_jar: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "backoff", as_backoff(self.backoff))  # a number: its first wait
        for name in ("concurrency", "per_host", "max_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("retries", "max_redirects"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")
        if self.connect_timeout <= 0 or self.timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.rate is not None:
            parse_rate(self.rate)
        if self.save_bodies not in ("none", "store", "dir"):
            raise ValueError(f"save_bodies must be none, store or dir, not {self.save_bodies!r}")
        if self.save_bodies == "dir" and not self.bodies_dir:
            raise ValueError('save_bodies="dir" needs bodies_dir')
        given: object = self.proxies  # (typed as a tuple; a caller may pass one string)
        if isinstance(given, str):
            raise ValueError("proxies must be a sequence of proxy URLs, not one string")
        proxies = dict.fromkeys(check_proxy(p) for p in self.proxies)  # (one route a proxy)
        object.__setattr__(self, "proxies", tuple(proxies))
        if self.per_proxy and not self.proxies:
            raise ValueError("per_proxy needs proxies")
        if self.proxy_ca is not None and not any(p.startswith("https:") for p in self.proxies):
            raise ValueError("proxy_ca is for https:// proxies: give one")
        if self.cookie_jar is not None:
            object.__setattr__(self, "cookies", True)

    @property
    def rate_interval(self) -> float:
        """Return the minimum seconds between starts on one host (0 without a rate)."""
        if self.rate is None:
            return 0.0
        count, period = parse_rate(self.rate)
        return period / count
