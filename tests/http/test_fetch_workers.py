"""``corral fetch --workers N`` through the real command: the same records and summary as one
process, a host in one worker process with its politeness intact, a worker killed, Ctrl-C,
no process left behind, and bad values refused (issue 15, part P)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from corral_cli import COMMAND, ENV, acorral, children

import corral
from corral.testing import Site, SiteLayout, open_site

# What these tests check runs in subprocesses (the real command and its workers); the test
# body reads the store and /proc, which strict mode would (rightly) call blocking.
pytestmark = [
    pytest.mark.corral_guard(strict=False),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]
_CHILD = "corral.http.scale._child"


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )


def _records(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return sorted(conn.execute("select url, status, ok, error_kind from results"))


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("select count(*) from results").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def _summary(db: Path) -> dict[str, object]:
    with sqlite3.connect(db) as conn:
        (text,) = conn.execute("select summary from runs order by id desc limit 1").fetchone()
    summary = dict(json.loads(text))
    summary.pop("elapsed")
    return summary


def _children(parent: int) -> list[int]:
    """Return the job's worker processes (from /proc)."""
    return children(parent, _CHILD)


def _alive(pid: int) -> bool:
    """Return whether ``pid`` is a process (a zombie too: it would be one not reaped)."""
    return Path(f"/proc/{pid}").exists()


def _write(path: Path, urls: list[str]) -> Path:
    path.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return path


@pytest.fixture
async def sites() -> AsyncIterator[list[Site]]:
    """Twenty test sites: twenty hosts to a client (a host is its name and port)."""
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(open_site(layout=SiteLayout(pages=10)))
            for _ in range(20)
        ]


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=10)) as running:
        yield running


def _mixed_urls(sites: list[Site]) -> list[str]:
    paths = ["/page/{i}", "/status/404?i={i}", "/page/{i}?x=1", "/status/503?i={i}"]
    urls = [site.url(paths[i % 7 % 4].format(i=i)) for site in sites for i in range(15)]
    return [*urls, "not a url at all"]


async def test_workers_make_the_records_and_summary_of_one_process(
    sites: list[Site], tmp_path: Path
) -> None:
    """``--workers 3`` over 300 URLs on 20 hosts (and an invalid line): one record per URL,
    each with the outcome one process gives it, and the same summary totals (done, ok,
    failed, retries, by status, by error)."""
    source = _write(tmp_path / "urls.txt", _mixed_urls(sites))
    common = ["--retries", "1", "--no-progress"]
    one = await acorral("fetch", str(source), "-o", str(tmp_path / "one.db"), *common)
    three = await acorral(
        "fetch", str(source), "-o", str(tmp_path / "three.db"), "--workers", "3", *common
    )
    assert one.returncode == 0, one.stderr
    assert three.returncode == 0, three.stderr
    records = _records(tmp_path / "three.db")
    assert len(records) == 301
    assert len({r[0] for r in records}) == 301
    assert records == _records(tmp_path / "one.db")
    summary = _summary(tmp_path / "three.db")
    assert summary == _summary(tmp_path / "one.db")
    assert summary["retries"] == 40  # two 503s a host, each retried once
    assert "retries      40" in three.stderr


class _Recorder:
    """A server on several ports (each a host) that notes, for every request, the process
    that sent it (its socket's owner, found in /proc) and the most requests in flight at
    once on that port."""

    def __init__(self) -> None:
        self.senders: dict[int, set[int]] = defaultdict(set)
        self.peak: dict[int, int] = defaultdict(int)
        self._now: dict[int, int] = defaultdict(int)

    async def handle(self, request: web.Request) -> web.Response:
        port = request.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        peer = request.transport.get_extra_info("peername")[1]  # type: ignore[union-attr]
        self._now[port] += 1
        self.peak[port] = max(self.peak[port], self._now[port])
        try:
            self.senders[port].add(await corral.to_thread(_owner, peer, port))
            await asyncio.sleep(0.005)  # a request that takes a while: overlaps would show
            return web.Response(text="ok")
        finally:
            self._now[port] -= 1


def _owner(local_port: int, remote_port: int) -> int:
    """Return the pid of the worker process owning the client socket local_port->remote_port."""
    wanted = f":{local_port:04X} "
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1] + " ").endswith(wanted) and fields[2].endswith(f":{remote_port:04X}"):
            inode = fields[9]
    assert inode is not None, local_port
    for pid in _children_of_any():
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
    raise AssertionError(f"no worker process owns port {local_port}")


