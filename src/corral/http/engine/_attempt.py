"""One HTTP attempt on aiohttp: stream the body under a size bound, classify what went wrong.

The body is read in the chunks aiohttp delivers *after* decompression, so ``max_bytes``
bounds the decoded size and a gzip bomb stops at the limit (aiohttp >= 3.13 also bounds each
decompression step, so no single chunk inflates past its buffer). A declared Content-Length
over the limit ends the attempt before any body is read.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import hashlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from yarl import URL

from corral.http.engine._config import FetchConfig
from corral.http.engine._download import Downloads, Partial, download, range_headers, streams
from corral.http.engine._local import LOCAL, local_errno
from corral.http.engine._proxies import REFUSED, ProxyRoute, is_proxy_fault, refuses_credentials
from corral.http.engine._request import Request
from corral.http.web._urls import mask_credentials

_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})


@dataclass(slots=True, kw_only=True)
class AttemptOutcome:
    """What one attempt produced (the engine turns the last one into a ``FetchResult``)."""

    status: int | None = None
    final_url: str | None = None
    headers: dict[str, str] | None = None
    content_type: str | None = None
    body: bytes | None = None
    size: int = 0
    sha256: str | None = None
    error_kind: str | None = None
    error: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    body_path: str | None = None  # a body streamed to disk (``_download``)
    received: int | None = None  # of ``size``, the bytes this attempt brought (a resumed one)


async def attempt(
    session: aiohttp.ClientSession,
    request: Request,
    config: FetchConfig,
    timeout: aiohttp.ClientTimeout,
    *,
    keep_body: bool | Callable[[str | None], bool],
    route: ProxyRoute | None = None,
    downloads: Downloads | None = None,
) -> AttemptOutcome:
    """Make one request and read its body; never raises for network or HTTP trouble.

    Through ``route``'s proxy when one is given: an HTTP(S) proxy as aiohttp's ``proxy=``
    on ``session``, a SOCKS proxy through its own session. With ``downloads``
    (``--save-bodies dir`` in a fetch), a large body goes to disk, and a download an
    earlier attempt left short is resumed (``_download``).
    """
    started = time.monotonic()
    outcome = AttemptOutcome()
    partial = None
    if downloads is not None and request.method == "GET":
        partial = await downloads.partial(request.url)  # (never raises: None on OSError)
        if partial is not None and partial.length > config.max_bytes:
            outcome.error_kind, outcome.error = "too_large", _kept(partial, config.max_bytes)
            return outcome  # decided from the sidecar: no request
    url = URL(request.url, encoded=True)  # already normalised: no second parse in aiohttp
    proxy, forwarded, untrusted = None, False, False
    context: ssl.SSLContext | bool = True  # (aiohttp's default: the system's CAs)
    if route is not None:
        route.requests += 1
        session, proxy = route.session or session, route.http
        context = route.context or True
    headers = request.headers
    try:
        if partial is not None and partial.resumable:
            headers = {**headers, **range_headers(partial)}
        else:
            partial = None  # nothing to resume: a 200 starts the part over
        async with session.request(
            request.method,
            url,
            headers=headers or None,
            data=request.body,
            json=request.json,
            max_redirects=config.max_redirects,
            timeout=timeout,
            proxy=proxy,
            ssl=context,
        ) as response:
            outcome.status = response.status
            forwarded = proxy is not None and "Via" in response.headers  # (a proxy's mark)
            # not redirected: the URL asked for (yarl's str() rebuilds the text, 0.6 µs)
            outcome.final_url = request.url if response.url is url else str(response.url)
            outcome.headers = _headers(response, masked=config.cookies)
            outcome.content_type = response.headers.get("Content-Type")
            if response.status in (429, 503):
                outcome.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            keep = keep_body(outcome.content_type) if callable(keep_body) else keep_body
            if response.status == 304:
                pass  # Not Modified: no body (a --refresh keeps the earlier one)
            elif downloads is not None and keep and streams(response, partial):
                await _download(response, downloads, request.url, partial, config, outcome)
            else:
                await _read_body(response, config.max_bytes, keep, outcome)
    except Exception as exc:  # every failure becomes a recorded outcome
        outcome.error_kind, outcome.error = classify(exc)
        if outcome.error_kind == "timeout" and not str(exc):
            outcome.error = _timed_out(outcome.status, timeout.total)
        if route is not None and outcome.error_kind != LOCAL and _at_proxy(exc, route):
            outcome.error_kind = "proxy"  # (its TLS failed: aiohttp says so as of a site)
            untrusted = isinstance(exc, aiohttp.ClientConnectorCertificateError)
        if outcome.error_kind == "proxy" and refuses_credentials(exc):
            outcome.error = f"{outcome.error}: {REFUSED}"
    outcome.seconds = time.monotonic() - started
    if outcome.error_kind is None and outcome.status is not None and outcome.status >= 400:
        if route is not None and _refused_by_proxy(route, url, outcome.status, forwarded):
            outcome.error_kind = "proxy"
            outcome.error = f"HTTP {outcome.status} from proxy {route.shown}: {REFUSED}"
        else:
            outcome.error_kind = "http_status"
            outcome.error = f"HTTP {outcome.status}"
    if route is not None:
        _through(route, outcome)
        if untrusted:
            outcome.error = f"{outcome.error}; to trust its certificate: --proxy-ca FILE"
    return outcome


def _through(route: ProxyRoute, outcome: AttemptOutcome) -> None:
    """Note that a site answered through ``route``, or name it in its own failure."""
    if outcome.error_kind != "proxy":
        route.reached = route.reached or outcome.status is not None  # (credentials good)
        return
    error = mask_credentials(outcome.error or "")
    outcome.error = error if route.shown in error else f"{error} (through proxy {route.shown})"


def _at_proxy(exc: BaseException, route: ProxyRoute) -> bool:
    """Return whether a connection error is one to the HTTP(S) proxy itself (a certificate
    refused, a TLS handshake failed), not to the site behind it."""
    if route.session is not None or not isinstance(exc, aiohttp.ClientConnectorError):
        return False
    proxy = URL(route.url)
    return (exc.host, exc.port) == (proxy.host, proxy.port)


def _refused_by_proxy(route: ProxyRoute, url: URL, status: int, forwarded: bool) -> bool:
    """Return whether an answer is an HTTP proxy's refusal of its credentials: to a plain
    http URL (an https URL goes through a tunnel, whose refusal raises), a 407, or a 401
    without ``Via`` before any site answered through the proxy (tinyproxy before 1.11.2
    refuses a wrong password with a 401 of its own, tinyproxy/tinyproxy#532; a proxy puts
    ``Via`` on the answers it forwards, RFC 9110 section 7.6.3)."""
    if route.session is not None or url.scheme != "http":
        return False  # (a SOCKS proxy, or a tunnel: the site's answer)
    return status == 407 or (status == 401 and not forwarded and not route.reached)


def _kept(partial: Partial, limit: int) -> str:
    """Say that a partial download is over ``limit`` by its sidecar and is kept (a run with
    a larger ``--max-bytes`` resumes it; issue 17)."""
    return (
        f"the partial download's length {partial.length} is over the {limit}-byte limit "
        f"(no request made); its {partial.have} bytes kept in {partial.part}"
    )


async def _read_body(
    response: aiohttp.ClientResponse, limit: int, keep: bool, outcome: AttemptOutcome
) -> None:
    declared = response.content_length
    if declared is not None and declared > limit:
        outcome.error_kind = "too_large"
        outcome.error = f"Content-Length {declared} is over the {limit}-byte limit"
        return
    if declared is not None and "Content-Encoding" not in response.headers:
        # Not compressed, length known and within the limit: one read, no streaming loop.
        body = await response.read()
        outcome.size = len(body)
        outcome.sha256 = hashlib.sha256(body).hexdigest()
        outcome.body = body if keep else None
        return
    hasher = hashlib.sha256()
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            outcome.size = size
            outcome.error_kind = "too_large"
            outcome.error = f"body over the {limit}-byte limit (after decompression)"
            return
        hasher.update(chunk)
        if keep:
            parts.append(chunk)
    outcome.size = size
    outcome.sha256 = hasher.hexdigest()
    if keep:
        outcome.body = b"".join(parts)


async def _download(
    response: aiohttp.ClientResponse,
    downloads: Downloads,
    url: str,
    partial: Partial | None,
    config: FetchConfig,
    outcome: AttemptOutcome,
) -> None:
    """Stream a large body to disk (or resume it) under ``--max-bytes``."""
    total = partial.length if partial is not None else response.content_length or 0
    if total > config.max_bytes:
        outcome.error_kind = "too_large"
        outcome.error = f"Content-Length {total} is over the {config.max_bytes}-byte limit"
        return
    saved = await download(response, downloads, url, partial)
    outcome.size, outcome.sha256, outcome.body_path = saved.size, saved.sha256, saved.path
    outcome.received = saved.received
    if response.status == 416:  # the part was whole already: nothing more was sent
        outcome.status = 200


def _headers(response: aiohttp.ClientResponse, *, masked: bool) -> dict[str, str]:
    """Return a response's headers as a record keeps them (a repeated header joined by
    ``", "``); with ``masked`` (corral keeps the cookies: ``--cookies``), each Set-Cookie's
    value as ``***``: the session lives in the 0600 jar, not in the store or its exports."""
    fast = dict(response.headers)
    if len(fast) == len(response.headers) and not (masked and "Set-Cookie" in response.headers):
        return fast  # no repeated header: the common case, converted in C
    headers: dict[str, str] = {}
    for name, value in response.headers.items():
        if masked and name.lower() == "set-cookie":
            value = _masked_cookie(value)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _masked_cookie(value: str) -> str:
    """Return a Set-Cookie header with its cookie's value as ``***`` (name and attributes
    kept: ``session=***; Path=/``)."""
    pair, semicolon, attributes = value.partition(";")
    name, equals, _ = pair.partition("=")
    return f"{name}{equals}***{semicolon}{attributes}" if equals else value


def parse_retry_after(value: str | None) -> float | None:
    """Return a Retry-After header's wait in seconds (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())  # an HTTP-date is wall-clock time


def classify(exc: BaseException) -> tuple[str, str]:
    """Return the error kind and a one-line message for an exception from an attempt."""
    kind = _kind(exc)
    name = type(exc).__name__
    message = " ".join(str(exc).split())
    return kind, (f"{name}: {message}" if message else name)[:500]


def _timed_out(status: int | None, limit: float | None) -> str:
    # aiohttp raises its total timeout as a bare TimeoutError: say which phase it cut short.
    within = (
        "before the attempt timed out"
        if limit is None
        else f"within {limit:g} s (the timeout for a whole attempt)"
    )
    if status is None:
        return f"TimeoutError: no response {within}"
    return f"TimeoutError: HTTP {status} received, but the body was not complete {within}"


def _kind(exc: BaseException) -> str:
    if local_errno(exc) is not None:  # this machine's trouble, not the URL's (see _local)
        return LOCAL
    if is_proxy_fault(exc):
        return "proxy"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too_many_redirects"
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.InvalidUrlRedirectClientError):
        return "invalid_url"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "dns"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return "tls"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connect"
    if isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError):
        return "reset"
    if isinstance(exc, aiohttp.ClientOSError):
        return "reset" if exc.errno in _RESET_ERRNOS else "connect"
    return "protocol"
