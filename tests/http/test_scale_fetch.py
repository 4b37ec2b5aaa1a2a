"""``corral fetch --redis URL --job NAME``: a coordinator, workers anywhere, one store.

Each test runs the real commands (``python -m corral``) against corral's test site and a real
redis-server on 127.0.0.1 (started by the ``redis_url`` fixture, installed when missing).
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import acorral
from redis_server import RedisServer

import corral as toolkit
from corral.testing import Site, SiteLayout, open_site

# (threshold: a fork from the test's loop, to start the command, takes 0.1 s on a loaded machine)
pytestmark = pytest.mark.corral_guard(strict=False, threshold=1000)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(log_size=100_000, layout=SiteLayout(pages=400)) as running:
        yield running


def _urls(tmp_path: Path, site: Site, paths: list[str]) -> Path:
    path = tmp_path / "urls.txt"
    path.write_text("".join((site.url(p) if p.startswith("/") else p) + "\n" for p in paths))
    return path


def _records(db: Path) -> list[tuple[str, int | None]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("select url, status from results order by url"))


async def _left(redis_url: str, job: str) -> dict[str, str]:
    """Return what a job left in Redis: its keys' names, "finished" for a meta whose state
    says so and "kept" for another key, each only if it expires within ten minutes."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    prefix = f"corral:{{{job}}}:"
    try:
        left = {}
        async for key in client.scan_iter(match=prefix + "*"):
            name = key.decode().removeprefix(prefix)
            ttl = await client.pttl(key)
            assert 0 < ttl <= 600_000, (name, ttl)
            state = await client.hget(key, "state") if name == "meta" else b"kept"
            left[name] = state.decode() if isinstance(state, bytes) else str(state)
        return left
    finally:
        await client.aclose()


