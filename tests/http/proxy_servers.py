"""Real proxy servers for the tests: tinyproxy (HTTP), microsocks (SOCKS5) and socat in front
of a tinyproxy (HTTPS: TLS to the proxy), each on 127.0.0.1 and a free port, started by the
test and stopped by it (a helper module, imported as ``from proxy_servers import ...``:
pytest puts tests/http on sys.path).

Also ``owner_of(port)``: the process holding a local TCP port on 127.0.0.1, and
``clients_of(port)``: those connected to one, read from /proc, so that a test can tell whose
connection a site saw.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from redis_server import free_port


class ProxyServer:
    """A proxy process on 127.0.0.1; ``url`` is how corral is told of it."""

    scheme = ""

    def __init__(self, directory: Path, *, user: str | None = None, password: str = "") -> None:
        self.directory = directory
        self.user, self.password = user, password
        self.port = free_port()
        self.log = directory / f"{type(self).__name__.lower()}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the proxy's URL, with its credentials when it has some."""
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"{self.scheme}://{auth}127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        """Start the proxy and wait until it accepts connections (10 s at most)."""
        binary = self.command()[0]
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is not installed (apt-get install {binary})")
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(self.command(), stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                pytest.fail(f"{binary} ended at start: {self.log.read_text()[-500:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)  # (polling a process we cannot be told about)
        pytest.fail(f"{binary} did not listen on {self.port}")

    def stop(self) -> None:
        """Stop the proxy (its port refuses connections from then on)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


class TinyProxy(ProxyServer):
    """tinyproxy, an HTTP proxy (CONNECT too); its log names each request it forwarded."""

    scheme = "http"
    connect_ports: tuple[int, ...] = ()  # CONNECT only to these (none given: to any port)

    def command(self) -> list[str]:
        config = self.directory / "tinyproxy.conf"
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 30",
            "MaxClients 200",
            "Allow 127.0.0.1",
            "LogLevel Info",
            f'LogFile "{self.log}"',
        ]
        if self.user:
            lines.append(f"BasicAuth {self.user} {self.password}")
        lines += [f"ConnectPort {port}" for port in self.connect_ports]
        config.write_text("\n".join(lines) + "\n")
        return ["tinyproxy", "-d", "-c", str(config)]


class MicroSocks(ProxyServer):
    """microsocks, a SOCKS5 proxy; it logs each connection it made for a client."""

    scheme = "socks5"

    def command(self) -> list[str]:
        command = ["microsocks", "-i", "127.0.0.1", "-p", str(self.port)]
        if self.user:
            command += ["-u", self.user, "-P", self.password]
        return command


class TlsProxy(ProxyServer):
    """An https:// proxy: socat speaking TLS on its port (a self-signed certificate for
    127.0.0.1, made by ``openssl req``: ``certificate``) in front of a tinyproxy."""

    scheme = "https"

    def __init__(self, directory: Path, *, user: str | None = None, password: str = "") -> None:
        super().__init__(directory, user=user, password=password)
        self.inner = TinyProxy(directory, user=user, password=password)
        self.certificate = directory / "proxy-cert.pem"
        self._key = directory / "proxy-key.pem"

    def command(self) -> list[str]:
        both = self.directory / "proxy-both.pem"
        both.write_bytes(self._key.read_bytes() + self.certificate.read_bytes())
        listen = f"OPENSSL-LISTEN:{self.port},bind=127.0.0.1,cert={both},verify=0,fork,reuseaddr"
        return ["socat", listen, f"TCP:127.0.0.1:{self.inner.port}"]

    def start(self) -> None:
        """Make the certificate, start tinyproxy, then socat in front of it."""
        if shutil.which("openssl") is None:
            pytest.fail("openssl is not installed (apt-get install openssl)")
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", str(self._key), "-out", str(self.certificate),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        self.inner.start()
        super().start()

    def stop(self) -> None:
        """Stop socat and tinyproxy."""
        super().stop()
        self.inner.stop()


def owner_of(port: int) -> int | None:
    """Return the id of the process holding the TCP socket bound to 127.0.0.1:``port``."""
    inodes = set()
    for table in ("/proc/net/tcp",):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == f"0100007F:{port:04X}":
                inodes.add(fields[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:
            continue  # ended meanwhile, or not ours to read
        if any(f"socket:[{inode}]" in links for inode in inodes):
            return int(pid)
    return None


def clients_of(port: int) -> set[int | None]:
    """Return the processes holding the open TCP connections to 127.0.0.1:``port``."""
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[2] == f"0100007F:{port:04X}" and fields[3] == "01":  # (ESTABLISHED)
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return {owner_of(local) for local in ports}
