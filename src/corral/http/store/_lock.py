"""Who may use a store: one run at a time, by an OS lock held for the run's whole life.

A run takes an exclusive ``flock`` on a file beside the store (``results.db.lock``), without
waiting, and keeps it until its SQLite connection is closed. The kernel drops the lock when
the process ends, however it ends: ``kill -9`` included, and a zombie's descriptors are
closed before it is a zombie. So whether a store is free never rests on a process id, which
a zombie keeps answering to and another process may reuse (issue 12, items 1 and 2).

Why a file of its own and not the database: a process's POSIX (``fcntl``) locks on a file
go when it closes *any* descriptor of that file, and SQLite opens and closes the database
as it likes; nobody else opens the lock file.

The lock file says who holds it (process id, host, start, command), for the message a run
refused prints. The holder removes it before letting go; a run that finds, once it holds
the lock, that the path names another file now (it was removed meanwhile) takes it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

if sys.platform == "win32":  # (no flock: a one-byte region lock, far past the holder's text)
    import msvcrt

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, 1 << 30, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Holder:
    """The run holding a store, as its lock file describes it."""

    pid: int | None
    host: str | None
    started: str | None  # ISO 8601, UTC
    command: str | None

    def describe(self) -> str:
        """Return e.g. ``corral fetch (pid 4121 on host x, since 14:02:11)``."""
        facts = [f"pid {self.pid}" if self.pid is not None else "pid unknown"]
        if self.host:
            facts[0] += f" on host {self.host}"
        if self.started:
            facts.append(f"since {local_time(self.started)}")
        return f"{self.command or 'another run'} ({', '.join(facts)})"


class LockHeld(Exception):
    """Another run holds the lock (``holder`` is None when it has not said who it is yet)."""

    def __init__(self, holder: Holder | None) -> None:
        super().__init__(holder.describe() if holder is not None else "another run")
        self.holder = holder


class StoreLock:
    """A held lock: ``release()`` removes the lock file and lets go of it."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        """Remove the lock file (while still holding it) and close it; idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if _same_file(fd, self.path):
                os.unlink(self.path)
        except OSError:
            pass  # removing is tidiness: a lock file left behind is taken over next time
        finally:
            os.close(fd)


def take(path: str, *, pid: int, host: str, started: str, command: str) -> StoreLock:
    """Take the lock at ``path`` without waiting, and write who holds it there.

    Raises:
        LockHeld: another run holds it.
        OSError: the lock file cannot be made (an unwritable directory).
    """
    for _ in range(100):  # each turn loses only to a holder that removed the file meanwhile
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _try_lock(fd):
                raise LockHeld(_read_holder(fd))
            if _same_file(fd, path):
                record = {"pid": pid, "host": host, "started": started, "command": command}
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, json.dumps(record).encode())
                return StoreLock(path, fd)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise LockHeld(None)


@contextlib.contextmanager
def holding(path: str, command: str) -> Iterator[None]:
    """Hold the lock at ``path`` for a ``with`` block (this process, started now).

    Raises:
        LockHeld: another run holds it.
        OSError: the lock file cannot be made.
    """
    started = datetime.now(UTC).isoformat(timespec="milliseconds")
    lock = take(path, pid=os.getpid(), host=socket.gethostname(), started=started, command=command)
    try:
        yield
    finally:
        lock.release()


def local_time(iso: str) -> str:
    """Return an ISO 8601 time as the local wall clock: ``14:02:11``, with the date if it
    is not today's."""
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return iso
    if moment.date() == datetime.now().astimezone().date():
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _same_file(fd: int, path: str) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def _read_holder(fd: int) -> Holder | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        record = json.loads(os.read(fd, 4096) or b"null")
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None  # taken a moment ago, not written yet
    pid = record.get("pid")
    return Holder(
        pid=pid if isinstance(pid, int) else None,
        host=_text(record.get("host")),
        started=_text(record.get("started")),
        command=_text(record.get("command")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
