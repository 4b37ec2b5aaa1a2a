"""Large bodies streamed to disk, and resumed where they stopped (``--save-bodies dir``).

A response over ``STREAM_AT`` bytes (its Content-Length), not compressed, goes to a ``.part``
file under ``DIR/.partial/`` instead of memory, with a small sidecar (``.part.json``: the URL,
its strong ETag, the full length). When the download stops short (a dropped connection, a
timeout, ``kill -9``), the bytes written stay; the next attempt (a retry, or the same
command run again) sends ``Range: bytes=N-`` with ``If-Range: ETAG`` and
``Accept-Encoding: identity``, and takes the answer only as:

- a 206 whose ``Content-Range`` starts at N and has the sidecar's length: appended;
- a 200 (the server ignores ranges, or the resource changed and ``If-Range`` failed):
  started over;
- a 416 with ``bytes */LENGTH`` when all LENGTH bytes are there (killed before the rename):
  finished from disk;

anything else drops the part and fails the attempt (retried from scratch). A complete file
is checked (its length; its SHA-256 against a ``Repr-Digest``/``Digest`` the server sent)
and renamed atomically to ``DIR/ab/abcdef...`` (its SHA-256), as a smaller body is saved.
Only a strong ETag resumes (RFC 9110 13.1.5: ``If-Range`` needs a strong validator; a weak
``W/`` one, or none, starts over), and only identity encoding (a range of a gzip stream is
not a range of the file). Memory per download stays under ``_FLUSH`` bytes, written in
corral's threads, never on the event loop. (openai/openai-python PR #3764 lists the same
edge cases; aria2's control file is the sidecar's model.)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp

from corral import to_thread

STREAM_AT = 1024 * 1024  # bodies above this (declared) go to disk
_FLUSH = 1024 * 1024  # bytes gathered before a write (in a thread)
_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_UNSATISFIED = re.compile(r"bytes \*/(\d+)")


class DownloadError(Exception):
    """A download went wrong in a way the next attempt starts over from (its message says)."""


@dataclass(frozen=True, slots=True)
class Partial:
    """A ``.part`` file of one URL and what its sidecar says."""

    part: Path
    sidecar: Path
    etag: str | None
    length: int
    have: int  # bytes in the part file

    @property
    def resumable(self) -> bool:
        return self.etag is not None and 0 < self.have <= self.length


class Downloads:
    """The partial downloads under ``DIR/.partial`` (listed once, then kept up to date), so
    that a URL with none costs no look at the disk."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._names: set[str] | None = None

    async def partial(self, url: str) -> Partial | None:
        """Return ``url``'s partial download, or None."""
        if self._names is None:
            self._names = await to_thread(_listed, Path(self.directory) / ".partial")
        part, _ = part_of(self.directory, url)
        if part.name not in self._names:
            return None
        return await to_thread(find, self.directory, url)

    def started(self, url: str) -> None:
        """Note that ``url`` has a part file now."""
        if self._names is not None:
            self._names.add(part_of(self.directory, url)[0].name)

    def ended(self, url: str) -> None:
        """Note that ``url``'s part file is gone (renamed, or dropped)."""
        if self._names is not None:
            self._names.discard(part_of(self.directory, url)[0].name)


def _listed(directory: Path) -> set[str]:
    try:
        return {name for name in os.listdir(directory) if name.endswith(".part")}
    except OSError:
        return set()


def part_of(directory: str, url: str) -> tuple[Path, Path]:
    """Return the ``.part`` file and sidecar of ``url`` under ``directory``."""
    name = hashlib.sha256(url.encode()).hexdigest()[:40]
    base = Path(directory) / ".partial" / name
    return base.with_suffix(".part"), base.with_suffix(".part.json")


def find(directory: str, url: str) -> Partial | None:
    """Return the partial download of ``url``, or None (none, or a sidecar of another URL)."""
    part, sidecar = part_of(directory, url)
    try:
        data = json.loads(sidecar.read_text())
        have = part.stat().st_size
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("url") != url:
        return None
    etag, length = data.get("etag"), data.get("length")
    if not isinstance(length, int) or not (etag is None or isinstance(etag, str)):
        return None
    return Partial(part, sidecar, etag, length, have)


def range_headers(partial: Partial) -> dict[str, str]:
    """Return the headers that ask for the rest of ``partial``."""
    assert partial.etag is not None
    return {
        "Range": f"bytes={partial.have}-",
        "If-Range": partial.etag,
        "Accept-Encoding": "identity",
    }


def streams(response: aiohttp.ClientResponse, partial: Partial | None) -> bool:
    """Return whether this response's body goes to disk (large and not compressed, or the
    answer to a range request)."""
    if "Content-Encoding" in response.headers:
        return False
    if response.status in (206, 416) and partial is not None:
        return True
    declared = response.content_length
    return response.status == 200 and declared is not None and declared > STREAM_AT


@dataclass(slots=True)
class Saved:
    """A body saved to disk: its file, size and digest."""

    path: str
    size: int
    sha256: str
    received: int  # bytes this attempt brought (the rest was on disk)


