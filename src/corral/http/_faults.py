"""Storage faults as the user reads them: what failed, where, and what can be done about it.

A store call that fails on its files (a full disk, a file size limit, a read-only or damaged
store, a store locked by another program, or its file deleted during the run) becomes a
``StoreError`` whose message is one line: what happened to which file, that the records
committed before are kept (a failed transaction rolls back whole), and only advice that can
work (a full disk needs space before a rerun can help; a damaged store cannot be resumed).
The job runners show it as ``corral: error: ...`` with exit code 2 (issue 12).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from corral._exceptions import CorralError


class StoreError(CorralError):
    """The store cannot be used: not a corral store, a newer schema, or a storage fault."""


_KEPT = "the records committed before are kept"
# SQLite's primary result codes (the low byte of an extended code), by what they mean here.
_SQLITE_KINDS = {
    sqlite3.SQLITE_FULL: "full",
    sqlite3.SQLITE_READONLY: "read-only",
    sqlite3.SQLITE_PERM: "read-only",
    sqlite3.SQLITE_BUSY: "locked",
    sqlite3.SQLITE_LOCKED: "locked",
    sqlite3.SQLITE_CORRUPT: "damaged",
    sqlite3.SQLITE_NOTADB: "damaged",
    sqlite3.SQLITE_CANTOPEN: "cannot-open",
    sqlite3.SQLITE_IOERR: "io",
}
_ERRNO_KINDS = {
    errno.ENOSPC: "full",
    getattr(errno, "EDQUOT", errno.ENOSPC): "full",  # a disk quota
    errno.EFBIG: "io",
    errno.EROFS: "read-only",
    errno.EACCES: "read-only",
    errno.EPERM: "read-only",
}


def describe_fault(where: str, exc: sqlite3.Error | OSError, *, resumable: bool) -> str:
    """Return the one-line message for a store call that failed on ``where``.

    Args:
        where: the file the call was writing (the store, or the JSONL output).
        exc: what SQLite or the file system raised.
        resumable: whether running the same command again resumes (not with stdout).
    """
    kind, detail = _classify(exc)
    again = "then run the same command again to resume" if resumable else "then run it again"
    limit = _file_size_limit()
    if kind == "io" and limit is not None:  # SQLite reports EFBIG as a plain I/O error
        kind, detail = "limit", f"files may not grow past {limit:,} bytes here, ulimit -f; {detail}"
    if kind == "damaged":
        return (
            f"{where} is damaged ({detail}), corral cannot use it: sqlite3's .recover command may "
            "save the records it holds; to start over, give another -o or --overwrite"
        )
    if kind == "cannot-open":
        return f"cannot open {where} ({detail}): its directory must exist and be writable"
    what, advice = _WHAT_TO_DO.get(kind, (detail, None))
    if advice is None:
        return f"cannot write {where}: {what}; {_KEPT}"
    return f"cannot write {where}: {what.format(detail)}; {_KEPT}: {advice}, {again}"


# What each fault is, and what to do before running again helps.
_WHAT_TO_DO = {
    "full": ("no space left on the device", "free some space"),
    "read-only": ("it is read-only ({})", "make it writable"),
    "locked": ("it is locked by another program ({})", "stop that program"),
    "limit": ("the file size limit was reached ({})", "raise the limit"),
}


def _classify(exc: sqlite3.Error | OSError) -> tuple[str, str]:
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        kind = _SQLITE_KINDS.get(code & 0xFF, "other") if isinstance(code, int) else "other"
        return kind, str(exc)
    return _ERRNO_KINDS.get(exc.errno or 0, "io"), exc.strerror or str(exc)


def _file_size_limit() -> int | None:
    try:
        import resource
    except ImportError:  # (not on Windows)
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else soft


class FileWatch:
    """The files a store writes, as they were when it opened them.

    A store deleted (or replaced) during the run was reported as success: SQLite and the
    JSONL writer go on writing to the file they have open, which no path leads to any more.
    ``check`` compares each path's device and inode with the opened file's (issue 12, item 5).
    """

    def __init__(self, files: Sequence[tuple[str, str, os.stat_result]]) -> None:
        self._files = [(path, shown, (st.st_dev, st.st_ino)) for path, shown, st in files]

    @classmethod
    def of(cls, store: str, jsonl: IO[Any] | None) -> FileWatch:
        """Return the watch of a store's database (as its path leads now) and JSONL file."""
        files = [(os.path.abspath(store), store, os.stat(store))]
        name = getattr(jsonl, "name", None)
        if jsonl is not None and isinstance(name, str):
            files.append((os.path.abspath(name), name, os.fstat(jsonl.fileno())))
        return cls(files)

    def check(self) -> None:
        """Raise ``StoreError`` if a watched path no longer leads to the file opened."""
        for path, shown, identity in self._files:
            try:
                st = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                raise StoreError(_gone(shown)) from None
            if (st.st_dev, st.st_ino) != identity:
                raise StoreError(_gone(shown))


def _gone(path: str) -> str:
    return (
        f"{path} was deleted or replaced during the run, so this run's records are not in it; "
        "to start over, run the command again with --overwrite"
    )


def a_directory(store: str) -> str | None:
    """Return the message for a directory given as a store to read (``corral export``,
    ``corral report``): it said "no such store"; None when ``store`` is no directory."""
    if not Path(store).is_dir():
        return None
    return (
        f"{store} is a directory, not a store: give the store's file (corral fetch and crawl "
        "write corral.db by default)"
    )


SQLITE_HEADER = b"SQLite format 3\x00"  # how every SQLite database file begins


def not_sqlite(store: str, command: str) -> str | None:
    """Return the message for a file given as a store to read (``corral export``, ``corral
    report``) that is not SQLite at all (a JSON lines output, notes): SQLite's own "file is
    not a database" said nothing of what to give; None when it is SQLite, empty or unreadable
    (then SQLite's own error says more)."""
    try:
        with open(store, "rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError:
        return None
    if not head or head == SQLITE_HEADER:
        return None
    jsonl = (
        " (a .jsonl output is JSON lines already)" if store.endswith((".jsonl", ".ndjson")) else ""
    )
    return (
        f"{store} is not a corral store (not an SQLite database): corral {command} reads the "
        f"SQLite file that corral fetch or crawl wrote with -o{jsonl}"
    )
