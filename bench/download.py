"""Large downloads: memory while bodies stream to disk, and a ``kill -9`` resumed (issue 17).

    python bench/download.py [--big 200m] [--huge 1g] [--copies 3] [--json FILE]

A private nginx (``bench/_nginx.py``) serves the files; ``corral fetch --save-bodies DIR
--max-bytes 2G`` downloads them, and the peak RSS of the corral process (the kernel's
``ru_maxrss`` of the child) is read after each run:

1. **memory**: one file of BIG bytes, then COPIES files of HUGE bytes at once (one file
   hard-linked: distinct URLs, the same bytes). Flat: the second run's peak is within 10 MB
   of the first's, whatever the size of the bodies.
2. **resume**: the BIG file with nginx sending each response at 50 MB/s after its first
   50 MB; the fetch is killed with SIGKILL once its part file holds half the file, then run
   again. nginx's access log (status, body bytes sent, Range) shows the second request asked
   for ``bytes=N-`` and was sent exactly the missing bytes; the file's SHA-256 is checked.

Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _nginx import running_nginx
from corral.http.engine._download import part_of

_MB = 1024 * 1024


def _size(text: str) -> int:
    units = {"k": 1024, "m": _MB, "g": 1024 * _MB}
    last = text[-1].lower()
    return int(text[:-1]) * units[last] if last in units else int(text)


def _file(path: Path, size: int) -> str:
    """Write ``size`` pseudo-random bytes, a megabyte at a time; return their SHA-256."""
    hasher = hashlib.sha256()
    block = os.urandom(_MB)
    with open(path, "wb") as file:
        for n in range(size // _MB):
            chunk = n.to_bytes(8, "big") + block[8:]
            file.write(chunk)
            hasher.update(chunk)
    return hasher.hexdigest()


def _fetch(argv: list[str]) -> tuple[float, float]:
    """Run a fetch to its end; return its wall seconds and its peak RSS in MB (``wait4``:
    this child's own, not the largest of all children so far)."""
    started = time.monotonic()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    if process.returncode != 0:
        sys.exit(f"bench: the fetch failed (exit {process.returncode})")
    return wall, usage.ru_maxrss / 1024


def _memory(work: Path, big: int, huge: int, copies: int) -> dict[str, object]:
    root = work / "site"
    root.mkdir()
    _file(root / "big.bin", big)
    _file(work / "huge.bin", huge)
    for n in range(copies):
        os.link(work / "huge.bin", root / f"huge{n}.bin")
    with running_nginx(root, work / "nginx") as nginx:
        figures: dict[str, object] = {}
        for name, files in (
            ("big", ["big.bin"]),
            ("huge", [f"huge{n}.bin" for n in range(copies)]),
        ):
            urls = work / f"{name}.txt"
            urls.write_text("".join(f"{nginx.base_url}/{f}\n" for f in files))
            argv = [sys.executable, "-m", "corral", "fetch", str(urls), "-q"]
            argv += ["-o", str(work / f"{name}.db"), "--save-bodies", str(work / f"bodies-{name}")]
            argv += ["--max-bytes", "2G", "--timeout", "600"]
            wall, peak = _fetch(argv)
            total = sum((root / f).stat().st_size for f in files)
            figures[name] = {
                "files": len(files),
                "bytes": total,
                "wall_s": round(wall, 2),
                "peak_rss_mb": round(peak, 1),
            }
    return figures


def _resume(work: Path, size: int) -> dict[str, object]:
    root = work / "site-resume"
    root.mkdir()
    digest = _file(root / "big.bin", size)
    log = work / "resume-access.log"
    fmt = "$request_uri $status $body_bytes_sent $http_range"
    with running_nginx(root, work / "nginx-resume", access_log=log, log_format=fmt) as nginx:
        _rate_limited(work / "nginx-resume")
        url = f"{nginx.base_url}/big.bin"
        urls = work / "resume.txt"
        urls.write_text(url + "\n")
        bodies = work / "bodies-resume"
        argv = [sys.executable, "-m", "corral", "fetch", str(urls), "-q", "-o"]
        argv += [str(work / "resume.db"), "--save-bodies", str(bodies), "--max-bytes", "2G"]
        argv += ["--timeout", "600"]
        killed = subprocess.Popen(argv)
        part, _ = part_of(str(bodies), url)
        while not part.exists() or part.stat().st_size < size // 2:
            if killed.poll() is not None:
                sys.exit("bench: the download ended before it was killed (raise --big)")
            time.sleep(0.01)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        have = part.stat().st_size
        _fetch(argv)
    lines = [line.split(" ", 3) for line in log.read_text().splitlines()]
    second = lines[-1]
    path = bodies / digest[:2] / digest
    whole = hashlib.sha256()
    with open(path, "rb") as file:
        while block := file.read(_MB):
            whole.update(block)
    return {
        "size": size,
        "killed_with_part_bytes": have,
        "requests": [" ".join(line) for line in lines],
        "second_request_range": second[3],
        "second_request_status": int(second[1]),
        "second_request_body_bytes": int(second[2]),
        "missing_bytes": size - have,
        "sha256_matches": whole.hexdigest() == digest,
    }


def _rate_limited(work: Path) -> None:
    """Reload the bench nginx with ``limit_rate 50m`` (a download slow enough to kill)."""
    config = work / "nginx.conf"
    text = config.read_text()
    config.write_text(
        text.replace("server_name localhost;", "server_name localhost;\n        limit_rate 50m;")
    )
    pid = int((work / "nginx.pid").read_text())
    os.kill(pid, signal.SIGHUP)
    time.sleep(1)  # nginx has no reload event to wait for; new workers take over within it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=_size, default=200 * _MB)
    parser.add_argument("--huge", type=_size, default=1024 * _MB)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="corral-download-") as tmp:
        work = Path(tmp)
        figures = {"memory": _memory(work, args.big, args.huge, args.copies)}
        figures["resume"] = _resume(work, args.big)
    memory, resume = figures["memory"], figures["resume"]
    flat = memory["huge"]["peak_rss_mb"] - memory["big"]["peak_rss_mb"] < 10  # type: ignore[index]
    resumed = (
        resume["second_request_status"] == 206
        and resume["second_request_range"] == f"bytes={resume['killed_with_part_bytes']}-"
        and resume["second_request_body_bytes"] == resume["missing_bytes"]
        and resume["sha256_matches"]
    )
    figures["passed"] = {"memory_flat": flat, "resumed_missing_bytes_only": resumed}
    print(json.dumps(figures, indent=2))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if not (flat and resumed):
        sys.exit(1)


if __name__ == "__main__":
    main()
