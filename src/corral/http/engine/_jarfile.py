"""The jar file of a run: loaded once, saved every few seconds while it changes, and at the end.

One ``JarKeeper`` per run owns the file (``FetchConfig.cookie_jar``): the process that writes
the store. Whoever fetches (this process's engine, the worker processes of ``--workers``,
the workers of a Redis job) changes its ``jars``, or hands their changes back into them
(``HostJars.replace``); the keeper writes them out. Saving only at the end lost a run's
cookies to a ``kill -9`` (issue 17): now at most ``SAVE_EVERY`` seconds of them are lost,
and the file is never half-written (a temporary file renamed over it).

Those seconds must never hold a record's: a login page's record committed at once and its
cookie saved up to 2 s later, so a ``kill -9`` in between left a store that said the login
page was done and no jar with its cookie, and the resume recorded every other page as a 401
(issue 17, a new-user trial). So the job's commit saves the jars first when they changed
(``save_before_commit``): one write per batch of records at most, none while no response
changes them. (Neither is fsynced: the store's commits are not either, ``synchronous=NORMAL``;
both survive the process being killed.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from corral._offload import to_thread
from corral.http._faults import StoreError, describe_fault
from corral.http.engine._cookies import CookieFileError, HostJars, read_jar, write_jar

SAVE_EVERY = 2.0  # seconds between two saves of a jar that changes
KEPT_BESIDE = ".corral.json"  # a cookies.txt's jar, saved beside it: cookies.txt.corral.json


def saved_beside(path: str) -> str:
    """Return where the jar of a browser's cookies.txt is saved: corral never writes the
    user's file, and dropping what the sites set lost a rotated session to a ``kill -9``
    (issue 17)."""
    return f"{path}{KEPT_BESIDE}"


def _load(path: str) -> tuple[list[Any], str | None]:
    """Read the jar of ``path``; return its cookies and the file to save them to (None:
    not saved, a cookies.txt in a folder corral cannot write in). A cookies.txt's own jar,
    when newer than it, is loaded instead (a newer export of the browser wins)."""
    cookies, writable = read_jar(path)
    if writable:
        return cookies, path
    beside = saved_beside(path)
    with contextlib.suppress(OSError):
        if os.stat(beside).st_mtime >= os.stat(path).st_mtime:
            return read_jar(beside)[0], beside
    folder = os.path.dirname(os.path.abspath(path))
    return cookies, (beside if os.access(folder, os.W_OK) else None)


class JarKeeper:
    """The jars of a run and their file; ``open()``, then ``close()`` (both idempotent)."""

    def __init__(self, path: str | None) -> None:
        """``path``: the jar file (None: the jars live as long as the run)."""
        self.jars = HostJars()
        self.path = path
        self._save_to: str | None = None  # the JSON jar saved (a cookies.txt's: beside it)
        self._saved = 0  # the jars' version last saved
        self._opened = False
        self._saving: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()  # (set, not a cancel: a save under way ends first)
        self._lock = asyncio.Lock()  # one save at a time (one temporary file name)

    async def open(self) -> None:
        """Load the file (once), and save it every ``SAVE_EVERY`` seconds it changed.

        Raises:
            StoreError: the file is not a jar, or cannot be read.
        """
        if self._opened:
            return
        self._opened = True
        if self.path is None:
            return
        try:  # (checked by the command line; changed since, or from Python)
            cookies, self._save_to = await to_thread(_load, self.path)
        except CookieFileError as exc:
            raise StoreError(f"cookie jar {exc}") from None
        except OSError as exc:
            why = exc.strerror or exc
            raise StoreError(f"cannot read the cookie jar {self.path}: {why}") from None
        self.jars.add(cookies)
        self._saved = self.jars.version
        if self._save_to is not None:
            self._saving = asyncio.get_running_loop().create_task(self._save_often())

    async def close(self) -> None:
        """Stop the periodic saves, and save what changed since the last."""
        saving, self._saving = self._saving, None
        if saving is not None:
            self._stop.set()
            await saving
        await self.save()

    async def save(self) -> None:
        """Write the jars to the file if they changed since the last save."""
        target = self._save_to
        if target is None:
            return
        async with self._lock:
            version = self.jars.version
            if version == self._saved:
                return
            await to_thread(write_jar, target, self.jars.dumps())
            self._saved = version

    async def save_before_commit(self) -> None:
        """Save the jars if they changed: call it before committing records, so that no
        record whose response changed them is in the store before the change is on disk.

        Raises:
            StoreError: the file cannot be written (the records are not committed either).
        """
        try:
            await self.save()
        except OSError as exc:
            assert self._save_to is not None
            raise StoreError(describe_fault(self._save_to, exc, resumable=True)) from exc

    async def _save_often(self) -> None:
        """Save every ``SAVE_EVERY`` seconds; a failed save is left to the last one (at
        ``close``) to report: the disk may have room again by then."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SAVE_EVERY):
                    await self._stop.wait()
            if self._stop.is_set():
                return
            with contextlib.suppress(OSError):
                await self.save()
