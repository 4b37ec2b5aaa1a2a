"""What a job over Redis says: advice that works as printed, figures that mean what they
say, rules stated as they are (the real commands against corral's test site and a real
redis-server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from corral_cli import ENV, acorral
from redis_server import RedisServer

from corral.testing import Site, SiteLayout, open_site

# (threshold: a fork from the test's loop, to start the command, takes 0.1 s on a loaded machine)
pytestmark = pytest.mark.corral_guard(strict=False, threshold=1000)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=100)) as running:
        yield running


async def _with_password(server: RedisServer, password: str) -> str:
    import redis.asyncio

    admin = redis.asyncio.Redis.from_url(server.url)
    await admin.config_set("requirepass", password)
    await admin.aclose()
    return server.url.replace("redis://", f"redis://:{password}@")


def _count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute("select count(*) from results where status is not null").fetchone()
        return int(n)


async def _hint_then_worker(
    args: list[str], env: dict[str, str], worker_env: dict[str, str]
) -> str:
    """Run a coordinator without workers; return its hint's command, after running that
    command (``***`` given back as the password, the way the hint says) to the job's end."""
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args, "--workers", "0", "--no-progress",
        stderr=asyncio.subprocess.PIPE, env={**ENV, **env},
    )  # fmt: skip
    assert run.stderr is not None
    line = (await asyncio.wait_for(run.stderr.readline(), 30)).decode()
    advice = line.split("(here or on any machine): ", 1)[1].strip()
    command = advice.split(" (", 1)[0].split()
    assert command[command.index("corral") :][:2] == ["corral", "worker"]
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", *command[command.index("corral") :], env={**ENV, **worker_env}
    )
    _, err = await asyncio.wait_for(run.communicate(), 60)
    assert run.returncode == 0, err
    assert await asyncio.wait_for(worker.wait(), 30) == 0
    return advice


async def test_the_worker_hint_works_as_printed_and_hides_the_password(
    site: Site, tmp_path: Path, redis_server: RedisServer
) -> None:
    """A ``--redis`` URL with a password: the hint gives it in CORRAL_REDIS_URL with ``***``
    for the password (``--redis redis://:***@`` would fail as printed), and that command,
    the password given back, does the job."""
    url = await _with_password(redis_server, "s3cret")
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(site.url(f"/page/{n}") + "\n" for n in range(1, 21)))
    out = tmp_path / "out.db"
    args = ["fetch", str(urls), "--redis", url, "--job", "pw", "-o", str(out)]
    advice = await _hint_then_worker(args, {}, {"CORRAL_REDIS_URL": url})
    shown = url.replace("s3cret", "***")
    assert advice == f"CORRAL_REDIS_URL='{shown}' corral worker --job pw (*** = the password)"
    assert _count(out) == 20


async def test_fetch_and_crawl_read_corral_redis_url(
    site: Site, tmp_path: Path, redis_server: RedisServer
) -> None:
    """``corral fetch``/``crawl --job NAME`` take the URL from CORRAL_REDIS_URL, as ``corral
    worker`` does (a password never on a command line): the hint is then the bare worker
    command, which works in a shell with that variable."""
    url = await _with_password(redis_server, "s3cret")
    env = {"CORRAL_REDIS_URL": url}
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(site.url(f"/page/{n}") + "\n" for n in range(1, 11)))
    out = tmp_path / "out.db"
    advice = await _hint_then_worker(["fetch", str(urls), "--job", "e1", "-o", str(out)], env, env)
    assert advice == "corral worker --job e1 (with CORRAL_REDIS_URL set as here)"
    assert _count(out) == 10
    crawled = tmp_path / "crawl.db"
    done = await acorral(
        "crawl", site.url("/"), "--job", "e2", "--max-pages", "5", "-o", str(crawled), env=env
    )
    assert done.returncode == 0, done.stderr
    assert _count(crawled) == 5
    assert "s3cret" not in done.stderr


async def _status_until(redis_url: str, job: str, wanted: str) -> str:
    """Return ``corral status``'s output once it shows ``wanted`` (heartbeats come each
    second; the test's timeout bounds the wait)."""
    while True:
        shown = await acorral("status", "--redis", redis_url, "--job", job)
        if wanted in shown.stdout:
            return shown.stdout
        await asyncio.sleep(0.5)  # (polling what another process shows: no event to wait on)


async def test_status_counts_robots_refusals_as_skipped(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """A crawl worker's robots.txt refusals are skips in ``corral status``, as the summary
    says, not failures."""
    seeds = [site.url(f"/private/{n}.html") for n in range(3)] + [site.url("/delay/4000")]
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", "crawl", *seeds, "--redis", redis_url, "--job", "rb",
        "--max-depth", "0", "-o", str(tmp_path / "c.db"), "--no-progress",
        stderr=asyncio.subprocess.PIPE, env=ENV,
    )  # fmt: skip
    shown = await _status_until(redis_url, "rb", "skipped 3")
    _, err = await asyncio.wait_for(run.communicate(), 60)
    assert run.returncode == 0, err
    (worker,) = [line for line in shown.splitlines() if "skipped 3" in line]
    assert "failed 0" in worker, shown
    assert "robots" in err.decode()


