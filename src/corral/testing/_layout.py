"""The shape of the generated crawl site, and the second host name it links to."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteLayout:
    """How big the generated parts of the crawl site are, and its second host name.

    Attributes:
        pages: Interlinked pages ``/site/0.html`` .. ``/site/{pages-1}.html``, all reachable
            from ``/site/0.html`` and all listed in the sitemaps.
        chain_length: Pages in the depth chain ``/chain/0.html`` -> ``/chain/1.html`` -> ...;
            page i is at depth i from the first.
        orphans: Pages ``/orphan/{i}.html`` that no page links to: only the sitemap lists them.
        other_host: Another name for this machine, used for links that leave the site's host
            (``localhost`` by default; the site listens on one address, so both names reach
            the same server, but to a crawler they are different hosts).

    Raises:
        ValueError: A count is out of range or ``other_host`` is empty.
    """

    pages: int = 1000
    chain_length: int = 20
    orphans: int = 10
    other_host: str = "localhost"

    def __post_init__(self) -> None:
        if self.pages < 1:
            raise ValueError(f"SiteLayout.pages must be >= 1, got {self.pages!r}")
        if self.chain_length < 1:
            raise ValueError(f"SiteLayout.chain_length must be >= 1, got {self.chain_length!r}")
        if self.orphans < 0:
            raise ValueError(f"SiteLayout.orphans must be >= 0, got {self.orphans!r}")
        if not self.other_host:
            raise ValueError("SiteLayout.other_host must not be empty")


class Origins:
    """Work out a request's own origin and the origin of "the other host"."""

    __slots__ = ("_host", "_other")

    def __init__(self, *, host: str, other_host: str) -> None:
        self._host = host
        self._other = other_host

    def own(self, request: web.BaseRequest) -> str:
        """Return the origin the client used, e.g. ``http://127.0.0.1:8080``."""
        return str(request.url.origin())

    def other(self, request: web.BaseRequest) -> str:
        """Return the same server under the other host name (swapped if the client used it)."""
        url = request.url
        name = self._host if url.host == self._other else self._other
        if ":" in name:  # an IPv6 literal
            name = f"[{name}]"
        return f"{url.scheme}://{name}:{url.port}"
