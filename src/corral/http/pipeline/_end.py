"""The one end of a job: run it under the progress display and the signals, record how it
ended in the store, print the summary (with the resume hint and the job's own notes)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from corral._clierrors import OutputError
from corral.http._faults import StoreError
from corral.http.engine._politeness import Event
from corral.http.pipeline._interrupt import stoppable
from corral.http.pipeline._sampler import Record, sampling
from corral.http.report._human import human_count, human_many
from corral.http.report._progress import open_progress, render_summary
from corral.http.report._stats import FetchStatistics
from corral.http.report._summary import StoreKind, resume_hint
from corral.http.web._urls import public_argv

ProgressMode = Literal["auto", "bar", "plain", "off"]


def _no_notes() -> list[str]:
    return []


@dataclass(frozen=True, slots=True, kw_only=True)
class Ending:
    """How a job ends: what its summary says and how it is resumed.

    Attributes:
        kind: where the results went (the summary's wording; stdout is not resumable).
        quiet: print no summary for a finished run (an interrupted one still says how to
            resume).
        argv: the command line, repeated in the resume hint.
        resumable: False when the same command cannot resume the run (the demo).
        notes: the job's extra summary lines (the crawl's parse errors, its depth bound).
    """

    kind: StoreKind
    quiet: bool
    argv: Sequence[str]
    resumable: bool = True
    notes: Callable[[], list[str]] = field(default=_no_notes)


async def run_to_end(
    work: Callable[[], Awaitable[None]],
    *,
    statistics: Callable[[], FetchStatistics],
    progress: ProgressMode,
    close: Callable[[str, FetchStatistics], Awaitable[None]],
    ending: Ending,
    sample: Record | None = None,
    events: Callable[[], list[Event]] | None = None,
) -> FetchStatistics:
    """Run ``work``, then ``close(status, stats)`` (record the run's end) and print the summary.
    Meanwhile ``sample`` records the counters every few seconds (``_sampler``), if given,
    with the throttle events ``events()`` gives.

    Returns:
        The run's final statistics.

    Raises:
        OutputError: the store failed, during the run or as it closed: its one line says
            all (no summary).
        BrokenPipeError: the reader of stdout went away (after its summary line).
    """
    status, fault = "interrupted", None
    try:
        async with (
            open_progress(statistics, mode=progress),
            stoppable(),
            sampling(statistics, sample, events=events),
        ):
            await work()
        status = "finished"
    except StoreError as exc:
        fault, status = exc, "failed"
    except BrokenPipeError:  # the reader of stdout went away (`| head`): exit 141
        status = "stopped"
        raise
    finally:
        stats = statistics()
        try:  # a store deleted during the run is noticed here at the latest
            await close(status, stats)
        except StoreError as exc:
            fault = fault or exc
        if fault is None:
            report(ending, status, stats)
    if fault is not None:
        raise OutputError(str(fault))
    return stats


def report(ending: Ending, status: str, stats: FetchStatistics) -> None:
    """Print the summary: always for a run that did not finish, else unless quiet. A run
    whose stdout reader went away says so first (quiet, that line alone)."""
    head = None
    if status == "stopped":
        # (the last batch went out in part, maybe; no total: stdin not read to its end)
        written = human_many(stats.done, "URL")
        if stats.total is not None:  # (the noun agrees with the total: 0 of 1 URL)
            written = f"{human_count(stats.done)} of {human_many(stats.total, 'URL')}"
        head = f"corral: stopped: the reader of stdout went away ({written} written)"
        if ending.quiet:
            print(head, file=sys.stderr)
            return
    stopped = status == "interrupted"
    resumable = ending.kind != "stdout" and ending.resumable
    # shown as runs.argv keeps it: a proxy's password, an Authorization header as ***
    shown = public_argv(ending.argv)
    resume = _resume_line(ending.argv, shown) if stopped and resumable else None
    if ending.quiet and stopped:  # -q: the resume hint alone (--help promises no more)
        print(resume_hint(stats, resume, masked=shown != list(ending.argv)), file=sys.stderr)
    elif not ending.quiet:
        summary = render_summary(
            stats,
            store_kind=ending.kind,
            resume_command=resume,
            interrupted=stopped,
            head=head,
            resume_masked=shown != list(ending.argv),
        )
        print(summary, file=sys.stderr)
        for line in ending.notes():
            print(line, file=sys.stderr)


def _resume_line(argv: Sequence[str], shown: list[str]) -> str:
    """Return the command that resumes the run, as ``shown`` (secrets as ``***``) has it;
    a ``--redis`` URL with a password goes into ``CORRAL_REDIS_URL`` before it, where
    ``***`` given back as the password works (``--redis 'redis://:***@h'`` would not)."""
    for n, arg in enumerate(argv):
        value, width = (argv[n + 1], 2) if arg == "--redis" and n + 1 < len(argv) else (arg, 1)
        if width == 1 and not arg.startswith("--redis="):
            continue
        url = value.removeprefix("--redis=")
        masked = public_argv([url])[0]
        if masked == url:
            break
        rest = shown[:n] + shown[n + width :]
        return f"CORRAL_REDIS_URL={shlex.quote(masked)} {shlex.join(rest)}"
    return shlex.join(shown)