def _children_of_any() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and _CHILD in (entry / "cmdline").read_text():
                pids.append(int(entry.name))
    return pids


async def test_a_host_lives_in_one_worker_and_per_host_holds(tmp_path: Path) -> None:
    """With ``--workers 3 --per-host 1``, every request to a host comes from one worker
    process (the socket's owner, seen from the server), the hosts are spread over all three,
    and no host ever has two requests in flight."""
    recorder = _Recorder()
    app = web.Application()
    app.router.add_get("/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        ports = []
        for _ in range(20):
            tcp = web.TCPSite(runner, "127.0.0.1", 0)
            await tcp.start()
            ports.append(tcp._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        urls = [f"http://127.0.0.1:{port}/p/{i}" for port in ports for i in range(15)]
        source = _write(tmp_path / "urls.txt", urls)
        db = tmp_path / "out.db"
        done = await acorral(
            "fetch", str(source), "-o", str(db), "--workers", "3", "--per-host", "1", "-q"
        )
    finally:
        await runner.cleanup()
    assert done.returncode == 0, done.stderr
    assert _count(db) == 300
    assert all(len(pids) == 1 for pids in recorder.senders.values()), recorder.senders
    assert len(set().union(*recorder.senders.values())) == 3
    assert set(recorder.peak.values()) == {1}


def _slow_urls(sites: list[Site], tmp_path: Path) -> tuple[Path, list[str]]:
    urls = [s.url(f"/delay/{20 + i % 7}?i={i}") for s in sites for i in range(60)]
    return _write(tmp_path / "urls.txt", urls), urls


async def _running_children(job: subprocess.Popen[str], site: Site, n: int) -> list[int]:
    """Wait until the site has seen requests (the workers make them: they run by then);
    return the job's worker processes, checking there are ``n``."""
    await site.wait_until(lambda stats: stats.requests >= 30)
    children = await corral.to_thread(_children, job.pid)
    assert len(children) == n
    return children


async def test_a_killed_worker_is_replaced_and_no_url_is_lost(
    sites: list[Site], tmp_path: Path
) -> None:
    """``kill -9`` of a worker mid-run: another takes its URLs, the run completes with one
    record per URL, says what happened in one line, and leaves no process behind."""
    source, urls = _slow_urls(sites[:6], tmp_path)
    db = tmp_path / "out.db"
    job = _start(["fetch", str(source), "-o", str(db), "--workers", "2", "--no-progress"])
    try:
        children = await _running_children(job, sites[0], 2)
        os.kill(children[0], signal.SIGKILL)
        _, stderr = await corral.to_thread(lambda: job.communicate(timeout=60))
    finally:
        with contextlib.suppress(ProcessLookupError):
            job.kill()
    assert job.returncode == 0, stderr
    assert "worker process" in stderr
    assert "ended (exit code -9); starting another" in stderr, stderr
    assert sorted(str(r[0]) for r in _records(db)) == sorted(urls)
    assert not [pid for pid in children if _alive(pid)]


async def test_ctrl_c_stops_the_workers_and_the_same_command_resumes(
    sites: list[Site], tmp_path: Path
) -> None:
    """Ctrl-C in the parent: exit 130, the workers are gone, what was recorded stays; the
    same command then completes with one record per URL."""
    source, urls = _slow_urls(sites[:6], tmp_path)
    db = tmp_path / "out.db"
    args = ["fetch", str(source), "-o", str(db), "--workers", "2", "--no-progress"]
    job = _start(args)
    try:
        children = await _running_children(job, sites[0], 2)
        await sites[0].wait_until(lambda _: _count(db) >= 20)
        job.send_signal(signal.SIGINT)
        _, stderr = await corral.to_thread(lambda: job.communicate(timeout=60))
    finally:
        with contextlib.suppress(ProcessLookupError):
            job.kill()
    assert job.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert not [pid for pid in children if _alive(pid)]
    assert 20 <= _count(db) < len(urls)
    again = await acorral(*args)
    assert again.returncode == 0, again.stderr
    assert sorted(str(r[0]) for r in _records(db)) == sorted(urls)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        pytest.param("0", "--workers 0 leaves the fetching to workers started apart", id="zero"),
        pytest.param("-1", "must be from 0 to 64, not -1", id="negative"),
        pytest.param("65", "must be from 0 to 64, not 65", id="too-many"),
        pytest.param("x", "not a whole number: 'x'", id="not-a-number"),
    ],
)
async def test_a_bad_workers_value_is_a_usage_error(tmp_path: Path, value: str, says: str) -> None:
    """``--workers`` takes 1 to 64 (0 only with ``--redis``): anything else is one line and
    exit 2, nothing written."""
    source = _write(tmp_path / "urls.txt", ["http://127.0.0.1:9/"])
    done = await acorral("fetch", str(source), "-o", str(tmp_path / "o.db"), "--workers", value)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert says in done.stderr
    assert not (tmp_path / "o.db").exists()


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("--workers", "0"), "--workers 0 leaves the fetching to workers started apart"),
        (("--redis", "redis://127.0.0.1:9/0"), "--redis needs --job NAME"),
    ],
)
async def test_bad_crawl_scale_options_are_usage_errors(
    tmp_path: Path, extra: tuple[str], says: str
) -> None:
    """``corral crawl --workers 0`` without Redis, ``--redis`` without ``--job``: a usage
    error saying so (one line, exit 2), nothing written."""
    done = await acorral("crawl", "http://127.0.0.1:9/", "-o", str(tmp_path / "c.db"), *extra)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert says in done.stderr
    assert not (tmp_path / "c.db").exists()


