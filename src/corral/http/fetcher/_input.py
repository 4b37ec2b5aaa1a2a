"""The input of ``corral fetch``: opened if it is text, read as UTF-8, in lines of bounded size.

- **Not text**: a NUL byte in the first block (8 KiB) means a binary file (or UTF-16), not a
  list of URLs; the job is refused before anything is written (issue 12: a 20 KB binary
  file gave 158 ``invalid_url`` records and exit 0).
- **Not UTF-8**: bytes that do not decode are kept as surrogate escapes
  (``errors="surrogateescape"``), so the line that holds them is recognised and recorded as
  invalid (``parse_line``); replacing them with U+FFFD fetched a different URL.
- **Too long**: the input is read in blocks and split into lines; a line longer than
  ``MAX_LINE`` is read on and dropped, not held, so memory stays bounded whatever the line
  length (a 200 MB line took 580 MB).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import IO

from corral import to_thread
from corral._clierrors import InputError
from corral.http.engine._request import KEPT, InvalidLine, Request, invalid_line, parse_line

# A line is a URL (8 KiB at most) or a JSON request object, whose body may be large: 1 MiB
# leaves room for any such body while bounding what one line can cost.
MAX_LINE = 1 << 20
_HEAD = 8192  # the first block, where a NUL byte says "binary"
_BLOCK = 1 << 16  # characters read at a time


def open_input(path: str, files: contextlib.ExitStack) -> IO[str]:
    """Open the input (a path, or ``-`` for stdin) as UTF-8 text, after checking it is text.

    Bytes that are not UTF-8 come through as surrogate escapes (``parse_line`` makes their
    line invalid). The file is closed with ``files``.

    Raises:
        InputError: the input cannot be read, or is not text.
    """
    if path == "-":
        return _stdin()
    try:
        raw = files.enter_context(io.BufferedReader(io.FileIO(path), buffer_size=1 << 16))
        head = raw.peek(_HEAD)[:_HEAD]
    except OSError as exc:
        raise InputError(f"cannot read input {path}: {exc.strerror or exc}") from None
    check_text(head, f"input {path}")
    return files.enter_context(io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape"))


def _stdin() -> IO[str]:
    stdin = sys.stdin
    if stdin is None:
        raise InputError("cannot read input -: there is no stdin")
    if isinstance(stdin, io.TextIOWrapper) and isinstance(stdin.buffer, io.BufferedReader):
        try:
            head = stdin.buffer.peek(_HEAD)[:_HEAD]  # waits for the first block, reads nothing
        except OSError as exc:
            raise InputError(f"cannot read input -: {exc.strerror or exc}") from None
        check_text(head, "input on stdin")
        # (the locale's encoding and strict errors otherwise: a byte that is not UTF-8
        # would end the job; nothing is read yet, so this is allowed)
        with contextlib.suppress(io.UnsupportedOperation):
            stdin.reconfigure(encoding="utf-8", errors="surrogateescape")
    return stdin


def check_text(head: bytes, what: str) -> None:
    """Refuse input whose first block is not text (``what`` names it in the message).

    Raises:
        InputError: a NUL byte in ``head``, or a UTF-16 byte-order mark.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{what} is UTF-16 text (save it as UTF-8)")
    nul = head.find(b"\0")
    if nul >= 0:
        raise InputError(f"{what} is not text (a NUL byte at byte {nul})")


@dataclass(frozen=True, slots=True)
class LongLine:
    """A line longer than ``MAX_LINE``: its start, and its length (its newline excluded)."""

    head: str
    length: int


def read_lines(
    stream: IO[str], *, most: int = MAX_LINE, block: int = _BLOCK
) -> Iterator[list[str] | LongLine]:
    """Yield the lines of a text stream (without their newlines) a block at a time, and each
    line longer than ``most`` characters as a ``LongLine``, in order.

    The stream is read ``block`` characters at a time and split: a line costs a share of
    one ``split``, not a ``readline`` call. At most ``most`` characters of a line are held;
    a longer one is read on and dropped. Only a block's first line can be longer than a
    block (it holds the last one's unfinished line), so only it is measured (``block`` is at
    most ``most``).
    """
    read = partial(stream.read, block)
    carry = ""  # the unfinished last line of the blocks so far
    while text := read():
        lines = (carry + text).split("\n")
        carry = lines.pop()
        if lines and len(lines[0]) > most:
            yield LongLine(lines[0][:KEPT], len(lines[0]))
            del lines[0]
        yield lines
        if len(carry) > most:
            long, carry = _drop_line(read, carry)
            yield long
    if carry:  # the last line had no newline; or lines followed a dropped one
        lines = carry.split("\n")
        if not lines[-1]:
            lines.pop()
        yield lines


def _drop_line(read: Callable[[], str], start: str) -> tuple[LongLine, str]:
    """Read the rest of a line too long to hold and drop it; return it as a ``LongLine``,
    and what followed its newline in the last block read."""
    length = len(start)
    while text := read():
        end = text.find("\n")
        if end >= 0:
            return LongLine(start[:KEPT], length + end), text[end + 1 :]
        length += len(text)
    return LongLine(start[:KEPT], length), ""


def _batches(stream: IO[str], batch: int) -> Iterator[list[Request | InvalidLine]]:
    chunk: list[Request | InvalidLine] = []
    number = 0
    for lines in read_lines(stream):
        if isinstance(lines, LongLine):
            number += 1
            reason = f"line too long: {lines.length:,} characters (the limit is {MAX_LINE:,})"
            chunk.append(invalid_line(lines.head, reason, number))
            continue
        first = number + 1
        for number, line in enumerate(lines, first):
            parsed = parse_line(line, number)
            if parsed is not None:
                chunk.append(parsed)
        while len(chunk) >= batch:
            yield chunk[:batch]
            chunk = chunk[batch:]
    if chunk:
        yield chunk


def count_lines(stream: IO[str]) -> int:
    """Count the lines that may hold a request (not blank, not a comment), then rewind.

    Only a first guess at the job's size, for the progress display: duplicates count too.
    The lines are read as ``read_requests`` reads them, in bounded memory.
    """
    if not stream.seekable():
        return 0
    start = stream.tell()
    count = 0
    for lines in read_lines(stream):
        if isinstance(lines, LongLine):
            count += 1
        else:
            count += sum(1 for line in lines if (text := line.strip()) and text[0] != "#")
    stream.seek(start)
    return count


async def read_requests(
    stream: IO[str], *, batch: int = 1000
) -> AsyncIterator[list[Request | InvalidLine]]:
    """Yield the requests of a text stream in batches, reading it lazily off the loop.

    Reading (a file, a pipe on stdin) and parsing happen in a corral thread, ``batch`` lines
    at a time, so the event loop never waits on the input nor spends its time on URLs.
    """
    batches = _batches(stream, batch)
    while True:
        chunk = await to_thread(next, batches, None)
        if chunk is None:
            return
        yield chunk
