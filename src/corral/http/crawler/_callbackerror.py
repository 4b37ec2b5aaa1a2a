"""A parse callback's exception as a page outcome: ``parse_error`` (issue 13, item 6).

A callback that raises on one page must not end the crawl: the page is recorded with
``error_kind`` ``parse_error`` and an error naming the exception and where in the callback
it came from, the crawl goes on, and the summary shows the first traceback once.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import replace
from types import CodeType, TracebackType

from corral.http.engine._result import FetchResult


class ParseErrors:
    """The crawl's pages whose parse callback raised: how many, and the first traceback."""

    __slots__ = ("count", "deaths", "first", "first_death", "process")

    def __init__(self) -> None:
        self.count = 0
        self.first: str | None = None  # the first one's traceback, for the summary
        self.deaths = 0  # ... of them, the callback ended its worker process (--workers)
        self.first_death: str | None = None  # "URL: how", for the summary
        self.process = "worker process"  # the process a death ended ("process": one only)

    def note(self, text: str, *, died: bool = False) -> None:
        """Count a failure a worker process recorded (``text``: its traceback), or, when
        the callback ended the worker process (``died``; or the one process, ``_deathnote``),
        its page (``text``: URL: how)."""
        self.count += 1
        if died:
            self.deaths += 1
            self.first_death = self.first_death or text
        elif self.first is None and text:
            self.first = text

    def record(self, result: FetchResult, exc: BaseException, callback: object) -> FetchResult:
        """Return a page's record once its parse callback raised ``exc``: ``parse_error``."""
        self.count += 1
        if self.first is None:
            self.first = traceback_text(exc, callback)
        return replace(result, ok=False, error_kind="parse_error", error=describe(exc, callback))


def describe(exc: BaseException, callback: object) -> str:
    """Return the record's error: ``KeyError: 'price' (in parse at shop.py:12)``."""
    code = _code_of(callback)
    where = _frame_in(exc.__traceback__, code)
    if where is not None:
        location = f"{_short(where.tb_frame.f_code.co_filename)}:{where.tb_lineno}"
        name = where.tb_frame.f_code.co_name
    elif code is not None:  # raised by corral about what the callback returned
        location = f"{_short(code.co_filename)}:{code.co_firstlineno}"
        name = code.co_name
    else:
        return _message(exc)
    return f"{_message(exc)} (in {name} at {location})"


def traceback_text(exc: BaseException, callback: object) -> str:
    """Return the traceback from the callback's frame on (corral's own frames left out)."""
    start = _frame_in(exc.__traceback__, _code_of(callback), first=True) or exc.__traceback__
    return "".join(traceback.format_exception(type(exc), exc, start)).rstrip()


def _message(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _code_of(callback: object) -> CodeType | None:
    target = getattr(callback, "func", callback)  # functools.partial
    code = getattr(target, "__code__", None)
    if code is None:  # an object with a __call__ method
        code = getattr(type(target).__dict__.get("__call__"), "__code__", None)
    return code if isinstance(code, CodeType) else None


def _frame_in(
    tb: TracebackType | None, code: CodeType | None, *, first: bool = False
) -> TracebackType | None:
    """Return the traceback entry of the callback's own frame (the last one, or the first)."""
    found = None
    while tb is not None:
        if tb.tb_frame.f_code is code:
            if first:
                return tb
            found = tb
        tb = tb.tb_next
    return found


def _short(path: str) -> str:
    """Return ``path`` relative to the working directory when it is below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return path if relative.startswith("..") else relative
