"""``corral report STORE``: read a store (read-only, beside a run still writing) and write
its report, an HTML page or the same figures as JSON."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from corral.http._faults import SQLITE_HEADER, StoreError, a_directory, not_sqlite
from corral.http.runreport._figures import ArgvSettings, figures
from corral.http.runreport._page import render_page
from corral.http.store._reading import open_reader

ReportFormat = Literal["html", "json"]


def _no_settings(argv: Sequence[str]) -> Mapping[str, object]:
    return {}


def default_output(store: str, fmt: ReportFormat = "html") -> str:
    """Return where the report of ``store`` goes by default: beside it, ``STORE.report.html``
    (``corral.db`` -> ``corral.report.html``)."""
    path = Path(store)
    return str(path.with_name(f"{path.stem}.report.{fmt}"))


def read_figures(store: str, *, settings: ArgvSettings = _no_settings) -> dict[str, object]:
    """Return the figures of a store (what the report shows).

    Raises:
        StoreError: the file is missing, or is not a corral store.
    """
    if (problem := a_directory(store)) is not None:
        raise StoreError(problem)
    if not os.path.isfile(store):
        raise StoreError(f"{store}: no such store")
    if (problem := not_sqlite(store, "report")) is not None:
        raise StoreError(problem)
    try:  # read-only: a run writing beside it is not disturbed, nor the file changed
        conn = open_reader(store)
    except sqlite3.Error as exc:
        raise StoreError(f"{store}: cannot open: {exc}") from None
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if not {"runs", "urls", "results"} <= tables:
            raise StoreError(f"{store}: not a store written by corral fetch or crawl")
        return figures(conn, store, settings)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{store}: cannot read: {exc}") from None
    finally:
        conn.close()


# How a report corral wrote begins: a page (its generator tag within the first lines) or the
# JSON figures (their first key): such a file is the report's to replace, as a build's output.
_OURS = (b'<meta name="generator" content="corral report">', b'{\n "format": ')


def _refuse_to_replace(target: str, *, overwrite: bool) -> None:
    """Refuse to write over a SQLite file (the store itself, given as ``-o`` by mistake),
    or, without ``overwrite``, over a file with content that is not a report corral wrote
    (``-o notes.html``: it was replaced without a word)."""
    try:
        with open(target, "rb") as existing:
            head = existing.read(512)
    except OSError:
        return  # (none there, or unreadable: the write says so)
    if head.startswith(SQLITE_HEADER):
        raise StoreError(f"-o {target} is a SQLite database: the report would replace it")
    if head and not overwrite and not any(mark in head for mark in _OURS):
        raise StoreError(
            f"{target} exists and is not a corral report; to replace it, add --overwrite, "
            "or give another -o"
        )


def render_report(
    store: str, *, fmt: ReportFormat = "html", settings: ArgvSettings = _no_settings
) -> str:
    """Return the report of ``store`` as text (``corral report STORE -o -``).

    Raises:
        StoreError: the store cannot be read.
    """
    data = read_figures(store, settings=settings)
    return render_page(data) if fmt == "html" else json.dumps(data, indent=1) + "\n"


def write_report(
    store: str,
    output: str | None = None,
    *,
    fmt: ReportFormat = "html",
    settings: ArgvSettings = _no_settings,
    overwrite: bool = False,
) -> str:
    """Write the report of ``store`` and return its path (``corral report STORE``).

    Args:
        store: a SQLite store written by ``corral fetch`` or ``corral crawl``.
        output: where to write it (default: beside the store, ``default_output``).
        fmt: ``html`` (one self-contained page) or ``json`` (the figures).
        settings: what a run's command line set, for the header (given by the CLI).
        overwrite: replace ``output`` even when it is not a report corral wrote.

    Returns:
        Where the report was written.

    Raises:
        StoreError: the store cannot be read, or the report cannot be written (or would
            replace a SQLite file, or another file without ``overwrite``).
    """
    target = output or default_output(store, fmt)
    _refuse_to_replace(target, overwrite=overwrite)
    text = render_report(store, fmt=fmt, settings=settings)
    partial = f"{target}.part"
    try:  # written whole, then renamed: a reader never sees half a page
        Path(partial).write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
