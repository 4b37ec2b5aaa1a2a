"""``--save-bodies none|store|DIR`` and ``--bodies-dir DIR``: where a run keeps its bodies,
checked before anything is opened or written (``docs/fetch.md``, "Large downloads").

A new-user trial (issue 17) gave ``--save-bodies afile`` (a regular file) and the store
itself: the run fetched, then died writing ``afile/b9/...`` ("Not a directory"), its
responses dropped and a failed run left in a new store. ``--bodies-dir x`` without
``--save-bodies dir`` was ignored in silence, and ``--save-bodies NONE`` made a directory
named NONE. So: the words are words in any case (a directory so named is ``./NONE``); a
directory that is a file, under a file, the output or one of its files, or in a place that
cannot be written is refused in one line; ``--bodies-dir`` goes with ``dir`` only.
"""

from __future__ import annotations

import argparse
import os
from typing import cast

from corral._clierrors import UsageError
from corral.http._jarargs import output_files, same_file
from corral.http.engine._config import SaveBodies

WORDS = ("none", "store", "dir")


def bodies_options(args: argparse.Namespace) -> tuple[SaveBodies, str | None]:
    """Return ``FetchConfig``'s ``save_bodies`` and ``bodies_dir`` from parsed options.

    Raises:
        UsageError: two directories, ``dir`` without one, ``--bodies-dir`` without ``dir``,
            or a directory the run could not write its bodies into.
    """
    save, folder = args.save_bodies, args.bodies_dir
    word = save.lower()
    if word not in WORDS:  # --save-bodies DIR
        if folder is not None and folder != save:
            raise UsageError("--save-bodies DIR and --bodies-dir name two directories: give one")
        word, folder = "dir", save
    elif word == "dir" and not folder:
        raise UsageError("--save-bodies dir needs --bodies-dir DIR (or write --save-bodies DIR)")
    elif word != "dir" and folder is not None:
        if word == "store":
            raise UsageError(
                f"--save-bodies store keeps the bodies in the store, --bodies-dir {folder} "
                "as files: give one"
            )
        raise UsageError(
            f"--bodies-dir {folder}: add --save-bodies dir (or write --save-bodies DIR)"
        )
    if folder is not None:
        _check_folder(folder, args)
    return cast("SaveBodies", word), folder


def _check_folder(folder: str, args: argparse.Namespace) -> None:
    """Refuse a bodies directory the run could not write: a file, under a file, the output
    or one of its files, or in a place not writable."""
    shown = f"--save-bodies {folder}" if args.bodies_dir is None else f"--bodies-dir {folder}"
    for file in output_files(args.output):
        if same_file(folder, file):
            what = "the output" if file == args.output else f"a file of the output {args.output}"
            raise UsageError(f"{shown} is {what}: give the bodies a directory of their own")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"{shown}: a file, not a directory")
    place = os.path.abspath(folder)
    while not os.path.exists(place):  # (made as the run goes, with its parents)
        place = os.path.dirname(place)
    if not os.path.isdir(place):
        raise UsageError(f"{shown}: {place} is a file, not a directory")
    if not os.access(place, os.W_OK | os.X_OK):
        raise UsageError(f"{shown}: cannot write in {place}")
