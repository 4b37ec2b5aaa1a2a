"""A real ``nginx`` for the tests: on 127.0.0.1 and a free port, serving a directory of the
test's own, started and stopped by the test that owns it.

nginx serves static files with ``ETag`` (its mtime and length), ``Last-Modified``, 304 for
``If-None-Match``/``If-Modified-Since``, and 206 for ``Range`` with ``If-Range``: the
refresh and resume tests talk to it, not to a stand-in. Its config, pid file, logs and temp
files are under the test's directory; the access log has one line a request:
``URI STATUS BODY_BYTES RANGE`` (``-`` without a Range header).

nginx has no "ready" line to wait for: readiness is a TCP connect that succeeds (tried every
20 ms up to 10 s), or nginx's exit with its error log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

_CONFIG = """\
{user}worker_processes 1;
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    log_format probe '$request_uri $status $body_bytes_sent $http_range';
    access_log {work}/access.log probe;
    default_type text/html;
    keepalive_timeout 65;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
{extra}    }}
}}
"""


def nginx_binary() -> str:
    """Return the path of ``nginx`` (Debian puts it in /usr/sbin, often not on PATH)."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.fail("nginx is not installed: apt-get install nginx (as root)")
    return found


class NginxServer:
    """One nginx process serving ``root`` on 127.0.0.1; ``url(path)`` addresses a file."""

    def __init__(self, root: Path, work: Path, *, extra: str = "") -> None:
        """Args:
        root: the directory served.
        work: a directory for its config, pid file, logs and temp files.
        extra: more lines inside the ``server`` block (a ``limit_rate``, a location).
        """
        self.root = root
        self.work = work
        self.extra = extra
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def access_log(self) -> Path:
        return self.work / "access.log"

    def url(self, path: str) -> str:
        """Return the URL of ``path`` (relative to the root, without a leading slash)."""
        return f"http://127.0.0.1:{self.port}/{path}"

    def start(self) -> None:
        """Start nginx and return once it accepts connections."""
        (self.work / "tmp").mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = self.work / "nginx.conf"
        user = "user root root;\n" if os.geteuid() == 0 else ""
        extra = "".join(f"        {line}\n" for line in self.extra.splitlines() if line.strip())
        config.write_text(
            _CONFIG.format(user=user, work=self.work, port=self.port, root=self.root, extra=extra)
        )
        argv = [nginx_binary(), "-e", str(self.work / "error.log"), "-p", str(self.work)]
        self._process = subprocess.Popen([*argv, "-c", str(config)], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = (self.work / "error.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"nginx exited with {self._process.returncode}:\n{log}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            time.sleep(0.02)
        pytest.fail(f"nginx did not listen on 127.0.0.1:{self.port} within 10 s")

    def stop(self) -> None:
        """Stop nginx (its graceful SIGQUIT; SIGKILL if it hangs)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_lines(self) -> list[tuple[str, int, int, str]]:
        """Return the access log's requests so far: (URI, status, body bytes, Range)."""
        lines = []
        for line in self.access_log.read_text().splitlines():
            uri, status, sent, ranged = line.split(" ", 3)
            lines.append((uri, int(status), int(sent), ranged))
        return lines
