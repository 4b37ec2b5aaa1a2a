"""Reaching Redis: the lazy import of redis-py, URL masking, the version check, job names.

redis-py is imported here, on first use, never at ``import corral``: a user without the
``redis`` extra gets a ``ScaleError`` saying how to install it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from corral.http._errors import RedisUnreachable, ScaleError
from corral.http.web._urls import mask_credentials

if TYPE_CHECKING:
    import redis.asyncio

MIN_VERSION = (7, 0)
SOCKET_CONNECT_TIMEOUT = 5.0  # seconds to connect (and, with rediss://, to shake hands)
SOCKET_TIMEOUT = 30.0  # seconds a reply may take before Redis counts as unreachable
MAX_BLOCK = 10.0  # seconds a blocking wait lasts at most (well under SOCKET_TIMEOUT)
_JOB = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def redis_module() -> ModuleType:
    """Return ``redis.asyncio``.

    Raises:
        ScaleError: redis-py is not installed.
    """
    try:
        import redis.asyncio
    except ImportError:
        raise ScaleError(
            "--redis needs redis-py: pip install 'corral[redis]'", exit_code=2
        ) from None
    return redis.asyncio


def outage_errors() -> tuple[type[BaseException], ...]:
    """Return the redis-py errors that mean "Redis is not answering now" (worth a retry)."""
    from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError, BusyLoadingError, OSError)


def masked(url: str) -> str:
    """Return ``url`` with its password shown as ``***`` (``redis://:***@host``)."""
    return mask_credentials(url)


def check_job(job: str) -> None:
    """Refuse a job name that cannot be part of a key's hash tag.

    Raises:
        ScaleError: ``job`` is empty, too long, has characters other than letters,
            digits, ``_``, ``.`` and ``-``, or starts with other than a letter or a digit.
    """
    if _JOB.fullmatch(job) is None:
        raise ScaleError(
            f"bad job name {job!r}: a job name is 1 to 100 letters, digits, '_', '.' and "
            "'-', and starts with a letter or a digit",
            exit_code=2,
        )


async def open_client(url: str) -> redis.asyncio.Redis:
    """Return a client of ``url`` that answered PING, on Redis 7.0 or newer.

    Raises:
        RedisUnreachable: Redis did not answer.
        ScaleError: a bad URL, or a Redis older than 7.0.
    """
    module = redis_module()
    try:
        # redis-py's default read timeout is 5 s, which a blocking wait (BLPOP, XREADGROUP
        # BLOCK) of as long would hit: reads get SOCKET_TIMEOUT, and blocking waits are kept
        # well below it (MAX_BLOCK); keepalive notices a peer gone without a word.
        options: dict[str, Any] = {
            "socket_connect_timeout": SOCKET_CONNECT_TIMEOUT,
            "socket_timeout": SOCKET_TIMEOUT,
        }
        if not url.startswith("unix://"):  # (a Unix socket's connection takes no keepalive)
            options["socket_keepalive"] = True
        client: Any = module.Redis.from_url(url, **options)
    except ValueError as exc:
        raise ScaleError(f"bad Redis URL {masked(url)}: {exc}", exit_code=2) from None
    from redis.exceptions import AuthenticationError, RedisError, ResponseError

    try:
        info = await client.info("server")
    except (AuthenticationError, ResponseError) as exc:  # answered, but refused us
        await client.aclose()
        if _wants_password(exc):
            raise ScaleError(
                f"{masked(url)} wants a password: give it in the URL, "
                "redis://:PASSWORD@HOST:PORT/DB (or redis://USER:PASSWORD@...)",
                exit_code=2,
            ) from None
        raise ScaleError(f"{masked(url)} refused: {_reason(exc)}", exit_code=2) from None
    except outage_errors() as exc:
        await client.aclose()
        if url.startswith("rediss://") and await _answers_plainly(url):
            raise ScaleError(
                f"{masked(url)}: no TLS handshake in {SOCKET_CONNECT_TIMEOUT:g} s, though the "
                "port accepts connections; a Redis without TLS takes redis://",
                exit_code=2,
            ) from None
        raise unreachable(url, exc) from None
    except RedisError as exc:  # something answered that is not Redis (a web server...)
        await client.aclose()
        raise ScaleError(
            f"{masked(url)} does not answer as Redis does ({_reason(exc)})", exit_code=2
        ) from None
    version = str(info.get("valkey_version") or info.get("redis_version") or "0")
    if tuple(int(part) for part in version.split(".")[:2]) < MIN_VERSION:
        await client.aclose()
        raise ScaleError(
            f"{masked(url)} is Redis {version}; corral needs 7.0 or newer", exit_code=2
        )
    return client  # type: ignore[no-any-return]


def _wants_password(exc: BaseException) -> bool:
    """Whether Redis refused a client that gave no password (Redis 7 words it as HELLO's
    complaint, older servers and proxies as NOAUTH)."""
    text = str(exc)
    return "HELLO must be called with the client already authenticated" in text or (
        "NOAUTH" in text
    )


def _reason(exc: BaseException) -> str:
    return mask_credentials(str(exc).strip().rstrip(".")) or type(exc).__name__


async def _answers_plainly(url: str) -> bool:
    """Return whether ``url``'s host and port accept a plain TCP connection (a ``rediss://``
    whose TLS handshake timed out: most often a Redis without TLS)."""
    parsed = urlsplit(url)
    try:
        async with asyncio.timeout(SOCKET_CONNECT_TIMEOUT):
            _, writer = await asyncio.open_connection(parsed.hostname, parsed.port or 6379)
    except (OSError, TimeoutError, ValueError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def unreachable(url: str, exc: BaseException) -> RedisUnreachable:
    """Return the one-line error for Redis at ``url`` not answering with ``exc``."""
    why = mask_credentials(str(exc).strip().rstrip(".")) or type(exc).__name__
    return RedisUnreachable(f"{masked(url)} unreachable ({why})", exit_code=2)
