"""How many small pages/s corral.testing serves, against a bare aiohttp app, in one run.

The fetcher's benchmarks push thousands of requests per second through ``/page/{i}``, so the
test site must not be the bottleneck. This script serves ``/page/{i}`` three ways, one after
another, each pinned to CPU 0, and loads each with ``wrk`` pinned to CPU 1 (distinct URLs via a
Lua script). The servers take turns for several rounds and each keeps its best round, since
other work on the machine can only slow a round down:

- ``corral.testing``: ``python -m corral.testing`` as shipped (statistics, request log, ban
  check on every request);
- ``corral.testing --log-size 0``: the same without the request log;
- ``bare aiohttp``: one handler returning the same bytes, no middleware, no access log: the
  ceiling for an aiohttp.web server on this machine.

Run: ``.venv/bin/python bench/site_throughput.py [--rounds 3] [--seconds 5] [--connections 64]``
(needs ``wrk``: ``apt-get install wrk``; ``taskset`` from util-linux pins the processes).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence

import aiohttp

# A bare aiohttp.web app: the same page bytes as /page/{i}, nothing else.
_BARE_APP = """
import sys
from aiohttp import web
PAGE = ('<!doctype html>\\n<html><head><meta charset="utf-8"><title>Page {i}</title></head>\\n'
        '<body><h1>Page {i}</h1><p>Page {i} of the corral test site.</p></body></html>\\n')
async def page(request):
    body = PAGE.format(i=request.match_info["i"]).encode()
    return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})
app = web.Application()
app.router.add_get(r"/page/{i:\\d+}", page)
async def announce(app):
    print("http://127.0.0.1:" + sys.argv[1], flush=True)
app.on_startup.append(announce)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""
_LUA = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/page/" .. counter)
end
"""


def _pin(cpu: int, command: list[str]) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(cpu), *command]
    return command


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time a process has used (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(url: str, seconds: int, connections: int, script: str) -> tuple[float, int]:
    """Return wrk's requests/s and request count; fail on errors or non-2xx answers."""
    command = _pin(1, ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script, url])
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    count = re.search(r"(\d+) requests in", output)
    if rate is None or count is None or re.search(r"Non-2xx|Socket errors", output):
        raise RuntimeError(f"wrk failed or saw errors:\n{output}")
    return float(rate.group(1)), int(count.group(1))


def _serve_and_measure(
    server: list[str], seconds: int, connections: int, script: str
) -> tuple[float, float]:
    """Return requests/s and server CPU microseconds per request for one server."""
    process = subprocess.Popen(_pin(0, server), stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        _wrk(url, 2, connections, script)  # warm-up
        cpu = _cpu_seconds(process.pid)
        rate, count = _wrk(url, seconds, connections, script)
        return rate, (_cpu_seconds(process.pid) - cpu) / count * 1e6
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print requests/s and CPU per request of each server, against the bare app."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench: error: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    site = [sys.executable, "-m", "corral.testing", "--port", "0"]
    servers = {
        "corral.testing": site,
        "corral.testing --log-size 0": [*site, "--log-size", "0"],
        "bare aiohttp": [sys.executable, "-c", _BARE_APP, str(_free_port())],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_LUA)
        script.flush()
        rates = dict.fromkeys(servers, 0.0)
        costs = dict.fromkeys(servers, float("inf"))
        for _ in range(args.rounds):
            for name, command in servers.items():
                rate, cost = _serve_and_measure(
                    command, args.seconds, args.connections, script.name
                )
                rates[name] = max(rates[name], rate)
                costs[name] = min(costs[name], cost)
    print(
        f"python {platform.python_version()}, aiohttp {aiohttp.__version__}, "
        f"wrk -t1 -c{args.connections} -d{args.seconds}s, distinct /page/{{i}} URLs, "
        f"best of {args.rounds} rounds"
    )
    ceiling, floor = rates["bare aiohttp"], costs["bare aiohttp"]
    print(f"{'server':30} {'req/s':>10} {'ratio':>6}   {'CPU us/req':>10} {'ratio':>6}")
    for name, rate in rates.items():
        cost = costs[name]
        print(f"{name:30} {rate:10,.0f} {rate / ceiling:5.2f}x   {cost:10.1f} {cost / floor:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