async def test_a_coordinated_fetch_writes_one_record_per_url_into_the_store(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """The coordinator with its one local worker: every URL once, as one process would, and
    the job's keys are gone from Redis once the store has everything (but its settings, state
    and counts, which expire: workers started apart see the job finished)."""
    paths = [f"/page/{n}" for n in range(1, 201)] + ["/status/404", "not a url"]
    urls = _urls(tmp_path, site, paths)
    out = tmp_path / "out.db"
    done = await acorral("fetch", str(urls), "--redis", redis_url, "--job", "one", "-o", str(out))
    assert done.returncode == 0, done.stderr
    records = _records(out)
    assert len(records) == len(paths)
    assert len({url for url, _ in records}) == len(paths)
    assert sum(status == 200 for _, status in records) == 200
    assert (site.url("/status/404"), 404) in records
    assert site.statistics().requests == 201  # the invalid line was never sent to a worker
    assert await _left(redis_url, "one") == {"meta": "finished", "stats": "kept"}
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    try:  # the fetch settings (headers, proxies: credentials, maybe) went with the job
        assert await client.hget("corral:{one}:meta", "config") is None
    finally:
        await client.aclose()


async def test_remote_workers_do_the_fetching_and_exit_when_the_job_is_finished(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """``--workers 0``: the coordinator fetches nothing itself; two ``corral worker``
    processes started apart do it all, and exit 0 at the end."""
    paths = [f"/page/{n}" for n in range(1, 301)]
    urls = _urls(tmp_path, site, paths)
    out = tmp_path / "out.db"
    worker = [sys.executable, "-m", "corral", "worker", "--redis", redis_url, "--job", "apart"]
    coordinator = asyncio.ensure_future(
        acorral(
            "fetch",
            str(urls),
            "--redis",
            redis_url,
            "--job",
            "apart",
            "--workers",
            "0",
            "-o",
            str(out),
        )
    )
    procs = [await asyncio.create_subprocess_exec(*worker) for _ in range(2)]
    done = await coordinator
    codes = [await proc.wait() for proc in procs]
    assert done.returncode == 0, done.stderr
    assert codes == [0, 0]
    assert len(_records(out)) == 300
    assert site.statistics().requests == 300


async def test_a_coordinator_killed_mid_run_is_resumed_with_one_record_per_url(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """kill -9 of the coordinator: its worker goes on (results wait in Redis), the same
    command resumes, and the store ends with exactly one record per URL."""
    paths = [f"/delay/20?n={n}" for n in range(1, 301)]
    urls = _urls(tmp_path, site, paths)
    out = tmp_path / "out.db"
    args = [
        "fetch",
        str(urls),
        "--redis",
        redis_url,
        "--job",
        "kill",
        "-o",
        str(out),
        "--no-progress",
        "--concurrency",
        "8",
    ]
    first = await asyncio.create_subprocess_exec(sys.executable, "-m", "corral", *args)
    await site.wait_until(lambda stats: stats.requests >= 60)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    records = _records(out)
    assert len(records) == 300
    assert len({url for url, _ in records}) == 300
    assert await _left(redis_url, "kill") == {"meta": "finished", "stats": "kept"}


async def test_bad_redis_options_are_one_line_and_exit_2(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """Half the options, a URL that is not Redis's, a job name Redis cannot take, stdout as
    output, a Redis that does not answer: one line each, exit 2, nothing written."""
    urls = _urls(tmp_path, site, ["/page/1"])
    out = tmp_path / "out.db"
    cases = {
        ("--redis", redis_url): "--redis needs --job",
        ("--job", "x"): "--job names a job in Redis",
        ("--redis", "http://h", "--job", "x"): "is not a Redis URL",
        ("--redis", redis_url, "--job", "a b"): "bad job name",
        (
            "--redis",
            "redis://127.0.0.1:1/0",
            "--job",
            "x",
        ): "redis://127.0.0.1:1/0 unreachable",
    }
    bad_db = redis_url.rsplit("/", 1)[0] + "/99"
    named_db = redis_url.rsplit("/", 1)[0] + "/prices"  # redis-py took it as database 0
    cases[("--redis", named_db, "--job", "x")] = "the database must be a number"
    cases[("--redis", bad_db, "--job", "x")] = f"{bad_db} refused: DB index is out of range"
    web = f"redis://127.0.0.1:{site.port}/0"  # an HTTP server, not Redis
    cases[("--redis", web, "--job", "x")] = f"{web} does not answer as Redis does"
    for extra, message in cases.items():
        done = await acorral("fetch", str(urls), "-o", str(out), *extra)
        assert done.returncode == 2, (extra, done.stderr)
        assert message in done.stderr, (extra, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not out.exists()
    done = await acorral("fetch", str(urls), "-o", "-", "--redis", redis_url, "--job", "x")
    assert done.returncode == 2
    assert "give -o FILE" in done.stderr


async def test_a_redis_that_wants_a_password_says_so(redis_server: RedisServer) -> None:
    """A Redis with requirepass, no password in the URL: one line saying it wants one and how
    to give it (Redis's own answer is about HELLO, which a user never typed)."""
    import redis.asyncio

    admin = redis.asyncio.Redis.from_url(redis_server.url)
    await admin.config_set("requirepass", "s3cret")
    await admin.aclose()
    done = await acorral("worker", "--redis", redis_server.url, "--job", "x")
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "wants a password" in done.stderr
    assert "redis://:PASSWORD@" in done.stderr
    assert "HELLO" not in done.stderr


async def test_a_job_name_is_bound_to_its_store(site: Site, tmp_path: Path, redis_url: str) -> None:
    """A second store under a running job's name is refused (it would get the other's
    records): one line naming the store the job writes into."""
    paths = [f"/delay/50?n={n}" for n in range(1, 201)]
    urls = _urls(tmp_path, site, paths)
    args = ["fetch", str(urls), "--redis", redis_url, "--job", "bound", "--concurrency", "2"]
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args, "-o", str(tmp_path / "a.db"), "--no-progress"
    )
    await site.wait_until(lambda stats: stats.requests >= 1)  # the job's settings are in
    other = await acorral(*args, "-o", str(tmp_path / "b.db"))
    first.send_signal(signal.SIGINT)
    await first.wait()
    assert other.returncode == 2
    assert "belongs to another store" in other.stderr
    assert "a.db" in other.stderr
    assert not (tmp_path / "b.db").exists()


async def test_status_shows_workers_and_hosts_of_a_running_job(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """``corral status`` while a job runs: the counts, each worker, each host; for a job
    that does not exist: one line, exit 2."""
    paths = [f"/delay/50?n={n}" for n in range(1, 201)]
    urls = _urls(tmp_path, site, paths)
    args = [
        "fetch",
        str(urls),
        "--redis",
        redis_url,
        "--job",
        "shown",
        "-o",
        str(tmp_path / "s.db"),
        "--no-progress",
        "--concurrency",
        "4",
    ]
    first = await asyncio.create_subprocess_exec(sys.executable, "-m", "corral", *args)
    await site.wait_until(lambda stats: stats.requests >= 10)
    shown = await acorral("status", "--redis", redis_url, "--job", "shown")
    first.send_signal(signal.SIGINT)
    await first.wait()
    assert shown.returncode == 0, shown.stderr
    assert "job shown: running" in shown.stdout
    assert "1 worker:" in shown.stdout
    assert "127.0.0.1" in shown.stdout
    missing = await acorral("status", "--redis", redis_url, "--job", "nothing")
    assert missing.returncode == 2
    assert "no job nothing on redis://" in missing.stderr


async def test_redis_restarted_without_its_data_mid_run_loses_nothing(
    site: Site, tmp_path: Path, redis_server: RedisServer
) -> None:
    """Redis stopped mid-run and started again empty (no persistence: the worst of an AOF's
    lost second): the coordinator and its worker wait it out, each saying so in one line;
    the coordinator hands the job back, and the store ends with one record per URL."""
    paths = [f"/delay/20?n={n}" for n in range(1, 301)]
    urls = _urls(tmp_path, site, paths)
    out = tmp_path / "out.db"
    args = ["fetch", str(urls), "--redis", redis_server.url, "--job", "lost", "-o", str(out)]
    args += ["--no-progress", "--concurrency", "8"]
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args, stderr=asyncio.subprocess.PIPE
    )
    await site.wait_until(lambda stats: stats.requests >= 60)
    await toolkit.to_thread(redis_server.stop)
    await toolkit.to_thread(redis_server.start)
    _, err = await asyncio.wait_for(run.communicate(), 90)
    assert run.returncode == 0, err
    assert b"Traceback" not in err, err.decode()
    records = _records(out)
    assert len(records) == 300
    assert len({url for url, _ in records}) == 300
    assert all(status == 200 for _, status in records)


async def test_three_workers_keep_one_rate_per_host_for_the_job(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """``--rate 20/s`` with three local workers against the site's rate-limited area (20
    requests a second per client, a burst of 5, a ban after 10 refusals): the job as a whole
    keeps the rate, so the site answers no 429 and bans nobody (three workers each keeping
    the rate on their own would be refused at once and banned)."""
    paths = [f"/limited/p{n}" for n in range(1, 61)]
    urls = _urls(tmp_path, site, paths)
    out = tmp_path / "out.db"
    done = await acorral(
        "fetch", str(urls), "--redis", redis_url, "--job", "polite", "--workers", "3",
        "--rate", "20/s", "-o", str(out), "--no-progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (client,) = site.statistics().clients.values()
    assert (client.throttled, client.forbidden, client.banned) == (0, 0, False)
    assert client.allowed == 60
    assert [status for _, status in _records(out)] == [200] * 60


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
async def test_a_stopped_coordinator_leaves_no_local_worker(
    site: Site, tmp_path: Path, redis_url: str, how: str
) -> None:
    """Ctrl-C or SIGTERM of a coordinator with two local workers: it ends at once (well
    within its 10 s deadline: no "aborted"), and so do its workers; killed outright, its
    workers see their lifeline close and end too. Nobody is left running."""
    paths = [f"/delay/200?n={n}" for n in range(1, 501)]
    urls = _urls(tmp_path, site, paths)
    args = ["fetch", str(urls), "--redis", redis_url, "--job", "stop", "--workers", "2"]
    args += ["-o", str(tmp_path / "out.db"), "--no-progress"]
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args, stderr=asyncio.subprocess.PIPE
    )
    await site.wait_until(lambda stats: stats.requests >= 20)
    workers = _local_workers(run.pid)
    assert len(workers) == 2
    run.send_signal(getattr(signal, how))
    _, err = await asyncio.wait_for(run.communicate(), 15)
    assert b"aborted" not in err, err.decode()
    assert b"Traceback" not in err, err.decode()
    for pid in workers:  # each ends by itself (its own 5 s limit at most)
        await asyncio.wait_for(toolkit.to_thread(_wait_gone, pid), 15)


def _local_workers(parent: int) -> list[int]:
    """Return the pids of ``parent``'s ``corral worker`` children (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"worker" in command:
            found.append(int(entry.name))
    return found


def _wait_gone(pid: int) -> None:
    """Return once process ``pid`` has ended (it is not our child: its pidfd says when)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        select.select([fd], [], [])
    finally:
        os.close(fd)


async def test_a_local_worker_that_dies_is_replaced(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """kill -9 of the coordinator's only local worker: one line says so, another starts, and
    the job completes with one record per URL (it stalled forever)."""
    paths = [f"/delay/20?n={n}" for n in range(1, 301)]
    urls = _urls(tmp_path, site, paths)
    out = tmp_path / "out.db"
    args = ["fetch", str(urls), "--redis", redis_url, "--job", "dies", "-o", str(out)]
    args += ["--no-progress", "--concurrency", "8"]
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args, stderr=asyncio.subprocess.PIPE
    )
    await site.wait_until(lambda stats: stats.requests >= 30)
    (worker,) = _local_workers(run.pid)
    os.kill(worker, signal.SIGKILL)
    _, err = await asyncio.wait_for(run.communicate(), 90)
    assert run.returncode == 0, err
    said = f"corral: local worker {worker} ended (exit code -9), its ".encode()
    assert said in err, err  # ... N URLs handed back (not held until their leases expire)
    assert b"URLs handed back; starting another" in err
    records = _records(out)
    assert len(records) == 300
    assert len({url for url, _ in records}) == 300


async def test_a_refused_output_leaves_no_job_in_redis(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """``-o`` another program's database: refused as without ``--redis`` (exit 2, the file
    byte for byte), and no job is left in Redis for workers to wait on."""
    notes = tmp_path / "notes.db"
    with sqlite3.connect(notes) as conn:
        conn.execute("create table notes(x)")
    before = notes.read_bytes()
    urls = _urls(tmp_path, site, ["/page/1"])
    done = await acorral("fetch", str(urls), "--redis", redis_url, "--job", "ex1", "-o", str(notes))
    assert done.returncode == 2
    assert notes.read_bytes() == before
    assert await _left(redis_url, "ex1") == {}


async def test_the_store_keeps_the_redis_password_masked(
    site: Site, tmp_path: Path, redis_server: RedisServer
) -> None:
    """A ``--redis`` URL with a password: the run's command line in the store shows it as
    ``***`` (the resume hint on the terminal keeps it, or it would not work), and the local
    worker gets it in its environment, not on the command line ``ps`` shows any user."""
    import redis.asyncio

    admin = redis.asyncio.Redis.from_url(redis_server.url)
    await admin.config_set("requirepass", "sekret")
    await admin.aclose()
    url = redis_server.url.replace("redis://", "redis://:sekret@")
    out = tmp_path / "out.db"
    urls = _urls(tmp_path, site, [f"/delay/50?n={n}" for n in range(200)])
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", "fetch", str(urls), "--redis", url, "--job", "pw",
        "-o", str(out), "--no-progress", stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await site.wait_until(lambda stats: stats.requests >= 20)
    (worker,) = _local_workers(run.pid)
    command = Path(f"/proc/{worker}/cmdline").read_bytes()
    _, err = await asyncio.wait_for(run.communicate(), 90)
    assert run.returncode == 0, err
    assert b"sekret" not in command
    with sqlite3.connect(out) as conn:
        (argv,) = conn.execute("select argv from runs").fetchone()
    assert "sekret" not in argv
    assert "redis://:***@127.0.0.1" in argv


async def test_a_coordinator_nobody_works_for_says_how_to_start_a_worker(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """``--workers 0`` and no worker anywhere: one line says how to start one; once one is
    started as it says, the job completes."""
    urls = _urls(tmp_path, site, [f"/page/{n}" for n in range(1, 51)])
    out = tmp_path / "out.db"
    args = ["fetch", str(urls), "--redis", redis_url, "--job", "alone", "--workers", "0"]
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args, "-o", str(out), "--no-progress",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert run.stderr is not None
    line = (await asyncio.wait_for(run.stderr.readline(), 30)).decode()
    assert line == (
        f"corral: no worker has joined job alone yet; start one (here or on any machine): "
        f"corral worker --redis {redis_url} --job alone\n"
    )
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *line.split(": ", 2)[2].split()[1:]
    )
    _, err = await asyncio.wait_for(run.communicate(), 60)
    assert run.returncode == 0, err
    assert await asyncio.wait_for(worker.wait(), 30) == 0
    assert len(_records(out)) == 50


async def test_a_job_runs_through_redis_s_unix_socket(
    site: Site, tmp_path: Path, redis_server: RedisServer
) -> None:
    """``--redis unix:///path/to/redis.sock?db=0``: the coordinator, its worker and
    ``corral status`` reach Redis through its Unix socket (redis-py's socket connection
    takes no keepalive option: it was a TypeError)."""
    url = f"unix://{redis_server.socket}?db=0"
    urls = _urls(tmp_path, site, [f"/page/{n}" for n in range(1, 31)])
    out = tmp_path / "out.db"
    done = await acorral("fetch", str(urls), "--redis", url, "--job", "sock", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert len(_records(out)) == 30
    status = await acorral("status", "--redis", url, "--job", "sock")
    assert status.returncode == 0, status.stderr
    assert "finished" in status.stdout


async def test_rediss_to_a_redis_without_tls_says_so(redis_url: str) -> None:
    """``rediss://`` (TLS) to a Redis that has no TLS: the handshake times out; the line
    says the port answers and a Redis without TLS takes ``redis://``, not "unreachable"."""
    url = redis_url.replace("redis://", "rediss://", 1)
    done = await acorral("status", "--redis", url, "--job", "tls")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "no TLS handshake" in done.stderr
    assert "a Redis without TLS takes redis://" in done.stderr
