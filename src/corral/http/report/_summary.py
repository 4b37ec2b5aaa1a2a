"""The end-of-run summary: what happened, where the results are, and how to look at them.

Plain text with no colours or cursor moves, so it reads the same on a terminal, in a CI log
and in a file; the engine prints it to stderr once the progress display has stopped (stdout
may be carrying the results).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Literal

from corral.http.report._human import (
    human_count,
    human_duration,
    human_latency,
    human_many,
    human_percent,
    human_rate,
    human_size,
)
from corral.http.report._stats import FetchStatistics

StoreKind = Literal["sqlite", "jsonl", "stdout"]
_STORE_KINDS = ("sqlite", "jsonl", "stdout")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WIDTH = 100
_LABEL = 12  # width of the row labels: "  by status  200: ..."


def render_summary(
    stats: FetchStatistics,
    *,
    store_kind: StoreKind,
    table: str = "results",
    resume_command: str | None = None,
    interrupted: bool | None = None,
    head: str | None = None,
    resume_masked: bool = False,
) -> str:
    """Return the summary of a finished or interrupted run, as lines of plain text.

    Args:
        stats: the run's final statistics (``stats.output`` is where the results are).
        store_kind: ``"sqlite"`` (the default store), ``"jsonl"`` (a file) or ``"stdout"``.
        table: the SQLite table to show queries on (``results``, or ``items`` for a crawl's
            parsed items).
        resume_command: the command line that resumes the run; give it when the run was
            interrupted, and the summary says so and shows it. None for a finished run.
        interrupted: whether the run was stopped before its end (default: whether a
            ``resume_command`` is given); an interrupted run that cannot be resumed as it
            was (stdout, the demo) is said to be interrupted, with no resume command.
        head: the first line, when the run ended some other way (its stdout reader went
            away); by default ``corral: done in ...`` or ``corral: interrupted after ...``.
        resume_masked: ``resume_command`` shows passwords or secret header values as
            ``***`` (``public_argv``): the summary says to give them again.

    Returns:
        The summary, without a trailing newline.

    Raises:
        ValueError: an unknown ``store_kind``, or a ``table`` that is not a plain identifier.
    """
    if store_kind not in _STORE_KINDS:
        raise ValueError(f"store kind must be one of {', '.join(_STORE_KINDS)}, not {store_kind!r}")
    if not _IDENTIFIER.match(table):
        raise ValueError(f"table must be a plain SQL identifier, not {table!r}")
    if interrupted is None:
        interrupted = resume_command is not None
    sections = [_figures(stats, interrupted=interrupted)]
    if head is not None:
        sections[0][0] = head
    sections.append(_whereabouts(stats.output, store_kind, table))
    if resume_command is not None:
        sections.append(_resume(stats, resume_command, masked=resume_masked))
    return "\n\n".join("\n".join(lines) for lines in sections)


def _figures(stats: FetchStatistics, *, interrupted: bool) -> list[str]:
    elapsed = human_duration(stats.elapsed)
    head = f"corral: interrupted after {elapsed}" if interrupted else f"corral: done in {elapsed}"
    counts = [
        ("ok", stats.ok, ""),
        ("failed", stats.failed, ""),
        ("resumed", stats.skipped, _resumed_note(stats)),
        ("duplicates", stats.duplicates, "repeated in the input, fetched once"),
        ("retries", stats.retries, ""),
    ]
    if stats.by_skip:  # a crawl's URLs recorded unfetched: skips, not failures
        counts.insert(2, ("skipped", sum(stats.by_skip.values()), ""))
    if stats.items is not None:
        counts.append(("items", stats.items, "stored by the parse callback, table items"))
    if stats.frontier:
        counts.append(("frontier", stats.frontier, "discovered, not fetched yet"))
    if stats.retried:
        counts.append(("retried", stats.retried, "failed before, fetched again"))
    if stats.refreshed or stats.by_change:
        counts.append(("refreshed", fetched_again(stats), _changes(stats.by_change)))
    digits = max(len(human_count(n)) for _, n, _ in counts)
    lines = [head, _row("URLs", _progress(stats))]
    for label, n, note in counts:
        figure = human_count(n).rjust(digits)
        if label == "skipped":
            lines.append(_row(label, *_skips(figure, stats.by_skip)))
        else:
            shown = n or (label == "resumed" and stats.skipped_before)
            lines.append(_row(label, f"{figure}  ({note})" if note and shown else figure))
    return [*lines, *_rates(stats), *_proxies(stats), *_long_waits(stats)]


def fetched_again(stats: FetchStatistics) -> int:
    """Return the URLs a refresh run fetched again (recorded before): its ``refreshed``."""
    return sum(n for name, n in stats.by_change.items() if name != _NEW_URL)


# the store's count of URLs a refresh run fetched for the first time (``_refresh.NEW_URL``)
_NEW_URL = "new_url"


def retry_lines(failed: int, refused: int = 0) -> list[str]:
    """Return the summary's line on the failed records a ``--retry-failed`` run fetches
    again (none when there are none); ``refused``: how many of them a proxy refused for its
    credentials, which must be corrected first (the same command would be refused again)."""
    if not failed:
        return []
    many = human_many(failed, "URL")
    line = f"  failed: {many} recorded as failed (an error, or a 401/403/407/408/429/5xx)"
    if not refused:
        return [line + "; the same command with --retry-failed fetches them again"]
    which = ", " if refused == failed else f"; {human_count(refused)} of them "
    advice = (
        "refused by a proxy for its credentials: correct them in --proxy (or --proxies), "
        "then the command with --retry-failed fetches them again"
    )
    return [f"{line}{which}{advice}"]


def _changes(by_change: Mapping[str, int]) -> str:
    """Say what a refresh found, e.g. ``not_modified 9,800, changed 150, unchanged 50``: the
    URLs fetched again by ``change`` (``failed``: no body now, a 404 or a timeout), adding
    up to the figure, then the URLs new to the store, which were not fetched again."""
    order = ("not_modified", "unchanged", "changed", "new", "failed")
    found = [f"{name} {human_count(by_change[name])}" for name in order if by_change.get(name)]
    note = "fetched again: " + (", ".join(found) if found else "none recorded yet")
    if by_change.get(_NEW_URL):
        note += f"; {human_count(by_change[_NEW_URL])} new to the store besides"
    return note


def _resumed_note(stats: FetchStatistics) -> str:
    """Say what "resumed" counts; a crawl's earlier skips apart (they are not pages done)."""
    note = "done by an earlier run, not fetched again"
    if stats.skipped_before:
        note += f"; {human_count(stats.skipped_before)} more skipped then"
    return note


