"""Run a private nginx on 127.0.0.1 for the benchmarks, pinned to core 0.

The system nginx (its config, its service, port 80) is never touched: this nginx gets its own
config, pid file, error log and temp directories under ``bench/.work/nginx/``, runs in the
foreground as a child of the harness (``daemon off``) and is stopped when the context exits,
whatever happened inside it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVER_CORE = 0
_READY_TIMEOUT = 10.0

# One worker pinned to core 0, no access log (unless asked), keep-alive with a request cap high
# enough that no client is made to reconnect mid-run (nginx's default of 1000 would penalise
# every client equally, but it measures reconnects rather than the client). stub_status gives
# a server-side request count, so a run can be checked against what nginx really served. The
# open file cache stays well under the descriptor limit (cached files hold a descriptor each).
_CONFIG = """\
{user}worker_processes 1;
worker_cpu_affinity {affinity};
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{
    worker_connections 4096;
    multi_accept on;
}}
http {{
{access_log}    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    open_file_cache max=10000 inactive=20s;
    default_type text/html;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
{extra_listens}        server_name localhost;
        root {root};
        location = /nginx_status {{
            stub_status;
        }}
    }}
}}
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Nginx:
    """A running private nginx: where it listens and how to ask it what it served."""

    port: int
    root: Path
    version: str
    pid: int
    extra_ports: tuple[int, ...] = ()  # more ports: more hosts to a client (bench/workers.py)

    @property
    def base_url(self) -> str:
        """Return the origin of the server, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def requests_served(self) -> int:
        """Return nginx's own count of requests handled so far (stub_status)."""
        with urllib.request.urlopen(f"{self.base_url}/nginx_status", timeout=5) as response:
            lines = response.read().decode().splitlines()
        # Third line: "accepts handled requests" counters.
        return int(lines[2].split()[2])

    def cpu_seconds(self) -> float:
        """Return the CPU seconds (user + sys) used so far by nginx's master and workers."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # Fields after the parenthesised name: state ppid ... utime(12) stime(13).
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if stat.parent.name == str(self.pid) or fields[1] == str(self.pid):
                total += int(fields[11]) + int(fields[12])
        return total / ticks


def ensure_installed() -> str:
    """Install nginx from Debian's packages if it is missing; return the binary's path."""
    found = shutil.which("nginx") or _sbin("nginx")
    if found:
        return found
    print("bench: nginx not found, installing it with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], check=True, env=env)
    # Debian starts the packaged service on install; it is not ours, so it is left alone.
    found = shutil.which("nginx") or _sbin("nginx")
    if not found:
        raise RuntimeError("apt-get installed nginx but no nginx binary was found")
    return found


def _sbin(name: str) -> str | None:
    path = Path("/usr/sbin") / name
    return str(path) if path.exists() else None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_nginx(
    root: Path,
    work: Path,
    *,
    extra_ports: tuple[int, ...] = (),
    access_log: Path | None = None,
    log_format: str = "$request_uri",
) -> Iterator[Nginx]:
    """Serve ``root`` with a private nginx pinned to core 0; stop it on exit.

    Args:
        root: The directory to serve.
        work: A directory for the config, pid file, error log and temp files.
        extra_ports: ports it listens on too, the same site under each (another host each).
        access_log: a file for one line per request, its target (bench/scale.py chaos counts
            the URLs fetched twice from it); default off.
        log_format: what a line of it holds (nginx variables; bench/refresh.py adds the
            status and the body bytes sent).

    Yields:
        The running server.
    """
    binary = ensure_installed()
    work.mkdir(parents=True, exist_ok=True)
    (work / "tmp").mkdir(exist_ok=True)
    config = work / "nginx.conf"
    _stop_stale(work / "nginx.pid", config)
    (work / "error.log").write_text("")
    port = free_port()
    config.write_text(
        _render(
            root=root,
            work=work,
            port=port,
            extra_ports=extra_ports,
            access_log=access_log,
            log_format=log_format,
        )
    )
    argv = ["taskset", "-c", str(SERVER_CORE), binary, "-e", str(work / "error.log")]
    argv += ["-p", str(work), "-c", str(config)]
    # SIGTERM (a CI timeout, kill PID) then unwinds like Ctrl-C, through the finally below.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        _wait_ready(process, port, work)
        version = _version(binary)
        yield Nginx(port=port, root=root, version=version, pid=process.pid, extra_ports=extra_ports)
    finally:
        _stop(process)
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _stop_stale(pid_file: Path, config: Path) -> None:
    # A harness killed with SIGKILL leaves its nginx running; stop it if it is ours.
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if str(config).encode() in cmdline:
        print(f"bench: stopping a leftover bench nginx (pid {pid})", flush=True)
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)


def _render(
    *,
    root: Path,
    work: Path,
    port: int,
    extra_ports: tuple[int, ...] = (),
    access_log: Path | None = None,
    log_format: str = "$request_uri",
) -> str:
    user = "user root root;\n" if os.geteuid() == 0 else ""
    affinity = format(1 << SERVER_CORE, "b")
    extra = "".join(f"        listen 127.0.0.1:{p} backlog=4096;\n" for p in extra_ports)
    log = "    access_log off;\n"
    if access_log is not None:
        log = f"    log_format targets '{log_format}';\n    access_log {access_log} targets;\n"
    return _CONFIG.format(
        user=user,
        affinity=affinity,
        work=work,
        port=port,
        root=root,
        extra_listens=extra,
        access_log=log,
    )


def _wait_ready(process: subprocess.Popen[bytes], port: int, work: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (work / "error.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"nginx exited with {process.returncode}:\n{log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port} within {_READY_TIMEOUT} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # SIGQUIT is nginx's graceful shutdown; fall back to SIGKILL if it hangs.
    process.send_signal(signal.SIGQUIT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _version(binary: str) -> str:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
    return (done.stderr or done.stdout).strip().removeprefix("nginx version: ")