async def test_a_worker_that_keeps_dying_ends_the_run_in_one_line(
    site: Site, tmp_path: Path
) -> None:
    """Workers that die at start (here: a ``sitecustomize`` that exits in them) are started
    again, and after three deaths in a row the run stops: exit 2, one line naming the worker
    and its exit code, what was recorded kept, no process left."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import os, pathlib\n"
        "if b'corral.http.scale._child' in pathlib.Path('/proc/self/cmdline').read_bytes():\n"
        "    (pathlib.Path(__file__).parent / str(os.getpid())).touch()\n"
        "    os._exit(3)\n",
        encoding="utf-8",
    )
    source = _write(tmp_path / "urls.txt", [site.url(f"/page/{i}") for i in range(20)])
    env = {**os.environ, "PYTHONWARNINGS": "error", "PYTHONPATH": str(hooks)}
    done = await corral.to_thread(
        lambda: subprocess.run(
            [
                sys.executable,
                "-m",
                "corral",
                "fetch",
                str(source),
                *["-o", str(tmp_path / "o.db")],
                *["--workers", "2", "--no-progress"],
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=env,
        )
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "died 3 times in a row (exit code 3) before sending a record" in last, done.stderr
    assert "Traceback" not in done.stderr
    started = [int(p.name) for p in hooks.iterdir() if p.name.isdigit()]
    assert len(started) >= 3
    assert not [pid for pid in started if _alive(pid)]


async def test_a_header_secret_reaches_the_site_but_not_ps_or_the_store(
    site: Site, tmp_path: Path
) -> None:
    """``--header 'Authorization: ...'`` with ``--workers 2``: the site gets the header, but
    the workers' command lines (which ``ps`` shows any user) and the store's record of the
    run do not hold the secret."""
    secret = "Bearer s3cret-token-42"
    urls = [site.url(f"/delay/50?i={i}") for i in range(400)]
    source = _write(tmp_path / "urls.txt", [*urls, site.url("/echo/me")])
    db = tmp_path / "out.db"
    args = ["fetch", str(source), "-o", str(db), "--workers", "2", "--no-progress"]
    job = _start([*args, "--header", f"Authorization: {secret}", "--save-bodies", "store"])
    try:
        children = await _running_children(job, site, 1)  # (one host: one process)
        lines = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in children]
        _, stderr = await corral.to_thread(lambda: job.communicate(timeout=60))
    finally:
        with contextlib.suppress(ProcessLookupError):
            job.kill()
    assert job.returncode == 0, stderr
    assert not [line for line in lines if secret.encode() in line]
    with sqlite3.connect(db) as conn:
        (echo,) = conn.execute("select body from results where url like '%/echo/me'").fetchone()
        (argv,) = conn.execute("select argv from runs").fetchone()
    assert json.loads(echo)["headers"]["Authorization"] == secret
    assert secret not in argv
    assert "Authorization: ***" in json.loads(argv)
