"""Run named clients as pinned subprocesses and measure them, all in one run.

A :class:`Runner` is a command line (a template) and a way to count what it produced. Each run
gets a fresh working directory, is pinned to the client core with ``taskset``, and is reaped
with ``os.wait4`` so its CPU time and peak RSS are its own (and its descendants'), not the
harness's. nginx's own request counter is read before and after, as a second witness that the
client really fetched what it claims.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

CLIENT_CORE = 1
BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"
PYTHON = sys.executable


class Server(Protocol):
    """What the harness asks of the server: its request counter and its CPU time."""

    def requests_served(self) -> int:
        """Return the requests the server has handled so far."""
        ...

    def cpu_seconds(self) -> float:
        """Return the CPU seconds the server has used so far."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Count:
    """What a run produced: distinct URLs answered 200, and records written in all."""

    ok: int
    records: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Runner:
    """A client under test: a command line template and how to count its results.

    ``argv`` items are formatted with the benchmark's parameters, e.g. ``{python}``, ``{urls}``,
    ``{base_url}``, ``{concurrency}``, ``{n}``, ``{corral}``; the command runs in a fresh
    directory, so relative output paths land there, and ``count`` is called with it.
    """

    name: str
    argv: Sequence[str]
    count: Callable[[Path], Count]
    role: str = "peer"  # "floor" (what ratios are taken against), "peer" or "corral"


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One run of one runner."""

    runner: str
    role: str
    n: int
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    peak_rss_mb: float
    exit_code: int
    ok: int
    records: int
    served: int
    server_cpu_s: float

    @property
    def cpu_s(self) -> float:
        """Return user plus system CPU seconds."""
        return self.cpu_user_s + self.cpu_sys_s

    @property
    def rate(self) -> float:
        """Return successful URLs per second of wall time."""
        return self.ok / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def rate_per_cpu(self) -> float:
        """Return successful URLs per CPU second, which other load on the core distorts less."""
        return self.ok / self.cpu_s if self.cpu_s > 0 else 0.0

    @property
    def verified(self) -> bool:
        """Say whether every URL was fetched: exit 0, N distinct 200s, and nginx served N."""
        return self.exit_code == 0 and self.ok == self.n and self.served >= self.n


def jsonl_count(
    filename: str, *, url: str = "url", status: str = "status"
) -> Callable[[Path], Count]:
    """Count distinct URLs with status 200 in a JSON-lines file the runner wrote."""

    def count(directory: Path) -> Count:
        path = directory / filename
        if not path.exists():
            return Count(ok=0, records=0)
        records, ok = 0, set()
        with path.open() as lines:
            for line in lines:
                if line.strip():
                    records += 1
                    item = json.loads(line)
                    if item.get(status) == 200:
                        ok.add(item[url])
        return Count(ok=len(ok), records=records)

    return count


def sqlite_count(filename: str, ok_query: str, records_query: str) -> Callable[[Path], Count]:
    """Count results in a SQLite file the runner wrote, with two ``SELECT count(...)`` queries."""

    def count(directory: Path) -> Count:
        path = directory / filename
        if not path.exists():
            return Count(ok=0, records=0)
        with sqlite3.connect(path) as db:
            ok = db.execute(ok_query).fetchone()[0]
            records = db.execute(records_query).fetchone()[0]
        return Count(ok=int(ok), records=int(records))

    return count


def run_once(
    runner: Runner,
    *,
    params: Mapping[str, object],
    n: int,
    server: Server,
    timeout: float,
) -> Measurement:
    """Run ``runner`` once, pinned to the client core, and measure it.

    Args:
        runner: The client to run.
        params: Values for the placeholders in its command line.
        n: How many URLs (or pages) it must fetch.
        server: The server, for its request counter and CPU time.
        timeout: Seconds after which the run is killed (and then fails verification).

    Returns:
        The measurement; ``verified`` says whether it really fetched all ``n``.
    """
    directory = _fresh_directory(runner.name)
    argv = ["taskset", "-c", str(CLIENT_CORE), *(a.format(**params) for a in runner.argv)]
    before, server_cpu = server.requests_served(), server.cpu_seconds()
    code, usage, wall = _run_pinned(argv, directory, timeout)
    # The counter includes the status request that reads it.
    fetched = server.requests_served() - before - 1
    server_cpu = server.cpu_seconds() - server_cpu
    count = _count_in_child(runner.count, directory)
    if code != 0:
        tail = (directory / "output.log").read_text(errors="replace")[-1500:]
        print(f"bench: {runner.name} exited with {code}; end of its output:\n{tail}", flush=True)
    return Measurement(
        runner=runner.name,
        role=runner.role,
        n=n,
        wall_s=wall,
        cpu_user_s=usage.ru_utime,
        cpu_sys_s=usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        exit_code=code,
        ok=count.ok,
        records=count.records,
        served=fetched,
        server_cpu_s=server_cpu,
    )


def _count_in_child(count: Callable[[Path], Count], directory: Path) -> Count:
    # Linux keeps a process's peak RSS across exec, so every client starts with its parent's
    # peak as the floor of its own ru_maxrss. Counting a million results here would lift that
    # floor for every later client; a forked child does the counting and takes its memory away.
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_send_count, args=(count, directory, send))
    child.start()
    send.close()
    try:
        result: Count = receive.recv()
    except EOFError:
        raise RuntimeError(f"counting the results in {directory} failed") from None
    finally:
        child.join()
    return result


def _send_count(count: Callable[[Path], Count], directory: Path, send: Connection) -> None:
    send.send(count(directory))
    send.close()


def _fresh_directory(name: str) -> Path:
    directory = WORK / "runs" / name
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    return directory


def _run_pinned(
    argv: list[str], directory: Path, timeout: float
) -> tuple[int, resource.struct_rusage, float]:
    with (directory / "output.log").open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=directory, stdout=log, stderr=log)
        code, usage = _reap(process, timeout)
        return code, usage, time.perf_counter() - started


def _reap(process: subprocess.Popen[bytes], timeout: float) -> tuple[int, resource.struct_rusage]:
    # wait4 returns this child's own rusage (and its reaped descendants'), unlike
    # getrusage(RUSAGE_CHILDREN), whose ru_maxrss is the maximum over every child so far.
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:  # Ctrl-C or SIGTERM in the harness: leave no client behind
        process.kill()
        process.wait()
        raise
    finally:
        killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage


def run_all(
    runners: Sequence[Runner],
    *,
    repeat: int,
    params: Mapping[str, object],
    n: int,
    server: Server,
    timeout: float,
) -> list[Measurement]:
    """Run every runner ``repeat`` times, interleaved, so drift in load hits them alike."""
    compile_corral()
    results = []
    for round_ in range(1, repeat + 1):
        for runner in runners:
            print(f"bench: round {round_}/{repeat}: {runner.name} (n={n}) ...", flush=True)
            measured = run_once(runner, params=params, n=n, server=server, timeout=timeout)
            mark = "ok" if measured.verified else "NOT VERIFIED"
            print(
                f"bench:   {measured.rate:,.0f}/s in {measured.wall_s:.2f} s, "
                f"{measured.ok}/{n} ok, nginx served {measured.served} "
                f"using {measured.server_cpu_s:.1f} CPU s: {mark}",
                flush=True,
            )
            results.append(measured)
    return results


def json_count(
    filename: str, *, url: str = "url", status: str = "status"
) -> Callable[[Path], Count]:
    """Count distinct URLs with status 200 in a JSON file holding a list of items."""

    def count(directory: Path) -> Count:
        path = directory / filename
        items = json.loads(path.read_text()) if path.exists() else []
        ok = {item[url] for item in items if item.get(status) == 200}
        return Count(ok=len(ok), records=len(items))

    return count


def dataset_count(
    dirname: str, *, url: str = "url", status: str = "status"
) -> Callable[[Path], Count]:
    """Count distinct URLs with status 200 in a directory of one-item JSON files (Crawlee)."""

    def count(directory: Path) -> Count:
        records, ok = 0, set()
        for path in (directory / dirname).glob("*.json"):
            if path.name.startswith("__"):  # __metadata__.json
                continue
            records += 1
            item = json.loads(path.read_text())
            if item.get(status) == 200:
                ok.add(item[url])
        return Count(ok=len(ok), records=records)

    return count


def shared_runners(job: str, source: str) -> list[Runner]:
    """Return the runners ``fetch`` and ``crawl`` both have: Scrapy (tuned and as installed),
    Crawlee (in memory and on files) and corral, for ``job`` ("fetch" or "crawl") reading its
    input from the placeholder ``source`` ("{urls}" or "{seed}")."""
    peers = BENCH / "peers"

    def peer(script: str, *extra: str) -> list[str]:
        return [
            "{python}",
            str(peers / f"{job}_{script}.py"),
            source,
            "-c",
            "{concurrency}",
            *extra,
        ]

    return [
        Runner(name="scrapy", argv=peer("scrapy"), count=jsonl_count("results.jsonl")),
        Runner(name="crawlee", argv=peer("crawlee"), count=json_count("results.json")),
        Runner(
            name="crawlee-fs",
            argv=peer("crawlee", "--storage", "filesystem"),
            count=dataset_count("storage/datasets/default"),
        ),
        # Scrapy as the issues' figures were measured (default CONCURRENT_ITEMS): see docs.
        Runner(
            name="scrapy-default",
            argv=peer("scrapy", "--default-items"),
            count=jsonl_count("results.jsonl"),
        ),
        # corral with politeness, retries and the SQLite store on; every URL is on one host,
        # so --per-host equals the concurrency.
        Runner(
            name="corral",
            role="corral",
            argv=[
                *("{corral}", job, source, "-o", "out.db", "--concurrency", "{concurrency}"),
                *("--per-host", "{concurrency}", "--no-progress", "--quiet"),
            ],
            count=sqlite_count(
                "out.db",
                "SELECT count(DISTINCT url) FROM results WHERE status = 200",
                "SELECT count(*) FROM results",
            ),
        ),
    ]


def select(runners: Sequence[Runner], names: Sequence[str] | None) -> list[Runner]:
    """Return the runners named (all when ``names`` is empty), failing on an unknown name."""
    if not names:
        return list(runners)
    known = {r.name: r for r in runners}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"bench: unknown runner(s) {unknown}; known: {list(known)}")
    return [known[n] for n in names]


def params(**values: object) -> dict[str, object]:
    """Return the placeholder values for runners' command lines, with the usual ones added."""
    corral = Path(PYTHON).with_name("corral")
    return {"python": PYTHON, "corral": corral, **values}


def compile_corral() -> None:
    """Byte-compile corral's modules, as ``pip install`` does for a package it installs.

    The peers run from site-packages, compiled when they were installed. corral in a
    development checkout is installed editable, and with ``PYTHONDONTWRITEBYTECODE`` set (as
    on the machine these figures come from) its modules were compiled anew in every run:
    0.035 CPU s a run, charged to corral alone. ``compileall`` writes the files whatever
    that variable says.
    """
    import compileall

    import corral

    compileall.compile_dir(Path(corral.__file__).parent, quiet=1)
