"""The pages a one-process crawl is examining, noted where its death leaves them.

A ``--parse`` callback that ends the process on a page (``os._exit``, a crash in C, the OOM
killer) ended every resume on the same page. ``--workers`` sees the death from the parent
(``scale._partition``); one process cannot, so it notes in a small file beside the store
(``results.db.examining``) which pages it is examining, and the next run reads what a
death left there.

The file: a header (magic, the store's id, how many death entries), the entries (a page's
frontier id and its deaths so far), then one 8-byte slot per page under examination (its
frontier id; 0: free). A run rewrites it whole as it opens (a new file put in place with
``os.replace``: a death meanwhile leaves the old one, read again by the next run) and then
only ``pwrite``s its slots: 8 bytes as a page's examination begins and ends, two system
calls and no ``fsync`` (what a dead process wrote is in the kernel's page cache, which a
power cut alone loses; then a death goes uncounted). A page's claim in SQLite is no place
for it: a claim is not an examination (pages wait for their fetch), and a transaction per
page costs tens of microseconds in the store's one thread.

As the run opens, each page found under examination is charged a death. Several pages may
be examined at once (callbacks in threads, or coroutines), and the death was one of them's
at most: a page charged once is then examined *alone* (no other examination runs with it),
so a second death charged to it is its own. At ``PAGE_DEATHS`` deaths the page is recorded
``parse_error`` without being examined again, and the crawl goes on. A page recorded
otherwise loses its deaths (a ``--retry-failed`` tries the page again).

A signal (Ctrl-C, SIGTERM) clears the slots at once: what follows is a stop, and a process
ended by a third signal (``os._exit``) is not charged. A ``kill -9`` is: it cannot be told
apart from the OOM killer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import struct
from collections.abc import Awaitable, Callable
from typing import TypeVar

from corral import to_thread
from corral.http.crawler._pages import notice
from corral.http.pipeline._interrupt import on_signal
from corral.http.scale._partition import PAGE_DEATHS
from corral.http.store._sqlite import SQLiteFrontier

T = TypeVar("T")
SUFFIX = ".examining"  # the note beside the store: results.db.examining
_MAGIC = b"corral-x"
_HEAD = struct.Struct("<8s8sQ")  # magic, the store's id (hashed), death entries
_ENTRY = struct.Struct("<qq")  # a page's frontier id, its deaths
_SLOT = struct.Struct("<q")  # a page under examination: its frontier id (0: a free slot)
_FREE = _SLOT.pack(0)


class DeathNote:
    """The pages under examination, in slots of the file; the deaths earlier runs charged."""

    def __init__(self, path: str, store_id: bytes, deaths: dict[int, int], who: str) -> None:
        self.path = path
        self.deaths = deaths  # frontier id -> deaths charged (pages not recorded yet)
        self.who = who  # the callback's name, for the record's error
        self._store_id = store_id
        self._base = 0  # where the slots begin (``_put``)
        self._fd = -1
        self._free: list[int] = []
        self._slots = 0
        self._active = 0  # examinations running
        self._alone = asyncio.Lock()  # a suspect's examination: one at a time, and ...
        self._open = asyncio.Event()  # ... none other starts meanwhile
        self._idle = asyncio.Event()
        self._open.set()
        self._idle.set()

    def error(self) -> str:
        """Return the record's error for a page with ``PAGE_DEATHS`` deaths."""
        return f"{self.who} ended its process on this page, {PAGE_DEATHS} times"

    def doomed(self, ident: int) -> bool:
        """Return whether the page is to be recorded ``parse_error``, not examined; forget
        it if so (the record settles it)."""
        if self.deaths.get(ident, 0) < PAGE_DEATHS:
            return False
        del self.deaths[ident]
        return True

    async def examine(self, ident: int, run: Callable[[], Awaitable[T]]) -> T:
        """Return ``run()``, the page ``ident`` noted under examination meanwhile (alone if
        it has a death charged)."""
        if not self.deaths:  # (no suspect: examinations are never held)
            return await self._noted(ident, run)
        if ident not in self.deaths:
            while not self._open.is_set():
                await self._open.wait()
            return await self._counted(ident, run)
        async with self._alone:
            self._open.clear()
            try:
                await self._idle.wait()
                found = await self._counted(ident, run)
                self.deaths.pop(ident, None)  # it examined to its end: no poison
                return found
            finally:
                self._open.set()

    async def _counted(self, ident: int, run: Callable[[], Awaitable[T]]) -> T:
        self._active += 1
        self._idle.clear()
        try:
            return await self._noted(ident, run)
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def _noted(self, ident: int, run: Callable[[], Awaitable[T]]) -> T:
        if self._free:
            slot = self._free.pop()
        else:
            slot, self._slots = self._slots, self._slots + 1
        offset = self._base + slot * _SLOT.size
        self._write(_SLOT.pack(ident), offset)
        try:
            return await run()
        finally:
            self._write(_FREE, offset)
            self._free.append(slot)

    def _write(self, data: bytes, offset: int) -> None:
        if self._fd < 0:  # (stopping, or the file failed: nothing is noted)
            return
        try:
            _pwrite(self._fd, data, offset)
        except OSError as exc:
            self.stop()
            notice(f"corral: {self.path}: {exc.strerror or exc}; {_UNNOTED}")

    def stop(self) -> None:
        """Clear the slots and note nothing more: the process ends, not by a page's fault
        (a signal, or the run's end)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._base)
            os.close(fd)

    def start(self) -> None:
        """Put the note in place: the deaths, and no page under examination yet."""
        self._put()
        self._fd = os.open(self.path, os.O_RDWR)

    def finish(self) -> None:
        """Clear the slots (the run ends), keeping the deaths of pages not recorded yet."""
        self.stop()
        try:
            if self.deaths:
                self._put()
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
        except OSError as exc:  # (the next run reads the note as the last death left it)
            notice(f"corral: {self.path}: {exc.strerror or exc}")

    def _put(self) -> None:
        head = _HEAD.pack(_MAGIC, self._store_id, len(self.deaths))
        entries = b"".join(_ENTRY.pack(ident, n) for ident, n in self.deaths.items())
        fresh = f"{self.path}.new"
        with open(fresh, "wb") as file:
            file.write(head + entries)
        os.replace(fresh, self.path)  # (a death meanwhile leaves the old note: read again)
        self._base = len(head) + len(entries)


def read(path: str, store_id: bytes) -> tuple[dict[int, int], list[int]]:
    """Return a note's deaths and the pages it has under examination (none: no note, or a
    note of another store by this name, or one cut short)."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return {}, []
    if len(data) < _HEAD.size:
        return {}, []
    magic, owner, count = _HEAD.unpack_from(data)
    end = _HEAD.size + _ENTRY.size * count
    if magic != _MAGIC or owner != store_id or len(data) < end:
        return {}, []
    deaths = dict(_ENTRY.iter_unpack(data[_HEAD.size : end]))
    slots = data[end : end + (len(data) - end) // _SLOT.size * _SLOT.size]
    return deaths, [ident for (ident,) in _SLOT.iter_unpack(slots) if ident]


async def open_note(store: SQLiteFrontier, who: str) -> DeathNote:
    """Charge a death to each page the store's note has under examination (the last run
    died examining them), say which, and return the note for this run."""
    path = store.path + SUFFIX
    store_id = hashlib.blake2b(store.identity[0].encode(), digest_size=8).digest()
    try:
        deaths, examined = await to_thread(read, path, store_id)
    except OSError as exc:
        notice(f"corral: cannot read {path}: {exc.strerror or exc}; it is made anew")
        deaths, examined = {}, []
    for ident in examined:
        deaths[ident] = deaths.get(ident, 0) + 1
    undone = await store.undone(list(deaths)) if deaths else {}
    note = DeathNote(path, store_id, {i: n for i, n in deaths.items() if i in undone}, who)
    try:
        await to_thread(note.start)
    except OSError as exc:  # (the store's folder took its lock file: rare)
        notice(f"corral: {path}: {exc.strerror or exc}; {_UNNOTED}")
    on_signal(note.stop)
    dead = [(undone[i], note.deaths[i]) for i in examined if i in undone]
    if again := [url for url, n in dead if n < PAGE_DEATHS]:
        notice(
            f"corral: the last run {_DIED} {_some(again)} (its process died: os._exit, a "
            "crash, the OOM killer?); examined alone now, and recorded parse_error if the "
            "process dies on it again"
        )
    if doomed := [url for url, n in dead if n >= PAGE_DEATHS]:
        notice(f"corral: the last run {_DIED} {_some(doomed)}, its process dying there "
               f"{PAGE_DEATHS} times: recorded parse_error as the crawl comes to it")  # fmt: skip
    return note


_DIED = "ended while examining"
_UNNOTED = "a page whose examination ends the process is not noted in this run"


def _some(urls: list[str]) -> str:
    return ", ".join(urls[:3]) + (f" and {len(urls) - 3} more" if len(urls) > 3 else "")


def _seek_write(fd: int, data: bytes, offset: int) -> int:
    """``os.pwrite`` where there is none (Windows): the note is written from one thread."""
    os.lseek(fd, offset, os.SEEK_SET)
    return os.write(fd, data)


_pwrite = getattr(os, "pwrite", _seek_write)
