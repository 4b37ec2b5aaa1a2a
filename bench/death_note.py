"""What noting the pages under examination costs a one-process crawl, per page (``_deathnote``).

    python bench/death_note.py [--pages 200000] [--dir DIR]

A page's examination is wrapped as a crawl does it (``DeathNote.examine``: a slot's
``pwrite`` before, another after) around a coroutine that does nothing, in a note made in
DIR (the store's disk: the working directory by default); the cost is the time per page
beyond the bare coroutine. Measured twice: with no page suspected (the usual run) and with
one (every examination then goes through the gate that holds pages while a suspect is
examined alone). For comparison, the same note as one SQLite transaction (WAL,
``synchronous=NORMAL``, as the store's) per page: it would take two.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable

from corral.http.crawler._deathnote import DeathNote


async def _nothing() -> None:
    return None


async def _per_page(pages: int, examine: Callable[[int], Awaitable[None]]) -> float:
    started = time.perf_counter()
    for ident in range(1, pages + 1):
        await examine(ident)
    return (time.perf_counter() - started) / pages * 1e6


def _sqlite_per_note(folder: str, notes: int) -> float:
    conn = sqlite3.connect(os.path.join(folder, "meta.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
    started = time.perf_counter()
    for n in range(notes):
        conn.execute("BEGIN")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('examining', ?)", (str(n),))
        conn.execute("COMMIT")
    conn.close()
    return (time.perf_counter() - started) / notes * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200_000)
    parser.add_argument("--dir", default=".")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        bare = await _per_page(args.pages, lambda _: _nothing())
        for label, deaths in (("no page suspected", {}), ("a page suspected", {-1: 1})):
            note = DeathNote(os.path.join(folder, f"{len(deaths)}.examining"), b"0" * 8,
                             deaths, "bench")  # fmt: skip
            note.start()
            try:
                noted = await _per_page(args.pages, lambda i, n=note: n.examine(i, _nothing))
            finally:
                note.finish()
            print(f"noted, {label}: {noted - bare:.2f} us per page (bare {bare:.2f} us)")
        sqlite = await asyncio.to_thread(_sqlite_per_note, folder, args.pages // 10)
        print(f"one SQLite transaction: {sqlite:.1f} us (a page would take two)")


if __name__ == "__main__":
    asyncio.run(main())
