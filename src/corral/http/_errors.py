"""The errors ``corral.http`` raises on purpose, all under ``corral.CorralError``.

A URL that cannot be fetched, or a page that failed, is an outcome (a record), not one of
these: they are for what stops a call or a run. The whole tree is drawn in
``docs/design.md`` ("Errors").
"""

from __future__ import annotations

from corral._clierrors import CliError
from corral._exceptions import CorralError


class BadURL(CorralError, ValueError):
    """A URL corral will not fetch: the message says why in a few words.

    Raised by ``request_for`` and URL parsing; a crawl or fetch records such input as an
    ``invalid_url`` outcome instead of stopping.
    """


class BadScope(CorralError, ValueError):
    """Crawl rules that cannot work: a bad pattern, scope kind, depth or seed."""


class ResourceExhausted(CliError):
    """This machine ran out of file descriptors, buffers or memory for a while: the run stopped.

    Records already made are kept; the URLs held back are still pending. Such errors are the
    run's problem, never a URL's outcome (see ``corral.http.engine._local``). On the command
    line: exit 75 (EX_TEMPFAIL, sysexits.h: a temporary failure, try again later).
    """

    exit_code = 75


class ScaleError(CliError):
    """A distributed job cannot go on: Redis unreachable or too old, no such job, a job of
    another kind under that name. The message is one line: what, where (the Redis URL, its
    password masked) and what to do. On the command line: exit 2.
    """

    exit_code = 2
