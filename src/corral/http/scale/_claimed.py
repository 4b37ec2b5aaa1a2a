"""What a claim and a commit in Redis answer (``JobQueue.claim_tasks``, ``commit_and_claim``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Task:
    """One leased URL."""

    token: str  # the lease token (fencing)
    ident: int  # the coordinator's frontier row id (SQLite id)
    url: str
    host: str
    request: str | None  # the request's JSON when not a plain GET (as PendingRow.request)
    attempts: int = 0  # failed attempts made before this lease (a lease reaped is none)


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a claim leased, and the job's state as it saw it."""

    tasks: list[Task]
    wait: float | None  # as ``JobQueue.claim``'s
    budget: bool = False  # the job has a --max-pages budget (a crawl takes from it)
    replaced: bool = False  # fenced: the job was started afresh since the worker joined it


@dataclass(frozen=True, slots=True)
class Committed:
    """What a commit did, and what its claim leased (``JobQueue.commit_and_claim``)."""

    ok: int
    stale: int
    claimed: Claimed
