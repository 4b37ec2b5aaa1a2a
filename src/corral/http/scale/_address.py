"""Where a distributed job lives (``--redis URL --job NAME``), checked before use.

Light on purpose: the command line's parser imports it, and must not load redis-py or aiohttp.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from urllib.parse import urlsplit

from corral.http._errors import ScaleError
from corral.http.web._urls import mask_credentials


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where a distributed job lives: ``--redis URL --job NAME [--workers N]``."""

    url: str
    job: str
    workers: int = 1  # local worker processes the coordinator runs (0: only remote ones)


def check_url(url: str) -> str:
    """Return ``url`` if it is a Redis URL; else raise ``ScaleError`` saying what is expected."""
    if not re.match(r"^(redis|rediss|unix)://", url):
        raise ScaleError(
            f"--redis {mask_credentials(url)!r} is not a Redis URL: write "
            "redis://HOST:PORT/DB (rediss:// for TLS, unix:///path/to/socket)"
        )
    if not url.startswith("unix://"):
        database = urlsplit(url).path.strip("/")
        if database and not database.isdigit():  # redis-py would quietly use database 0
            raise ScaleError(
                f"--redis {mask_credentials(url)!r}: the database must be a number "
                f"(redis://HOST:PORT/DB), not {database!r}"
            )
    return url


def worker_command(url: str, job: str) -> str:
    """Return the command that starts a worker of ``job`` on ``url``, as it works when run,
    never showing a password: a URL this process read from ``CORRAL_REDIS_URL`` is left to
    that variable, and a URL with a password is given in it, ``***`` standing for it."""
    command = f"corral worker --job={job}" if job.startswith("-") else f"corral worker --job {job}"
    if os.environ.get("CORRAL_REDIS_URL") == url:
        return f"{command} (with CORRAL_REDIS_URL set as here)"
    shown = mask_credentials(url)
    if shown != url:  # ``--redis redis://:***@h`` would fail as printed: the variable says it
        return f"CORRAL_REDIS_URL={shlex.quote(shown)} {command} (*** = the password)"
    return f"{command.replace('--job', f'--redis {shlex.quote(url)} --job', 1)}"