async def test_report_json_gives_workers_per_run_and_their_sum(
    site: Site, tmp_path: Path, redis_url: str
) -> None:
    """A store of two runs over Redis, the first killed (kill -9: it wrote no breakdown):
    ``corral report --format json`` gives each run's workers (null for the killed one) and
    ``workers`` adds up the runs that gave them."""
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(site.url(f"/delay/20?n={n}") + "\n" for n in range(200)))
    out = tmp_path / "out.db"
    args = ["fetch", str(urls), "--redis", redis_url, "--job", "rk", "-o", str(out)]
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args, "--no-progress", "--concurrency", "8", env=ENV
    )
    await site.wait_until(lambda stats: stats.requests >= 60)
    first.send_signal(signal.SIGKILL)
    await first.wait()
    again = await acorral(*args, "--no-progress")
    assert again.returncode == 0, again.stderr
    report = tmp_path / "report.json"
    shown = await acorral("report", str(out), "--format", "json", "-o", str(report))
    assert shown.returncode == 0, shown.stderr
    figures = json.loads(report.read_text())
    killed, resumed = figures["runs"]
    assert killed["status"] == "killed"
    assert killed["workers"] is None
    assert resumed["workers"], resumed
    total = sum(worker["records"] for worker in figures["workers"])
    assert total == sum(w["records"] for w in resumed["workers"].values())


async def test_status_says_a_coordinator_not_heard_from_may_be_gone(redis_url: str) -> None:
    """A coordinator stopped (Ctrl-C) leaves its job ``running`` in Redis: past the rule
    workers have (10 s without a heartbeat) ``corral status`` marks it ``(gone?)`` and says
    its command resumes the job."""
    import redis.asyncio

    from corral.http.scale._queue import JobQueue

    queue = await JobQueue.connect(redis_url, "cg")
    await queue.configure({"per_host": "8"})
    await queue.heartbeat("coordinator", {"recorded": 3, "waiting": 0})
    shown = await acorral("status", "--redis", redis_url, "--job", "cg")
    assert "; recorded 3, waiting 0" in shown.stdout, shown.stdout
    assert "coordinator gone" not in shown.stdout
    client = redis.asyncio.Redis.from_url(redis_url)
    (now, _) = await client.time()
    await client.zadd("corral:{cg}:workers", {"coordinator": now * 1000 - 11_000})
    await client.aclose()
    await queue.close()
    shown = await acorral("status", "--redis", redis_url, "--job", "cg")
    first, *rest = shown.stdout.splitlines()
    assert first.startswith("job cg: running (its coordinator gone?"), first
    (line,) = [line for line in rest if line.startswith("coordinator: seen ")]
    assert "s ago (gone?); recorded 3" in line, shown.stdout


@pytest.mark.parametrize("name", ["-x", "..", "_a", "a" * 101, "a b"])
async def test_a_bad_job_name_is_refused_by_the_rule_it_breaks(
    tmp_path: Path, redis_url: str, name: str
) -> None:
    """A job name Redis's keys cannot take: one line stating the real rule (``-x`` and
    ``..`` are made of the allowed characters: the first one is what is wrong)."""
    urls = tmp_path / "urls.txt"
    urls.write_text("http://127.0.0.1:1/\n")
    for command in (["fetch", str(urls), "-o", str(tmp_path / "o.db")], ["worker"]):
        done = await acorral(*command, "--redis", redis_url, f"--job={name}")
        assert done.returncode == 2, done.stderr
        rule = "1 to 100 letters, digits, '_', '.' and '-', and starts with a letter or a digit"
        assert done.stderr.strip().splitlines() == [
            f"corral: error: bad job name {name!r}: a job name is {rule}"
        ]


async def test_the_resume_line_works_as_printed_with_a_redis_password(
    site: Site, tmp_path: Path, redis_server: RedisServer
) -> None:
    """An interrupted coordinator whose ``--redis`` URL has a password: the resume line
    gives the URL in CORRAL_REDIS_URL with ``***`` for the password, and that line, the
    password given back, resumes the job to its end."""
    url = await _with_password(redis_server, "s3cret")
    urls = tmp_path / "urls.txt"
    urls.write_text("".join(site.url(f"/delay/100?n={n}") + "\n" for n in range(60)))
    out = tmp_path / "out.db"
    args = ["fetch", str(urls), f"--redis={url}", "--job", "rs", "-o", str(out)]
    run = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "corral", *args, "--concurrency", "2", "--no-progress",
        stderr=asyncio.subprocess.PIPE, env=ENV,
    )  # fmt: skip
    await site.wait_until(lambda stats: stats.requests >= 4)
    run.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(run.communicate(), 60)
    assert run.returncode == 130, err
    text = err.decode()
    assert "s3cret" not in text
    (line,) = [line for line in text.splitlines() if line.startswith("  CORRAL_REDIS_URL=")]
    shown = url.replace("s3cret", "***")
    assert line.startswith(f"  CORRAL_REDIS_URL='{shown}' ")
    assert "--redis" not in line
    command = line.split()[1:]  # (the variable is given as the line says, *** replaced)
    again = await acorral(*command[command.index("fetch") :], env={"CORRAL_REDIS_URL": url})
    assert again.returncode == 0, again.stderr
    assert _count(out) == 60
