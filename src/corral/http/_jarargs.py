"""``--cookies`` and ``--cookie-jar FILE``: which jar file a run loads and saves, checked
before anything is opened or written (``docs/fetch.md``, "Cookies").

A new-user trial (issue 17) found a jar that was the store itself (``--cookie-jar same.db
-o same.db``: a traceback, a lock left, a run marked running), a store started afresh with
``--overwrite`` that loaded its old run's jar in silence, and a note printed before the run
was refused. So: a jar that is the output, one of its side files or the input is refused in
one line; ``--overwrite`` takes the jar beside the store with it (``OUTPUT.cookies.json``)
unless ``--cookie-jar`` named that file; notes go to a list the job prints once the store
is open.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from typing import Any

from corral._clierrors import UsageError

BESIDE = ".cookies.json"  # the jar kept beside a store: OUTPUT.cookies.json
_SQLITE_SIDES = ("-wal", "-shm", "-journal", ".lock", ".examining")


def cookie_options(args: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    """Return ``FetchConfig``'s ``cookies`` and ``cookie_jar`` from parsed options; add to
    ``notes`` what to say once the run is accepted.

    Raises:
        UsageError: the jar is the output, a file of it or the input; a directory; in a
            missing or read-only directory; not a jar; unreadable.
    """
    beside = _beside(args)
    jar, named = args.cookie_jar, args.cookie_jar is not None
    if named and not jar.strip():  # (``--cookie-jar ""`` was "cannot read it: Is a directory")
        raise UsageError("--cookie-jar: the path is empty: give the jar's file")
    if not named and args.cookies and beside is not None:
        jar = beside  # the jar survives a resume, as the store does
    elif not (named or args.quiet or args.overwrite) and beside and os.path.exists(beside):
        # Off by default stays off (a run's flags say what it sends), but not in silence: a
        # resume that forgot --cookies would get the login pages' refusals (issue 17).
        # (--overwrite removes that file with the store: nothing to say)
        notes.append(
            f"corral: note: {beside} holds the cookies of an earlier run of this store: "
            "not used without --cookies (give --cookies to send them)"
        )
    if named:
        _check_own_file(jar, args)
    only_read = False  # a browser's cookies.txt: its jar is saved beside it
    if jar is not None and (named or not args.overwrite):  # (else it goes with the store)
        only_read = not _check_jar(jar)
    if only_read and not args.quiet:
        notes.extend(_cookies_txt_notes(jar))
    return {"cookies": args.cookies or named, "cookie_jar": jar}


def keeps_jar(args: argparse.Namespace) -> bool:
    """Return whether ``--overwrite`` leaves the jar beside the store: ``--cookie-jar``
    named that very file (the user means to load it)."""
    beside = _beside(args)
    return args.cookie_jar is not None and beside is not None and same_file(args.cookie_jar, beside)


def _beside(args: argparse.Namespace) -> str | None:
    return f"{args.output}{BESIDE}" if args.output not in ("-", None) else None


def _check_own_file(jar: str, args: argparse.Namespace) -> None:
    """Refuse a jar that is the output, one of its files (SQLite's, the lock, a JSONL
    output's state) or the input: saving it would write over them."""
    output = args.output
    for file in output_files(output):
        if same_file(jar, file):
            what = "the output" if file == output else "a file of the output"
            raise UsageError(
                f"--cookie-jar {jar} is {what} {output}: give the jar a file of its own"
            )
    source = getattr(args, "input", None)  # (corral fetch's)
    if source not in ("-", None) and same_file(jar, source):
        raise UsageError(f"--cookie-jar {jar} is the input file: give the jar a file of its own")


def _check_jar(jar: str) -> bool:
    """Refuse a jar the run could not load or save, before the run; return whether it is
    saved into (False: a browser's cookies.txt, only read)."""
    from corral.http.engine._cookies import CookieFileError, read_jar

    if os.path.isdir(jar):
        raise UsageError(f"--cookie-jar {jar}: it is a directory")
    folder = os.path.dirname(os.path.abspath(jar))
    if not os.path.isdir(folder):  # (it is written as the run goes: say so before)
        raise UsageError(f"--cookie-jar {jar}: no directory {folder}")
    try:
        _, writable = read_jar(jar)  # read again as the run opens: here, only checked
    except CookieFileError as exc:
        raise UsageError(f"--cookie-jar {exc}") from None
    except OSError as exc:
        raise UsageError(f"--cookie-jar {jar}: cannot read it: {exc.strerror or exc}") from None
    if writable and not os.access(folder, os.W_OK):  # (a browser's cookies.txt is only read)
        raise UsageError(f"--cookie-jar {jar}: cannot write in {folder}")
    return writable


def _cookies_txt_notes(jar: str) -> list[str]:
    """Say where the jar of a cookies.txt is saved, and that its cookies all expired when
    they did (every page's 401 then has a cause to read; issue 17)."""
    from corral.http.engine._jarfile import saved_beside

    beside = saved_beside(jar)
    if os.access(os.path.dirname(os.path.abspath(jar)), os.W_OK):
        notes = [
            (
                f"corral: note: --cookie-jar {jar} is a cookies.txt, only read: the cookies "
                f"sites set are saved to {beside}, which later runs load instead while it is newer"
            )
        ]
    else:
        notes = [
            (
                f"corral: note: --cookie-jar {jar} is a cookies.txt, only read, in a folder "
                "corral cannot write in: the cookies sites set are not saved"
            )
        ]
    total, expired = _expiries(jar)
    if total and total == expired:
        notes.append(f"corral: note: {jar}: all {total} cookies expired")
    return notes


def _expiries(jar: str) -> tuple[int, int]:
    """Return how many cookies a cookies.txt holds and how many of them expired."""
    now, total, expired = time.time(), 0, 0
    with open(jar, encoding="utf-8") as file:
        for line in file:
            line = line.removeprefix("#HttpOnly_")
            fields = line.rstrip("\r\n").split("\t")
            if line.startswith("#") or len(fields) != 7:
                continue
            total += 1
            with contextlib.suppress(ValueError):
                expired += 0 < int(fields[4]) <= now
    return total, expired


def output_files(output: str | None) -> list[str]:
    """Return the files of an ``-o`` output: itself, its SQLite files and lock (a JSONL
    output's: its state file and that one's); none for stdout."""
    if output in ("-", None):
        return []
    store = f"{output}.corral-state" if output.endswith((".jsonl", ".ndjson")) else output
    files = [store, *(f"{store}{side}" for side in _SQLITE_SIDES)]
    return files if store == output else [output, *files]


def same_file(one: str, other: str) -> bool:
    """Return whether two paths name one file (spelt otherwise, linked, or not there yet)."""
    if os.path.realpath(one) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False
