"""``corral status``: a distributed job's progress, per worker and per host, with an ETA."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from corral.http.report._human import human_duration, human_many
from corral.http.report._summary import proxy_figures

# seconds without a heartbeat after which a worker or the coordinator is shown as gone?
# (a worker beats every second, the coordinator every 5 s)
_GONE_AFTER = 10.0

if TYPE_CHECKING:
    from corral.http.scale._status import JobStatus


async def show_status(url: str, job: str, out: TextIO) -> int:
    """Print the job's progress to ``out``; return the exit code (0).

    Raises:
        ScaleError: Redis cannot be reached, or it has no job of that name.
    """
    from corral.http.scale import _queue  # (redis-py, loaded when a command needs it)

    queue = await _queue.JobQueue.connect(url, job)
    try:
        status = await queue.status()
    finally:
        await queue.close()
    out.write("\n".join(render(job, status)) + "\n")
    return 0


def render(job: str, status: JobStatus) -> list[str]:
    """Return the lines ``corral status`` prints for ``status``."""
    total = status.queued + status.leased + status.done
    state = status.state
    seen = [ago for name, ago, _ in status.workers if name == "coordinator"]
    if state == "running" and seen and seen[0] > _GONE_AFTER:  # (stopped, or Redis cut off)
        state += " (its coordinator gone? its command, run again, resumes the job)"
    lines = [
        (
            f"job {job}: {state}; {status.done:,} of {human_many(total, 'URL')} done, "
            f"{status.leased:,} in flight, {status.queued:,} queued, "
            f"{human_many(status.undrained, 'record')} waiting for the coordinator"
            + (f"; held back: {status.held_back}" if status.held_back else "")
        )
    ]
    elapsed = max(0.0, (status.now_ms - status.started_ms) / 1000)
    if status.state == "running":
        eta = status.eta_seconds()
        pace = f"{status.done / elapsed:,.1f} URLs/s" if elapsed > 0 else "-"
        left = "" if eta is None else f"; ETA {human_duration(eta)}"
        reaped = f"{status.reaped:,} leases reaped"
        lines.append(f"running {human_duration(elapsed)} at {pace}{left}; {reaped}")
    workers = [w for w in status.workers if w[0] != "coordinator"]
    for name, seen_ago, figures in status.workers:
        if name == "coordinator":
            shown = ", ".join(f"{k} {v:,}" for k, v in sorted(figures.items()))
            gone = " (gone?)" if seen_ago > _GONE_AFTER else ""
            lines.append(f"coordinator: seen {seen_ago:.0f} s ago{gone}; {shown}")
    if status.state != "running":
        return lines
    lines.append(f"{len(workers)} worker{'' if len(workers) == 1 else 's'}:")
    for name, seen_ago, figures in workers:
        shown = ", ".join(f"{k} {v:,}" for k, v in sorted(figures.items()))
        gone = " (gone?)" if seen_ago > _GONE_AFTER else ""
        lines.append(f"  {name}: seen {seen_ago:.0f} s ago{gone}; {shown}")
    if all(seen > _GONE_AFTER for _, seen, _ in workers):
        lines.append(
            "no worker has been seen for 10 s: start one with corral worker (or the job's "
            "coordinator, which runs its own)"
        )
    if status.proxies:
        lines.append("proxies (the workers' attempts so far):")
        for shown, counts in status.proxies.items():
            lines.append("  " + ", ".join(proxy_figures(shown, counts)))
    if status.hosts:
        lines.append("hosts (most queued first):")
        for host, queued, in_flight, due_in in status.hosts:
            due = f", next start in {due_in:.1f} s" if due_in > 0 else ""
            lines.append(f"  {host}: {queued:,} queued, {in_flight} in flight{due}")
    return lines
