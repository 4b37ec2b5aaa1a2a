"""A worker process of ``corral crawl --workers N``: ``python -m corral.http.crawler._child``.

The fetch child (``corral.http.scale._child``) with the page's examination added: the child
parses each page it fetched for links and runs the ``--parse`` callback on it, where the CPU
work then happens, and sends the links, skips and items back with the record. The parent
keeps what needs the whole crawl: the frontier, the seen set, the scope rules, robots.txt
(whose Crawl-delay it tells the child of the host), the store.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from corral.http.crawler._callbackerror import ParseErrors
from corral.http.crawler._job import load_callback
from corral.http.crawler._pages import PageExaminer
from corral.http.engine._flight import Flight
from corral.http.engine._result import FetchResult
from corral.http.engine._runtime import Runtime
from corral.http.scale._child import Tell, main
from corral.http.web._rules import parsed_types


class RemoteExaminer:
    """The child's ``After``: examine each fetched page as the crawl would in one process."""

    def __init__(self, settings: dict[str, Any]) -> None:
        spec = settings.get("parse")
        self._parses = parsed_types(settings["parse_types"])
        self._callback = load_callback(spec) if spec else None
        self._follow_nofollow = bool(settings.get("follow_nofollow"))
        self._failures = ParseErrors()
        self._told = False  # the first failure's traceback went to the parent
        self._examiner: PageExaminer | None = None
        # this process replaces one that died: it examines one page at a time and says which
        # first, so that a page whose callback kills the process is named (``Partition``)
        self._careful = bool(settings.get("careful"))
        self._one = asyncio.Lock()
        self._tell: Tell | None = None

    def keep_body(self, content_type: str | None) -> bool:
        return self._parses(content_type)

    def start(self, runtime: Runtime, tell: Tell | None = None) -> None:
        self._tell = tell
        politeness = runtime.politeness
        self._examiner = PageExaminer(
            self._parses,
            self._callback,
            follow_nofollow=self._follow_nofollow,
            failures=self._failures,
            company=lambda: politeness.active > 0,
        )

    async def examine(self, flight: Flight, result: FetchResult) -> tuple[FetchResult, Any]:
        assert self._examiner is not None
        if flight.request is None:
            return result, None
        failed = result.error_kind == "parse_error"
        if self._careful and self._tell is not None:
            async with self._one:  # one page at a time, said before it starts
                self._tell(flight, result)
                result, examined = await self._examiner.examine(result, flight.body, flight.request)
        else:
            result, examined = await self._examiner.examine(result, flight.body, flight.request)
        failure = None
        if result.error_kind == "parse_error" and not failed:  # this page's callback raised
            # (its traceback once: the parent keeps the first; pages examined meanwhile
            # may have failed too, so the count before and after says nothing of this one)
            failure = "" if self._told else (self._failures.first or "")
            self._told = True
        return result, examined.to_wire(failure)

    async def close(self) -> None:
        if self._examiner is not None:
            await self._examiner.close()


if __name__ == "__main__":
    sys.exit(main(RemoteExaminer))
