"""Redis addresses as messages show them (password masked) and checked before use."""

from __future__ import annotations

import re
from dataclasses import dataclass

from corral.http._errors import ScaleError


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where a distributed job lives: ``--redis URL --job NAME [--workers N]``."""

    url: str
    job: str
    workers: int = 1  # local worker processes the coordinator runs (0: only remote ones)


_JOB = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def masked(url: str) -> str:
    """Return ``url`` with its password (if any) replaced by ``***``."""
    return re.sub(r"^(\w+://)([^:@/]*):[^@/]*@", r"\1\2:***@", url)


def check_url(url: str) -> str:
    """Return ``url`` if it is a Redis URL; else raise ``ScaleError`` saying what is expected."""
    if not re.match(r"^(redis|rediss|unix)://", url):
        raise ScaleError(
            f"--redis {masked(url)!r} is not a Redis URL: write redis://HOST:PORT/DB "
            "(rediss:// for TLS, unix:///path/to/socket)"
        )
    return url


def check_job(name: str) -> str:
    """Return ``name`` if it can name a job; else raise ``ScaleError``."""
    if not _JOB.fullmatch(name):
        raise ScaleError(
            f"--job {name!r} is not a job name: use letters, digits, '.', '_' and '-' "
            "(at most 100, starting with a letter or digit)"
        )
    return name


def describe_error(exc: BaseException) -> str:
    """Return the short reason of a connection error, without redis-py's wrapping."""
    text = str(exc) or type(exc).__name__
    text = re.sub(r"^Error \d+ connecting to [^.]+\.\s*", "", text)
    return text.rstrip(".").splitlines()[0] if text else type(exc).__name__
