"""``corral fetch`` on input that is not a clean list of URLs, through the real entry point:
a byte-order mark, binary files, invalid UTF-8, deeply nested JSON, and a line of 128 MiB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import corral
from corral.http.fetcher._input import MAX_LINE
from corral.testing import Site, open_site

# What these tests check runs in a subprocess (the real command); the test body reads the
# files it wrote, which strict mode would (rightly) call blocking in library code.
pytestmark = pytest.mark.corral_guard(strict=False)


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site() as running:
        yield running


def run_corral(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m corral ARGS`` (stdin given as bytes, as a file would give it)."""
    run = subprocess.run(
        [sys.executable, "-m", "corral", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    return subprocess.CompletedProcess(
        run.args, run.returncode, run.stdout.decode(), run.stderr.decode()
    )


async def acorral(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a thread, so the test's loop keeps serving the site meanwhile."""
    return await corral.to_thread(lambda: run_corral(*args, stdin=stdin))


def records(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("source", ["file", "stdin"])
async def test_a_byte_order_mark_does_not_spoil_the_first_url(
    site: Site, tmp_path: Path, source: str
) -> None:
    """A UTF-8 BOM before the first URL (as Windows editors write it) is not part of it: the
    URL is fetched, not recorded as invalid_url ("no scheme")."""
    data = b"\xef\xbb\xbf" + f"{site.url('/page/1')}\n{site.url('/page/2')}\n".encode()
    path = tmp_path / "urls.txt"
    path.write_bytes(data)
    out = tmp_path / "out.jsonl"
    if source == "file":
        run = await acorral("fetch", str(path), "-o", str(out), "-q")
    else:
        run = await acorral("fetch", "-", "-o", str(out), "-q", stdin=data)
    assert run.returncode == 0, run.stderr
    got = {str(r["url"]): (r["status"], r["error_kind"]) for r in records(out)}
    assert got == {site.url("/page/1"): (200, None), site.url("/page/2"): (200, None)}


@pytest.mark.parametrize(
    ("data", "what"),
    [
        pytest.param(bytes(range(256)) * 80, "is not text (a NUL byte at byte 0)", id="binary"),
        pytest.param(
            "http://example.org/\n".encode("utf-16"),
            "is UTF-16 text (save it as UTF-8)",
            id="utf16",
        ),
    ],
)
@pytest.mark.parametrize("source", ["file", "stdin"])
def test_input_that_is_not_text_is_refused(
    tmp_path: Path, data: bytes, what: str, source: str
) -> None:
    """A binary file (NUL bytes in its first block) is refused with exit 2 and one line
    saying what and where, before anything is written; not 158 invalid_url records."""
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    out = tmp_path / "out.db"
    if source == "file":
        run = run_corral("fetch", str(path), "-o", str(out))
        where = f"input {path}"
    else:
        run = run_corral("fetch", "-", "-o", str(out), stdin=data)
        where = "input on stdin"
    assert run.returncode == 2
    assert run.stderr.splitlines() == [f"corral: error: {where} {what}"]
    assert not out.exists()


async def test_invalid_utf8_is_the_lines_invalid_url_and_is_not_fetched(
    site: Site, tmp_path: Path
) -> None:
    """A line that is not UTF-8 is that line's invalid_url, showing the bad byte as \\xe9;
    no URL with U+FFFD in it is fetched in its place. The other lines are fetched."""
    path = tmp_path / "urls.txt"
    path.write_bytes(f"{site.url('/page/caf')}\xe9\n{site.url('/page/2')}\n".encode("latin-1"))
    out = tmp_path / "out.jsonl"
    run = await acorral("fetch", str(path), "-o", str(out), "-q")
    assert run.returncode == 0, run.stderr
    got = {str(r["url"]): r for r in records(out)}
    bad = got[site.url("/page/caf") + "\\xe9"]
    assert bad["error_kind"] == "invalid_url"
    assert "not UTF-8" in str(bad["error"])
    assert got[site.url("/page/2")]["status"] == 200
    assert len(got) == 2
    assert site.statistics().by_prefix["/page"] == 1  # /page/2 only


async def test_a_deeply_nested_json_line_is_its_invalid_url(site: Site, tmp_path: Path) -> None:
    """A JSON line nested 100,000 deep does not end the job (it raised RecursionError before
    anything was fetched, on every rerun): it is recorded as invalid_url, the rest fetched."""
    deep = "[" * 100_000 + "]" * 100_000
    nested = f'{{"url": "{site.url("/echo")}", "json": {deep}}}'
    path = tmp_path / "urls.txt"
    path.write_text(f"{nested}\n{site.url('/page/1')}\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run = await acorral("fetch", str(path), "-o", str(out), "-q")
    assert run.returncode == 0, run.stderr
    got = records(out)
    assert sorted((r["error_kind"] or "", r["status"] or 0) for r in got) == [
        ("", 200),
        ("invalid_url", 0),
    ]
    (bad,) = [r for r in got if r["error_kind"]]
    assert "nested deeper than 100 levels" in str(bad["error"])
    again = await acorral("fetch", str(path), "-o", str(out), "-q")
    assert again.returncode == 0, again.stderr
    assert len(records(out)) == 2


# The corral child: `python -m corral` as run by runpy, printing its peak RSS (VmHWM, this
# process's own, as bench/bench_map.py reads it) to a file when it exits.
_PEAK_CHILD = """
import atexit, runpy, sys
peak_file = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    with open(peak_file, "w") as out:
        out.write(str(kib))
atexit.register(peak)
runpy.run_module("corral", run_name="__main__", alter_sys=True)
"""
# Writes a line of N MiB ("http://x/aaaa...") and then the URL argv[2], never holding the line.
_GENERATOR = """
import sys
write = sys.stdout.buffer.write
write(b"http://x/")
chunk = b"a" * (1 << 20)
for _ in range(int(sys.argv[1])):
    write(chunk)
write(b"\\n" + sys.argv[2].encode() + b"\\n")
"""
_LINE_MIB = 128


def _fetch_with_peak(tmp_path: Path, name: str, mib: int, url: str, source: str) -> int:
    """Run ``corral fetch`` on a line of ``mib`` MiB then ``url``; return its peak RSS in KiB."""
    peak_file, out = tmp_path / f"{name}.peak", tmp_path / f"{name}.jsonl"
    generate = [sys.executable, "-c", _GENERATOR, str(mib), url]
    input_arg = "-"
    if source == "file":
        input_arg = str(tmp_path / f"{name}.txt")
        with open(input_arg, "wb") as file:
            subprocess.run(generate, stdout=file, check=True, timeout=60)
    fetch = [sys.executable, "-c", _PEAK_CHILD, str(peak_file), "fetch", input_arg]
    fetch += ["-o", str(out), "-q"]
    if source == "file":
        run = subprocess.run(fetch, capture_output=True, text=True, timeout=120, check=False)
    else:
        with subprocess.Popen(generate, stdout=subprocess.PIPE) as generator:
            run = subprocess.run(
                fetch, stdin=generator.stdout, capture_output=True, text=True, timeout=120
            )
    assert run.returncode == 0, run.stderr
    return int(peak_file.read_text())


@pytest.mark.parametrize("source", ["stdin", "file"])
async def test_a_huge_line_is_read_in_bounded_memory(
    site: Site, tmp_path: Path, source: str
) -> None:
    """A line of 128 MiB (a stream, or a file the progress display counts first) costs no
    more memory than a short one (it took 2.9x its size): it is recorded as invalid_url with
    its length, its record holds only its start, and the next line is fetched."""
    url = site.url("/page/1")
    small = await corral.to_thread(_fetch_with_peak, tmp_path, "small", 0, url, source)
    big = await corral.to_thread(_fetch_with_peak, tmp_path, "big", _LINE_MIB, url, source)
    assert big - small < 24 * 1024, (small, big)  # KiB: the line is 131,072 KiB
    got = {str(r["url"]): r for r in records(tmp_path / "big.jsonl")}
    assert got[url]["status"] == 200
    (long,) = [r for r in got.values() if r["error_kind"] == "invalid_url"]
    length = len("http://x/") + _LINE_MIB * (1 << 20)
    assert f"{length:,} characters" in str(long["error"])
    assert f"{MAX_LINE:,}" in str(long["error"])
    assert len(str(long["url"])) <= 2000


def test_a_crawl_seed_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    """A seed whose bytes are not UTF-8 is refused with exit 2 and one line; it was crawled
    as another URL (yarl dropped the byte)."""
    seed = os.fsdecode(b"http://127.0.0.1:9/caf\xe9")  # as Python decodes argv
    run = run_corral("crawl", seed, "-o", str(tmp_path / "crawl.db"))
    assert run.returncode == 2
    (line,) = run.stderr.splitlines()
    assert line.startswith("corral: error: seed ")
    assert line.endswith("not UTF-8 (byte 0xE9 at character 23)")
    assert not (tmp_path / "crawl.db").exists()