def summary_fields(stats: FetchStatistics) -> dict[str, object]:
    """Return a crawl's figures as its summary prints them, for ``runs.summary``."""
    return {
        "done": stats.done + stats.skipped,
        "ok": stats.ok,
        "failed": stats.failed,
        "skipped": dict(stats.by_skip),
        "resumed": stats.skipped,
        "skipped_before": stats.skipped_before,
        "frontier": stats.frontier,
        "items": stats.items,
        "refreshed": fetched_again(stats),
        "queued_again": stats.refreshed,  # (a resumed refresh queues none: they were)
        "retried": stats.retried,
        "by_change": dict(stats.by_change),
        "retries": stats.retries,
        "elapsed": round(stats.elapsed, 3),
        **worker_fields(stats),
    }


def worker_fields(stats: FetchStatistics) -> dict[str, object]:
    """Return ``{"workers": {name: {"records": n, "ok": n}}}`` for a job over Redis (the
    report's per-worker lines) and ``{"proxies": {url: {"requests": n, "errors": n,
    "rested": n}}}`` for a run through proxies (its per-proxy lines), or nothing."""
    fields: dict[str, object] = {}
    if stats.by_worker:
        fields["workers"] = {
            name: {"records": n, "ok": ok} for name, (n, ok) in sorted(stats.by_worker.items())
        }
    if stats.proxies:
        fields["proxies"] = {
            shown: {"requests": requests, "errors": errors, "rested": rested}
            for shown, (requests, errors, rested) in stats.proxies.items()
        }
    return fields


def _skips(figure: str, by_skip: Mapping[str, int]) -> list[str]:
    reasons = _tally(sorted(by_skip.items(), key=lambda kv: (-kv[1], kv[0])), sep=" ")
    reasons[0] = f"{figure}  (not fetched: {reasons[0]}"
    reasons[-1] += ")"
    return reasons


def _progress(stats: FetchStatistics) -> str:
    finished = stats.done + stats.skipped
    if stats.total is None:
        return f"{human_count(finished)} done"
    share = human_percent(finished, stats.total)
    return f"{human_count(finished)} of {human_count(stats.total)} done ({share})"


def _rates(stats: FetchStatistics) -> list[str]:
    per_second = stats.bytes / stats.elapsed if stats.elapsed > 0 else 0.0
    throughput = (human_rate(stats.rate, " URLs"), f"{human_size(round(per_second))}/s")
    if stats.p50 is None:
        latency = ["no responses"]
    else:
        quantiles = (("p50", stats.p50), ("p90", stats.p90), ("p99", stats.p99))
        latency = [f"{name} {human_latency(value)}" for name, value in quantiles]
    return [
        _row("throughput", *throughput),
        _row("received", human_size(stats.bytes)),
        _row("latency", *latency),
        _row("by status", *_tally(sorted(stats.by_status.items()))),
        _row("by error", *_tally(sorted(stats.by_error.items(), key=lambda kv: (-kv[1], kv[0])))),
    ]


