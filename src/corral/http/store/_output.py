"""Whether a job may write its ``-o`` path: corral's own output resumes, nothing else is touched.

Decided before the store opens anything (opening a SQLite database for writing changes it,
and a JSONL output is cut back to the length its state file committed):

- a path that does not exist, or an empty file (a user's ``touch``): used;
- a corral store (its ``meta`` table has a ``schema_version``), or a JSONL output whose
  ``.corral-state`` file is one and records no more than the file holds: resumed;
- anything else is refused with exit 2 and one line saying what is there, and left byte for
  byte: a file that is not SQLite, someone else's database, a JSONL file without its state
  (a deleted state file once cost 3,000 records), a directory, a missing directory;
- ``--overwrite`` replaces what is there on purpose (issue 12, items 3, 4, 18), with the
  cookie jar kept beside it (``OUTPUT.cookies.json``: the old run's cookies, which a store
  started afresh loaded in silence, issue 17) unless the run named that file to load.

The existing file is read without a trace: ``immutable=1`` opens a database whose WAL is
empty without creating ``-wal`` or ``-shm`` files (a read-only connection would leave both);
one with a WAL is read through it, as any reader would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from corral._clierrors import OutputError
from corral.http._faults import SQLITE_HEADER, StoreError, describe_fault
from corral.http.store._lock import LockHeld, holding

_SQLITE_FILES = ("", "-wal", "-shm", "-journal", ".examining")  # (+ crawler/_deathnote)
_REPLACE = "to replace it, add --overwrite, or give another -o"
_JAR = ".cookies.json"  # the cookie jar kept beside a store (``corral.http._jarargs``)


@dataclass(frozen=True, slots=True)
class _Found:
    """What an existing database holds, as far as deciding about it goes."""

    tables: tuple[str, ...]
    meta: dict[str, str] | None  # corral's meta rows; None without a (readable) meta table
    argvs: tuple[object, ...]  # the command line of each run, for a corral store

    @property
    def corral(self) -> bool:
        return self.meta is not None and "schema_version" in self.meta


def prepare_output(
    output: str,
    kind: Literal["sqlite", "jsonl", "stdout"],
    *,
    overwrite: bool,
    keep_jar: bool = False,
) -> None:
    """Check that a job may write ``output``; with ``overwrite``, remove what is there, the
    cookie jar beside it too unless ``keep_jar``.

    Raises:
        OutputError: the directory is missing, or ``output`` holds something that is not this
            job's earlier output (and ``overwrite`` is false).
    """
    if kind == "stdout":
        return
    _check_directory(output)
    state = f"{output}.corral-state" if kind == "jsonl" else None
    if overwrite:
        _replace(output, state, [] if keep_jar else [f"{output}{_JAR}"])
    elif state is not None:
        _check_jsonl(output, state)
    elif _holds_something(output):
        _check_store(output)


def earlier_commands(path: str) -> tuple[object, ...] | None:
    """Return the command line of each run a corral store at ``path`` recorded (None: there is
    no corral store there)."""
    found = _found(path)
    return found.argvs if found is not None else None


def store_id_at(path: str) -> str | None:
    """Return the id of the corral store at ``path`` ("" for one made before stores had
    one; None: no corral store there), read without a trace."""
    found = _found(path)
    if found is None or found.meta is None:
        return None
    return str(found.meta.get("store_id", ""))


def _found(path: str) -> _Found | None:
    """Return what ``_read`` finds in the corral store at ``path``, or None: none there."""
    if not _holds_something(path):
        return None
    try:
        found = _read(path)
    except sqlite3.DatabaseError:
        return None
    return found if found.corral else None


def check_plain_output(output: str, *, source: str, overwrite: bool) -> None:
    """Check that a command may write the plain file ``output`` (``corral export -o``).

    Raises:
        OutputError: the directory is missing, ``output`` is ``source`` itself, or it exists
            with content (and ``overwrite`` is false).
    """
    if output == "-":
        return
    _check_directory(output)
    if not os.path.exists(output):
        return
    if os.path.exists(source) and os.path.samefile(output, source):
        raise OutputError(f"cannot write {output}: it is the store being read")
    if not overwrite and os.path.getsize(output) > 0:
        raise OutputError(f"{output} exists; {_REPLACE}")


def _check_directory(output: str) -> None:
    directory = Path(output).parent
    if not directory.exists():
        raise OutputError(f"cannot write {output}: directory {directory} does not exist")
    if not directory.is_dir():
        raise OutputError(f"cannot write {output}: {directory} is not a directory")
    if Path(output).is_dir():
        raise OutputError(f"cannot write {output}: it is a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {output}: directory {directory} is not writable")


def _check_jsonl(output: str, state: str) -> None:
    size = os.path.getsize(output) if os.path.exists(output) else 0
    if not _holds_something(state):
        if size:
            raise OutputError(
                f"{output} exists and corral has no state for it ({state} is missing or empty), "
                f"so it is not this job's earlier output; {_REPLACE}"
            )
        return
    found = _check_store(state)
    if found is None or found.meta is None:
        return
    # No length committed yet, with lines in the file: a first run killed before its first
    # commit wrote them (records are appended before their transaction); resuming cuts them
    # off and fetches their URLs again. (Refusing it broke the resume the chaos test makes.)
    committed = found.meta.get("jsonl_length")
    if size < int(committed or 0):
        raise OutputError(
            f"{output} is shorter than its state file {state} records ({int(committed or 0):,} "
            "bytes), so it is not this job's output any more; to start over, add --overwrite"
        )


def check_store_file(path: str) -> None:
    """Refuse, for the Python API, a file at ``path`` that is not a corral store: the command
    line's check (``prepare_output``), with advice a caller can follow.

    Raises:
        StoreError: ``path`` holds something else (a user's file, another program's database).
    """
    if not _holds_something(path):
        return
    try:
        _check_store(path, replace="to use it, delete it first, or give another store path")
    except OutputError as exc:
        raise StoreError(str(exc)) from None


def _check_store(path: str, replace: str = _REPLACE) -> _Found | None:
    """Return what a corral store at ``path`` holds; refuse anything else.

    Returns:
        None for a file SQLite cannot read that is not damaged (another program holds it:
        the store's own open says so).
    """
    with open(path, "rb") as file:
        header = file.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise OutputError(f"{path} exists and is not a corral store (not SQLite); {replace}")
    try:
        found = _read(path)
    except sqlite3.DatabaseError as exc:
        code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
        if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            raise OutputError(describe_fault(path, exc, resumable=True)) from None
        return None
    if found.tables and not found.corral:
        tables = ", ".join(found.tables[:5]) + (", ..." if len(found.tables) > 5 else "")
        raise OutputError(
            f"{path} is a SQLite database not made by corral (its tables: {tables}); {replace}"
        )
    return found


def _holds_something(path: str) -> bool:
    """Return whether ``path`` is a regular file with content (or a WAL that may hold some)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False  # a device or a pipe: nothing in it to lose
    wal = f"{path}-wal"
    return st.st_size > 0 or (os.path.exists(wal) and os.path.getsize(wal) > 0)


def _read(path: str) -> _Found:
    uri = Path(path).absolute().as_uri()
    wal = f"{path}-wal"
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        return _query(f"{uri}?mode=ro")  # the WAL holds committed transactions: read them
    try:
        return _query(f"{uri}?immutable=1")
    except sqlite3.DatabaseError:
        return _query(f"{uri}?mode=ro")  # changed while read, perhaps: read it with locks


def _query(uri: str) -> _Found:
    conn = sqlite3.connect(uri, uri=True)
    try:
        tables = tuple(
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        )
        meta: dict[str, str] | None = None
        argvs: tuple[object, ...] = ()
        if "meta" in tables:
            try:
                meta = {str(k): str(v) for k, v in conn.execute("SELECT name, value FROM meta")}
                if "runs" in tables:
                    argvs = tuple(_argv(a) for (a,) in conn.execute("SELECT argv FROM runs"))
            except sqlite3.OperationalError:  # a meta or runs table of another shape
                meta = None
        return _Found(tables, meta, argvs)
    finally:
        conn.close()


def _argv(text: object) -> object:
    try:
        return json.loads(str(text))
    except ValueError:
        return text


def _sqlite_files(path: str) -> list[str]:
    return [f"{path}{suffix}" for suffix in _SQLITE_FILES]


def _replace(output: str, state: str | None, also: list[str]) -> None:
    """Remove an output (and its state, and the files ``also``) while holding its store's
    run lock: a store in use by another run is never erased under it."""
    store = output if state is None else state
    try:
        with holding(f"{store}.lock", "corral --overwrite"):
            files = _sqlite_files(output) if state is None else [output, *_sqlite_files(state)]
            _remove([*files, *also])
    except LockHeld as held:
        raise OutputError(f"{output} is in use by {held}; wait for it or use another -o") from None
    except OSError as exc:
        raise OutputError(f"cannot replace {output}: {exc.strerror or exc}") from None


def _remove(paths: list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot replace {path}: {exc.strerror or exc}") from None