async def download(
    response: aiohttp.ClientResponse, downloads: Downloads, url: str, partial: Partial | None
) -> Saved:
    """Write the body of ``response`` to ``url``'s part file (appending to ``partial`` when
    the server answered its range), check it, and rename it into ``directory``.

    Raises:
        DownloadError: a 206 or 416 that does not match the part (the part is dropped).
        aiohttp.ClientError, OSError: the body stopped short (the part stays, to resume).
    """
    directory = downloads.directory
    part, sidecar = part_of(directory, url)
    if response.status == 416:
        saved = await _finished_before(response, partial)
        downloads.ended(url)
        return saved
    offset = 0
    if response.status == 206:
        offset = _check_range(response, partial)
    total = offset + (response.content_length or 0)
    if offset == 0:  # a new download (or started over): a fresh part and sidecar
        etag = _strong(response.headers.get("ETag"))
        await to_thread(_begin, part, sidecar, {"url": url, "etag": etag, "length": total})
        downloads.started(url)
    hasher = hashlib.sha256()
    if offset:
        await to_thread(_hash_file, part, hasher)
    with await to_thread(_open_at, part, offset) as file:
        size = offset + await _stream(response, file, hasher)
    if size != total:
        raise DownloadError(f"the body ended at {size:,} of {total:,} bytes")
    digest = hasher.hexdigest()
    try:
        _check_digest(response, digest, offset)
    except DownloadError:
        _drop(part, sidecar)
        downloads.ended(url)
        raise
    path = await to_thread(_place, part, sidecar, directory, digest)
    downloads.ended(url)
    return Saved(path, size, digest, size - offset)


async def _stream(response: aiohttp.ClientResponse, file: IO[bytes], hasher: Any) -> int:
    """Copy the body to ``file`` a megabyte at a time; return the bytes written. What came
    before an error is written (and kept) before the error goes on."""
    pending: list[bytes] = []
    gathered = written = 0
    try:
        async for chunk in response.content.iter_any():
            hasher.update(chunk)
            pending.append(chunk)
            gathered += len(chunk)
            if gathered >= _FLUSH:
                written += await to_thread(_write, file, pending)
                pending, gathered = [], 0
    finally:
        if pending:
            written += await to_thread(_write, file, pending)
    return written


def _open_at(part: Path, offset: int) -> IO[bytes]:
    """Open the part to write at ``offset`` (0: from scratch, cutting what is there)."""
    if not offset:
        return open(part, "wb")
    file = open(part, "r+b")  # noqa: SIM115
    file.seek(offset)
    file.truncate()
    return file


def _write(file: IO[bytes], chunks: list[bytes]) -> int:
    data = b"".join(chunks)
    file.write(data)
    file.flush()
    return len(data)


def _check_range(response: aiohttp.ClientResponse, partial: Partial | None) -> int:
    found = _RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if partial is None or found is None:
        raise DownloadError("a 206 without a Content-Range of the part")
    start, end, total = (int(g) for g in found.groups())
    if start != partial.have or total != partial.length or end != total - 1:
        if partial is not None:
            _drop(partial.part, partial.sidecar)
        raise DownloadError(
            f"a 206 for bytes {start}-{end}/{total}, not the rest of the part "
            f"({partial.have}-/{partial.length}): starting over"
        )
    return start


async def _finished_before(response: aiohttp.ClientResponse, partial: Partial | None) -> Saved:
    found = _UNSATISFIED.fullmatch(response.headers.get("Content-Range", "").strip())
    complete = partial is not None and partial.have == partial.length
    if partial is None or found is None or int(found.group(1)) != partial.length or not complete:
        if partial is not None:
            _drop(partial.part, partial.sidecar)
        raise DownloadError("a 416 for a part that is not complete: starting over")
    hasher = hashlib.sha256()
    await to_thread(_hash_file, partial.part, hasher)
    digest = hasher.hexdigest()
    directory = str(partial.part.parent.parent)
    path = await to_thread(_place, partial.part, partial.sidecar, directory, digest)
    return Saved(path, partial.have, digest, 0)


def _check_digest(response: aiohttp.ClientResponse, digest: str, offset: int) -> None:
    """Compare the file's SHA-256 with a ``Repr-Digest`` (RFC 9530) or ``Digest`` (RFC 3230)
    the server sent; none sent, nothing to compare. (A 206's ``Content-Digest`` is of the
    range, so only the representation's digest counts.)"""
    for name in ("Repr-Digest", "Digest") if offset == 0 else ("Repr-Digest",):
        value = response.headers.get(name)
        if not value:
            continue
        for item in value.split(","):
            algorithm, _, encoded = item.strip().partition("=")
            if algorithm.strip().lower() != "sha-256":
                continue
            with contextlib.suppress(binascii.Error, ValueError):
                sent = base64.b64decode(encoded.strip().strip(":")).hex()
                if sent != digest:
                    raise DownloadError(f"the body's SHA-256 is not the {name} the server sent")


def _strong(etag: str | None) -> str | None:
    if etag is None or etag.startswith("W/"):
        return None
    return etag


def _begin(part: Path, sidecar: Path, data: dict[str, Any]) -> None:
    part.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_text(json.dumps(data))


def _hash_file(path: Path, hasher: Any) -> None:
    with open(path, "rb") as file:
        while block := file.read(_FLUSH):
            hasher.update(block)


def _place(part: Path, sidecar: Path, directory: str, digest: str) -> str:
    """Rename a complete part to its name by digest (atomically, in one file system)."""
    target = Path(directory) / digest[:2] / digest
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)
    sidecar.unlink(missing_ok=True)
    return str(target)


def _drop(part: Path, sidecar: Path) -> None:
    for path in (part, sidecar):
        with contextlib.suppress(OSError):
            path.unlink()