def _proxies(stats: FetchStatistics) -> list[str]:
    """One line a proxy: attempts through it, its own failures, and its rests."""
    return [_row("proxy", *proxy_figures(shown, counts)) for shown, counts in stats.proxies.items()]


def proxy_figures(shown: str, counts: tuple[int, int, int]) -> list[str]:
    """Return a proxy's figures as its line says them: ``URL  2,310 requests``, ``3 errors``,
    ``rested 1x``."""
    requests, errors, rested = counts
    return [
        f"{shown}  {human_many(requests, 'request')}",
        human_many(errors, "error"),
        f"rested {human_count(rested)}x",
    ]


def _long_waits(stats: FetchStatistics) -> list[str]:
    """Name the hosts whose Retry-After corral did not honour in full (past the cap)."""
    if not stats.long_retry_after:
        return []
    asked = [
        f"{host} asked {human_count(round(seconds))} s"
        for host, seconds in sorted(stats.long_retry_after.items())
    ]
    cap = human_count(round(stats.retry_after_cap))
    return [
        _row("long waits", *asked),
        " " * (_LABEL + 2) + f"(Retry-After past the {cap} s cap: those URLs were recorded "
        f"at once, each host paused {cap} s only)",
    ]


def _tally(pairs: Iterable[tuple[object, int]], sep: str = ": ") -> list[str]:
    return [f"{key}{sep}{human_count(n)}" for key, n in pairs] or ["none"]


def _row(label: str, *items: str) -> str:
    """Return ``label`` and ``items`` (joined by commas), wrapped between items only."""
    lines = [f"  {label:<{_LABEL}}"]
    for index, item in enumerate(items):
        last = index == len(items) - 1
        piece = item if last else f"{item},"
        if lines[-1].strip() != label and len(lines[-1]) + 1 + len(piece) > _WIDTH:
            lines.append(" " * (_LABEL + 2))
        elif index:
            lines[-1] += " "
        lines[-1] += piece
    return "\n".join(lines)


def _whereabouts(output: str, store_kind: StoreKind, table: str) -> list[str]:
    if store_kind == "stdout":
        return [
            "results: written to standard output, as JSON lines (one record per URL)",
            "  shell:   ... | jq -r .status | sort | uniq -c",
        ]
    shell_path = shlex.quote(output)
    python_path = json.dumps(output)  # a double-quoted string literal Python reads back
    if store_kind == "jsonl":
        return [
            f"results: {output} (JSON lines, one record per URL)",
            f"  shell:   jq -r .status {shell_path} | sort | uniq -c",
            f"  pandas:  import pandas as pd; df = pd.read_json({python_path}, lines=True)",
        ]
    query = (
        f"select status, count(*) from {table} group by status"
        if table == "results"
        else f"select count(*) from {table}"
    )
    read = f'pd.read_sql("select * from {table}", sqlite3.connect({python_path}))'
    return [
        f"results: {output} (SQLite, table {table})",
        f'  shell:   sqlite3 {shell_path} "{query}"',
        f"  pandas:  import sqlite3, pandas as pd; df = {read}",
        f"  report:  corral report {shell_path}",
    ]


def resume_hint(stats: FetchStatistics, resume_command: str | None, *, masked: bool) -> str:
    """Return what ``-q`` prints of an interrupted run: how to resume it (``corral:
    interrupted with ...``), or that it was interrupted when it cannot be resumed."""
    if resume_command is None:
        return f"corral: interrupted after {human_duration(stats.elapsed)}"
    return "corral: " + "\n".join(_resume(stats, resume_command, masked=masked))


def _resume(stats: FetchStatistics, resume_command: str, *, masked: bool) -> list[str]:
    if stats.total is None:  # a crawl: what it found and has not recorded yet
        left = "interrupted"
        if stats.frontier:
            left += f" with {human_many(stats.frontier, 'URL')} discovered and not fetched yet"
    else:
        remaining = max(0, stats.total - stats.done - stats.skipped)
        of = human_many(stats.total, "URL")  # (the noun agrees with the total: 0 of 1 URL)
        left = f"interrupted with {human_count(remaining)} of {of} left"
    return [
        f"{left}. To resume, run the same command again",
        "(URLs already done are not fetched again):",
        f"  {resume_command}",
    ] + (
        ["(*** hides a password or a secret header value: give them again as in your command)"]
        if masked
        else []
    )
