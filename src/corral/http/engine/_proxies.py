"""Proxies: which proxy each request goes through, and which proxy failures move a host.

A fetcher given proxies (``FetchConfig.proxies``) holds a ``ProxyPool``: one route a proxy.
An HTTP(S) proxy is a ``proxy=`` argument on the fetcher's one session (aiohttp chooses the
proxy per request); a SOCKS5 proxy is a session of its own on an aiohttp-socks
``ProxyConnector``, which binds one proxy per connector and cannot switch per request
(romis2012/aiohttp-socks#31, #33, #50).

A host sticks to its proxy (its cookies and its rate stay coherent, as Crawlee's sticky
sessions do); ``per_proxy`` spreads a host's requests over every proxy instead, each
(host, proxy) pair with the politeness of a host of its own, for sites that limit by IP.
A failure of the *proxy* (it refuses the connection, answers 407, cannot open the tunnel,
a SOCKS handshake fails), not of the site, rests the proxy for a while and moves its hosts
to another: the attempt does not count against the URL. With every proxy resting, the
error is the URL's like any other (retried, then recorded with ``error_kind="proxy"``).
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from yarl import URL

from corral._offload import to_thread
from corral.http.web._urls import mask_credentials

if TYPE_CHECKING:  # (FetchConfig checks proxy URLs: importing it does not load aiohttp)
    import aiohttp

SCHEMES = ("http", "https", "socks5")
REST = 30.0  # seconds a failed proxy rests, doubled at each failure in a row (up to MAX_REST)
MAX_REST = 600.0
# SOCKS5 replies (RFC 1928) that speak of the site, not the proxy: network or host
# unreachable, connection refused, TTL expired. The others (general failure, not allowed by
# the ruleset, bad command or address type) and every authentication failure are the proxy's.
_SITE_REPLIES = frozenset({3, 4, 5, 6})
# What a URL's record says when a proxy refused the credentials it was given (a 407, an
# HTTP proxy's own 401, a SOCKS authentication failure): a retry cannot help, the
# credentials must change (the summary counts such records by this phrase).
REFUSED = "it wants other credentials"


def check_proxy(url: str) -> str:
    """Return ``url`` in one spelling (scheme and host in lower case, no ``/`` after the port,
    no default port), if it is a proxy URL corral can use: a proxy given twice, spelled two
    ways, is then one route.

    Raises:
        ValueError: a malformed URL, an unknown scheme, no host or no port.
    """
    text = url.strip()
    shown = _masked(text)
    if "://" not in text:
        raise ValueError(f"malformed proxy URL {shown!r}: expected SCHEME://[USER:PASS@]HOST:PORT")
    rest = text.partition("://")[2]
    if "#" in rest or rest.count("@") > 1:  # (parsed, "p@ss#x@HOST" was the host "ss")
        raise ValueError(
            f"malformed proxy URL {shown!r}: it reads two ways (a raw # or a second @); {_ENCODED}"
        )
    try:
        parsed = URL(text)
        port = parsed.port
    except ValueError as exc:
        raise ValueError(f"malformed proxy URL {shown!r} ({_why(text, exc)})") from None
    if parsed.scheme == "socks5h":
        raise ValueError(
            f"proxy {shown!r}: socks5:// already resolves host names at the proxy (write socks5://)"
        )
    if parsed.scheme not in SCHEMES:
        raise ValueError(
            f"proxy {shown!r}: unknown scheme {parsed.scheme or 'none'!r} "
            f"(one of {', '.join(s + '://' for s in SCHEMES)})"
        )
    if not parsed.host:
        raise ValueError(f"malformed proxy URL {shown!r}: no host")
    if rest.split("/", 1)[0].split("?", 1)[0].endswith(":"):  # (yarl: the default port)
        raise ValueError(f"malformed proxy URL {shown!r}: no port after the ':' (e.g. :8080)")
    if parsed.explicit_port == 0:
        raise ValueError(f"malformed proxy URL {shown!r} (the port 0 is not one from 1 to 65535)")
    if parsed.scheme == "socks5" and parsed.explicit_port is None:
        raise ValueError(f"proxy {shown!r}: a SOCKS5 proxy needs its port (e.g. :1080)")
    if port is None or parsed.path not in ("", "/") or parsed.query_string:
        raise ValueError(f"malformed proxy URL {shown!r}: expected SCHEME://[USER:PASS@]HOST:PORT")
    return str(parsed.with_path(""))  # (the credentials stay as written: percent-encoded)


_ENCODED = "a password with # / ? @ in it is written percent-encoded (# as %23, @ as %40)"


def _why(text: str, exc: ValueError) -> str:
    """Return why yarl refused a proxy URL: the port or the host, said so; the
    percent-encoding hint only where a raw / or ? in the credentials may have cut the
    address short (it cannot help a bad port or no host)."""
    address = text.partition("://")[2]
    userinfo, at, hostport = address.rpartition("@")
    if at and any(c in userinfo for c in "/?"):
        return f"{exc}; {_ENCODED}"
    host, colon, port = hostport.partition("/")[0].rpartition(":")
    if not (host if colon else port):
        return "no host"
    if colon and port and not (port.isdigit() and 0 < int(port) < 65536):
        return f"the port {port} is not one from 1 to 65535"
    return str(exc)


def _masked(text: str) -> str:
    """Return a proxy URL as messages show it: what stands before its last ``@`` (its
    credentials, however malformed: a raw ``#`` ends a URL's address for URL parsers) as
    ``USER:***``."""
    scheme, sep, rest = text.partition("://")
    if not sep or "@" not in rest:
        return mask_credentials(text)
    userinfo, _, address = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}:***@{address}" if colon else f"{scheme}://***@{address}"


def read_proxies(path: str) -> list[str]:
    """Return the proxy URLs in a file, one a line (blank lines and ``#`` comments skipped).

    Raises:
        OSError: the file cannot be read.
        ValueError: a line is not a proxy URL (the message names the line).
    """
    with open(path, encoding="utf-8") as file:
        try:
            lines = file.read().splitlines()
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not UTF-8 text") from None
    proxies = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            proxies.append(check_proxy(line))
        except ValueError as exc:
            raise ValueError(f"{path}, line {number}: {exc}") from None
    return proxies


def check_ca(ca: str, proxies: Iterable[str]) -> None:
    """Check that ``ca`` (``--proxy-ca``) is a PEM file of certificates, for an https:// proxy.

    Raises:
        ValueError: it cannot be read, holds no certificate, or no proxy is https://.
    """
    if not any(URL(p).scheme == "https" for p in proxies):
        raise ValueError("it is for https:// proxies' certificates: give an https:// proxy")
    try:
        trusting(ca)
    except ssl.SSLError:
        raise ValueError("no certificate in it (a PEM file of certificates)") from None
    except OSError as exc:
        raise ValueError(f"cannot read it: {exc.strerror or exc}") from None


def trusting(ca: str) -> ssl.SSLContext:
    """Return a context that checks certificates against the system's CAs and ``ca``'s
    (a PEM file, or PEM text: ``is_pem``).

    Raises:
        OSError: ``ca`` cannot be read.
        ssl.SSLError: ``ca`` holds no certificate.
    """
    context = ssl.create_default_context()
    if is_pem(ca):
        context.load_verify_locations(cadata=ca)
    else:
        context.load_verify_locations(ca)
    return context


def is_pem(ca: str) -> bool:
    """Return whether ``ca`` is PEM text rather than a file's path: a job over Redis sends its
    workers the certificates, since a path means nothing on another machine (a trial)."""
    return ca.lstrip().startswith("-----BEGIN")


def read_ca(ca: str | None) -> str | None:
    """Return the PEM text of ``ca`` (a path, or PEM text already), None for None.

    Raises:
        OSError: the file cannot be read.
    """
    if ca is None or is_pem(ca):
        return ca
    with open(ca, encoding="ascii", errors="replace") as file:
        return file.read()


def refuses_credentials(exc: BaseException) -> bool:
    """Return whether an attempt's exception is a proxy refusing its credentials: a 407 to
    the CONNECT of a tunnel, or a 401 (tinyproxy's: only the proxy answers a CONNECT), or a
    SOCKS5 authentication failure."""
    import aiohttp
    from aiohttp_socks import ProxyError

    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return exc.status in (401, 407)
    return isinstance(exc, ProxyError) and "authentication" in str(exc).lower()


def refused(error_kind: str | None, error: str | None) -> bool:
    """Return whether a record is a proxy's refusal of its credentials: never retried."""
    return error_kind == "proxy" and REFUSED in (error or "")


def is_proxy_fault(exc: BaseException) -> bool:
    """Return whether an attempt's exception is the proxy's failure, not the site's."""
    import aiohttp
    from aiohttp_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return True  # the proxy refused the connection, or the CONNECT tunnel failed (407...)
    if isinstance(exc, ProxyConnectionError | ProxyTimeoutError):
        return True
    if isinstance(exc, ProxyError):
        return getattr(exc, "error_code", None) not in _SITE_REPLIES
    return False


@dataclass(slots=True)
class ProxyRoute:
    """One proxy: how a request goes through it, and its counts.

    Attributes:
        url: the proxy URL, with its credentials (used for requests only).
        shown: the URL with the password masked, as records and summaries show it.
        session: the session of a SOCKS proxy (None: the fetcher's session, ``proxy=url``).
        context: what checks the certificates of an https:// proxy given a CA (``proxy_ca``):
            aiohttp checks the proxy's and the site's with one context, the request's.
        requests: attempts made through it.
        errors: attempts that failed through its fault.
        rested: times it was rested.
        reached: a site answered through it (its credentials are good: a 401 is the site's).
    """

    url: str
    shown: str
    session: aiohttp.ClientSession | None = None
    context: ssl.SSLContext | None = None
    requests: int = 0
    errors: int = 0
    rested: int = 0
    resting_until: float = float("-inf")
    failures_in_a_row: int = 0
    reached: bool = False

    @property
    def http(self) -> str | None:
        """Return the URL to pass as aiohttp's ``proxy=`` (None for a SOCKS proxy)."""
        return None if self.session is not None else self.url


class ProxyPool:
    """The routes of a fetcher's proxies, which host uses which, and their rests."""

    def __init__(self, urls: Iterable[str], *, per_proxy: bool, ca: str | None = None) -> None:
        self.routes = [ProxyRoute(url, mask_credentials(url)) for url in urls]
        self.per_proxy = per_proxy
        self._ca = ca
        self._sticky: dict[str, ProxyRoute] = {}  # host -> its proxy (not per_proxy)
        self._turn = itertools.cycle(range(len(self.routes)))

    async def open(self, session: dict[str, Any], connector: dict[str, Any]) -> None:
        """Make a session for each SOCKS proxy (HTTP proxies share the fetcher's), and the
        context that trusts ``ca`` for the https:// ones.

        Raises:
            OSError: ``ca`` cannot be read.
            ssl.SSLError: ``ca`` holds no certificate.
        """
        import aiohttp
        from aiohttp_socks import ProxyConnector

        if self._ca is not None:
            context = await to_thread(trusting, self._ca)
            for route in self.routes:
                if route.url.startswith("https://"):
                    route.context = context

        for route in self.routes:  # one session a proxy, for the whole run (closed in close())
            if route.url.startswith("socks5://"):
                socks = ProxyConnector.from_url(route.url, **connector)
                route.session = aiohttp.ClientSession(connector=socks, **session)  # noqa: COR103

    async def close(self) -> None:
        """Close the SOCKS proxies' sessions."""
        for route in self.routes:
            if route.session is not None:
                await route.session.close()
        await asyncio.sleep(0)  # (let their transports close before the loop may end)

    def for_host(self, host: str, now: float) -> ProxyRoute:
        """Return the route for a request to ``host`` now: its own while that one is up."""
        route = self._sticky.get(host)
        if route is None or route.resting_until > now:
            route = self._sticky[host] = self._next_up(now)
        return route

    def spread(self, now: float) -> ProxyRoute:
        """Return the next route up, in turn (``per_proxy``: a new flight's lane)."""
        return self._next_up(now)

    def _next_up(self, now: float) -> ProxyRoute:
        """Return the next route in turn that is not resting; if all are, the one whose rest
        ends first."""
        for _ in range(len(self.routes)):
            route = self.routes[next(self._turn)]
            if route.resting_until <= now:
                return route
        return min(self.routes, key=lambda r: r.resting_until)

    def failed(self, route: ProxyRoute, now: float) -> bool:
        """Count a failure of ``route`` and rest it; return whether another proxy is up
        (then the attempt is the proxy's loss, not the URL's: the host moves)."""
        route.errors += 1
        if route.resting_until <= now:  # (the requests in flight fail together: one rest)
            route.rested += 1
            route.failures_in_a_row += 1
            rest = min(MAX_REST, REST * 2 ** (route.failures_in_a_row - 1))
            route.resting_until = now + rest
        return any(r.resting_until <= now for r in self.routes)

    def succeeded(self, route: ProxyRoute) -> None:
        """Count an attempt through ``route`` that reached the site."""
        route.failures_in_a_row = 0

    def figures(self) -> dict[str, tuple[int, int, int]]:
        """Return each proxy's (requests, errors, rested), by its masked URL."""
        return {r.shown: (r.requests, r.errors, r.rested) for r in self.routes}
