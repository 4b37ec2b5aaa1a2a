"""A store opened to be read (``corral report``, ``corral export``), leaving nothing beside it.

A read-only connection (``mode=ro``) to a database in WAL mode makes ``STORE-wal`` and
``STORE-shm`` and cannot remove them: only the last connection to close, if it may write,
checkpoints the WAL and deletes both. A new-user trial found them left after every report
and export (issue 17). So a reader opens the file read-write with ``PRAGMA query_only``: no
statement of it can change the store, and its close cleans up as the writer's would. While
a run writes the store, the reader is not the last connection: it leaves the files to the
writer, and SQLite's locks keep both consistent. Where the file or its directory cannot be
written (a read-only disk), it falls back to ``mode=ro``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_reader(path: str) -> sqlite3.Connection:
    """Return a connection that only reads the SQLite file at ``path``.

    Raises:
        sqlite3.OperationalError: the file cannot be opened (missing, unreadable).
    """
    uri = Path(path).resolve().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=rw", uri=True)
    except sqlite3.OperationalError:
        return sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")  # (opens the WAL, if it can)
    except sqlite3.OperationalError:  # a read-only file or directory
        conn.close()
        return sqlite3.connect(f"{uri}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        pass  # not a database: the caller's first query says so, as with mode=ro
    return conn
