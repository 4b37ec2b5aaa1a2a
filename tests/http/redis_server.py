"""A real ``redis-server`` for the tests: on 127.0.0.1 and a free port, started and stopped
by the test that owns it.

``RedisServer(directory)`` runs ``redis-server`` without persistence (``--save ""
--appendonly no``) in ``directory``; ``appendonly=True`` turns the AOF on (``appendfsync
always``: a restart loses nothing written). The port stays the same across ``stop()`` and
``start()``, so a restart test reconnects to the same URL. Readiness is the server's own
"Ready to accept connections" line, read from its log as it comes (an event, not a sleep),
then a PING.

When ``redis-server`` is missing it is installed from Debian's packages (as root), as
``.ci/run`` does; a clear pytest failure otherwise.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

_READY = "Ready to accept connections"
_START_TIMEOUT = 20.0


def redis_server_binary() -> str:
    """Return the path of ``redis-server``, installing Debian's package when it is missing."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    if os.geteuid() != 0:
        pytest.fail("redis-server is not installed: apt-get install redis-server (as root)")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "-q", "redis-server"]):
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}")
    found = shutil.which("redis-server")
    if found is None:
        pytest.fail("apt-get install redis-server left no redis-server on PATH")
    return found


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1; ``start()``, ``stop()``, ``start()`` again."""

    def __init__(self, directory: Path, *, appendonly: bool = False) -> None:
        self.directory = directory
        self.appendonly = appendonly
        self.port = free_port()
        self._process: subprocess.Popen[str] | None = None
        self._started = False
        self._reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the server's URL (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def socket(self) -> Path:
        """Return the path of the server's Unix socket (it listens there too)."""
        return self.directory / "redis.sock"

    def start(self) -> None:
        """Start the server and return once it answers PING.

        A first start whose port was taken meanwhile tries again on another port; a restart
        keeps its port (its clients know that URL).
        """
        assert self._process is None, "already running"
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._launch(fail=self._started) is None:
            self.port = free_port()
            self._launch(fail=True)
        self._started = True

    def _launch(self, *, fail: bool = False) -> subprocess.Popen[str] | None:
        process = subprocess.Popen(
            [redis_server_binary(), *self._options()],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        ready, log = threading.Event(), list[str]()
        # The reader drains the log for the server's whole life (a full pipe would block it).
        self._reader = threading.Thread(target=_read_log, args=(process, ready, log), daemon=True)
        self._reader.start()
        if not ready.wait(_START_TIMEOUT) or process.poll() is not None:
            self._end(process, kill=True)
            if fail or "Address already in use" not in "".join(log):
                pytest.fail(f"redis-server did not start on {self.port}: {''.join(log)[-500:]}")
            return None
        self._process = process
        self._ping()
        return process

    def stop(self) -> None:
        """Stop the server (SIGTERM: an AOF is flushed) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None:
            return
        self._end(process, kill=False)

    def _end(self, process: subprocess.Popen[str], *, kill: bool) -> None:
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=_START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._reader is not None:
            self._reader.join()  # it read the log to its end
        assert process.stdout is not None
        process.stdout.close()

    def _options(self) -> list[str]:
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        options += ["--save", "", "--logfile", "", "--daemonize", "no"]
        options += ["--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        if self.appendonly:
            return [*options, "--appendonly", "yes", "--appendfsync", "always"]
        return [*options, "--appendonly", "no"]

    def _ping(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as connection:
            connection.sendall(b"PING\r\n")
            answer = connection.recv(64)
        assert answer.startswith(b"+PONG"), answer


def _read_log(process: subprocess.Popen[str], ready: threading.Event, log: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if len(log) < 200:
            log.append(line)
        if _READY in line:
            ready.set()
    ready.set()  # the server exited: the starter looks at why
