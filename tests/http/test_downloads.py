"""Large bodies streamed to disk and resumed (``--save-bodies DIR``), against a real nginx.

nginx answers ``Range`` with ``If-Range`` by a 206 when the ETag matches and by the whole
file (200) when it does not. ``limit_rate`` slows the big file down (after a first second's
worth at full speed), so a run can be killed, or an attempt time out, in the middle of it.
nginx's access log (status, body bytes sent, the Range header) is the witness of what each
run transferred.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from corral_cli import COMMAND, ENV, run_corral
from nginx_server import NginxServer

from corral.http.engine._download import part_of

_MB = 1024 * 1024


@pytest.fixture
def slow_nginx(tmp_path: Path) -> Iterator[NginxServer]:
    """An nginx that sends each response at 8 MB/s after its first 8 MB."""
    server = NginxServer(tmp_path / "site", tmp_path / "nginx", extra="limit_rate 8m;")
    server.start()
    yield server
    server.stop()


def _big(server: NginxServer, name: str, size: int, seed: int = 0) -> str:
    """Write a file of ``size`` pseudo-random bytes; return its SHA-256."""
    block = hashlib.sha256(str(seed).encode()).digest() * (_MB // 32)
    data = (block * (size // len(block) + 1))[:size]
    data = bytes(b ^ (i % 251) for i, b in enumerate(data[:4096])) + data[4096:]
    (server.root / name).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _urls(tmp_path: Path, *urls: str) -> Path:
    path = tmp_path / "urls.txt"
    path.write_text("".join(url + "\n" for url in urls))
    return path


def _record(store: Path) -> tuple[object, ...]:
    conn = sqlite3.connect(store)
    try:
        row = conn.execute("SELECT status, ok, bytes, sha256, body_path FROM results").fetchone()
        assert row is not None
        return tuple(row)
    finally:
        conn.close()


def _wait_for_size(path: Path, size: int, process: subprocess.Popen[bytes]) -> None:
    """Wait until ``path`` holds ``size`` bytes (the download's own progress)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the fetch ended (exit {process.returncode}) before it was killed")
        if path.exists() and path.stat().st_size >= size:
            return
        time.sleep(0.01)
    pytest.fail(f"{path} did not reach {size} bytes in 60 s")


def test_a_download_killed_in_the_middle_resumes_with_only_the_missing_bytes(
    slow_nginx: NginxServer, tmp_path: Path
) -> None:
    """``kill -9`` in the middle of a 48 MB download, then the same command: the second run
    asks for the rest (``Range: bytes=N-``, ``If-Range``), nginx sends a 206 of exactly the
    missing bytes, and the file (renamed to its SHA-256) has the right digest."""
    size = 48 * _MB
    digest = _big(slow_nginx, "big.bin", size)
    url = slow_nginx.url("big.bin")
    bodies, store = tmp_path / "bodies", tmp_path / "s.db"
    argv = ["fetch", str(_urls(tmp_path, url)), "-o", str(store), "-q"]
    argv += ["--save-bodies", str(bodies), "--max-bytes", "1G", "--timeout", "120"]
    killed = subprocess.Popen([*COMMAND, *argv], env=ENV)
    part, sidecar = part_of(str(bodies), url)
    _wait_for_size(part, 16 * _MB, killed)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    have = part.stat().st_size
    assert 16 * _MB <= have < size
    assert json.loads(sidecar.read_text())["length"] == size

    again = run_corral(*argv)

    assert again.returncode == 0, again.stderr
    first, second = [line for line in slow_nginx.log_lines() if line[0] == "/big.bin"]
    assert (first[1], first[3]) == (200, "-")  # the killed run's, cut short
    assert second == ("/big.bin", 206, size - have, f"bytes={have}-")
    status, ok, length, sha, path = _record(store)
    assert (status, ok, length, sha) == (206, 1, size, digest)
    assert path == str(bodies / digest[:2] / digest)
    assert hashlib.sha256(Path(str(path)).read_bytes()).hexdigest() == digest
    assert not part.exists()
    assert not sidecar.exists()


def test_an_attempt_cut_short_is_resumed_by_the_retry(
    slow_nginx: NginxServer, tmp_path: Path
) -> None:
    """A per-attempt timeout in the middle of a 24 MB body: each retry asks for the rest
    (206 with a Range starting further along each time, never the whole file again), and
    the file is whole at the end."""
    size = 24 * _MB
    digest = _big(slow_nginx, "big.bin", size, seed=1)
    store = tmp_path / "s.db"
    done = run_corral(
        "fetch", str(_urls(tmp_path, slow_nginx.url("big.bin"))), "-o", str(store), "-q",
        "--save-bodies", str(tmp_path / "bodies"), "--max-bytes", "1G",
        "--timeout", "1.5", "--retries", "20",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [line for line in slow_nginx.log_lines() if line[0] == "/big.bin"]
    assert len(lines) >= 2
    assert lines[0][1] == 200
    assert all(status == 206 and ranged.startswith("bytes=") for _, status, _, ranged in lines[1:])
    starts = [int(ranged.removeprefix("bytes=").rstrip("-")) for _, _, _, ranged in lines[1:]]
    assert starts == sorted(set(starts))  # each retry goes on from further along
    assert sum(sent for _, _, sent, _ in lines) >= size
    assert _record(store)[3] == digest


def test_a_changed_file_starts_over(nginx: NginxServer, tmp_path: Path) -> None:
    """A part whose ETag is not the file's any more: If-Range fails, nginx sends the whole
    new file (200), and corral starts over instead of appending to the stale bytes."""
    digest = _big(nginx, "big.bin", 3 * _MB, seed=2)
    url = nginx.url("big.bin")
    bodies = tmp_path / "bodies"
    part, sidecar = part_of(str(bodies), url)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale" * 1000)
    sidecar.write_text(json.dumps({"url": url, "etag": '"1-2"', "length": 3 * _MB}))

    done = run_corral(
        "fetch", str(_urls(tmp_path, url)), "-o", str(tmp_path / "s.db"), "-q",
        "--save-bodies", str(bodies),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert nginx.log_lines() == [("/big.bin", 200, 3 * _MB, "bytes=5000-")]
    assert _record(tmp_path / "s.db")[3] == digest
    assert hashlib.sha256((bodies / digest[:2] / digest).read_bytes()).hexdigest() == digest


def test_a_206_that_does_not_match_the_part_is_refused(nginx: NginxServer, tmp_path: Path) -> None:
    """A sidecar whose length is not the file's: nginx's 206 (right ETag) does not end
    where the part says, so it is refused, the part dropped, and the retry starts over."""
    digest = _big(nginx, "big.bin", 3 * _MB, seed=3)
    url = nginx.url("big.bin")
    stat = (nginx.root / "big.bin").stat()
    etag = f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'  # nginx's ETag: mtime and length
    bodies = tmp_path / "bodies"
    part, sidecar = part_of(str(bodies), url)
    part.parent.mkdir(parents=True)
    part.write_bytes((nginx.root / "big.bin").read_bytes()[:_MB])
    sidecar.write_text(json.dumps({"url": url, "etag": etag, "length": 5 * _MB}))

    done = run_corral(
        "fetch", str(_urls(tmp_path, url)), "-o", str(tmp_path / "s.db"), "-q",
        "--save-bodies", str(bodies),
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    statuses = [status for _, status, _, _ in nginx.log_lines()]
    assert statuses == [206, 200]
    assert _record(tmp_path / "s.db")[3] == digest


def test_a_small_body_is_saved_as_before(nginx: NginxServer, tmp_path: Path) -> None:
    """A body under the streaming size is read in memory and saved by its SHA-256; no
    part file is left behind."""
    (nginx.root / "small.txt").write_text("small\n")
    bodies = tmp_path / "bodies"
    done = run_corral(
        "fetch", str(_urls(tmp_path, nginx.url("small.txt"))), "-o", str(tmp_path / "s.db"),
        "-q", "--save-bodies", "dir", "--bodies-dir", str(bodies),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    digest = hashlib.sha256(b"small\n").hexdigest()
    assert (bodies / digest[:2] / digest).read_bytes() == b"small\n"
    assert not (bodies / ".partial").exists()
    assert os.listdir(bodies) == [digest[:2]]


def test_a_part_over_max_bytes_is_refused_without_a_request(
    nginx: NginxServer, tmp_path: Path
) -> None:
    """A part whose sidecar says the file is longer than ``--max-bytes``: ``too_large``
    from the sidecar, with no request (no ``Range`` sent), and the part kept, as the record
    says; a later run with a larger ``--max-bytes`` resumes it."""
    _big(nginx, "big.bin", 3 * _MB, seed=4)
    url = nginx.url("big.bin")
    stat = (nginx.root / "big.bin").stat()
    etag = f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'  # nginx's ETag: mtime and length
    bodies = tmp_path / "bodies"
    part, sidecar = part_of(str(bodies), url)
    part.parent.mkdir(parents=True)
    part.write_bytes((nginx.root / "big.bin").read_bytes()[:_MB])
    sidecar.write_text(json.dumps({"url": url, "etag": etag, "length": 3 * _MB}))
    urls, store = _urls(tmp_path, url), tmp_path / "s.db"
    args = ["fetch", str(urls), "-o", str(store), "-q", "--save-bodies", str(bodies)]

    done = run_corral(*args, "--max-bytes", "2M")

    assert done.returncode == 0, done.stderr
    assert nginx.log_lines() == []
    with sqlite3.connect(store) as conn:
        kind, error = conn.execute("SELECT error_kind, error FROM results").fetchone()
    assert kind == "too_large"
    assert f"{_MB} bytes kept in {part}" in error, error
    assert part.stat().st_size == _MB

    again = run_corral(*args, "--max-bytes", "5M", "--refresh")
    assert again.returncode == 0, again.stderr
    assert nginx.log_lines() == [("/big.bin", 206, 2 * _MB, f"bytes={_MB}-")]
    assert not part.exists()
