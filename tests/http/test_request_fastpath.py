"""The fast path of ``request_for`` agrees with the full normalisation on every URL."""

from __future__ import annotations

import io
import random
import string

import pytest

from corral.http._errors import BadURL
from corral.http.engine._request import KEPT, InvalidLine, Request, parse_line, request_for
from corral.http.fetcher._input import (
    MAX_LINE,
    LongLine,
    count_lines,
    read_lines,
    read_requests,
)
from corral.http.web._urls import host_key, normalize, parse

PATH_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%#?"
HOSTS = ["example.org", "a.b-c.io", "127.0.0.1", "Example.ORG", "xn--bcher-kva.de", "localhost"]
PORTS = ["", ":80", ":443", ":8080", ":1", ":65535", ":65536", ":0", ":08"]


def _random_url(rng: random.Random) -> str:
    scheme = rng.choice(["http", "https", "HTTP"])
    path = "".join(rng.choice(PATH_CHARS) for _ in range(rng.randint(0, 30)))
    return f"{scheme}://{rng.choice(HOSTS)}{rng.choice(PORTS)}/{path}"


def test_fast_and_full_paths_agree_on_random_urls() -> None:
    """On 20,000 random URLs, request_for gives the full path's normal form and host key."""
    rng = random.Random(20261121)
    agreed = 0
    for _ in range(20_000):
        text = _random_url(rng)
        try:
            expected = normalize(text)
        except BadURL:
            with pytest.raises(BadURL):
                request_for(text)
            continue
        request = request_for(text)
        assert request.url == expected, text
        assert request.host == host_key(parse(text)), text
        agreed += 1
    assert agreed > 10_000


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("http://example.org/a/./b", id="dot-segment"),
        pytest.param("http://example.org/.well-known/x", id="dot-start"),
        pytest.param("http://example.org:80/x", id="default-port"),
        pytest.param("https://example.org:443/x", id="default-port-https"),
        pytest.param("http://example.org/%7euser", id="escape"),
        pytest.param("http://example.org/x#frag", id="fragment"),
    ],
)
def test_urls_needing_work_take_the_full_path(text: str) -> None:
    """URLs the fast path cannot vouch for are normalised by the full path."""
    assert request_for(text).url == normalize(text)


def test_a_byte_order_mark_is_not_part_of_the_line() -> None:
    """A UTF-8 BOM (a file's first line, or a line of concatenated files) is dropped, for a
    URL, a JSON request and a comment alike."""
    assert parse_line("\ufeffhttp://example.org/a\n", 1) == request_for("http://example.org/a")
    parsed = parse_line('\ufeff{"url": "http://example.org/b", "method": "HEAD"}', 1)
    assert isinstance(parsed, Request)
    assert (parsed.url, parsed.method) == ("http://example.org/b", "HEAD")
    assert parse_line("\ufeff# a comment\n", 1) is None


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("http://example.org/caf\udce9\n", id="url"),
        pytest.param('{"url": "http://example.org/caf\udce9"}', id="json"),
    ],
)
def test_invalid_utf8_is_the_lines_invalid_url(line: str) -> None:
    """Bytes that are not UTF-8 (read as surrogate escapes) make the line invalid: the record
    shows them as \\x escapes, never a URL with U+FFFD in it that would be fetched."""
    parsed = parse_line(line, 7)
    assert isinstance(parsed, InvalidLine)
    assert "\\xe9" in parsed.text
    assert "\ufffd" not in parsed.text
    assert parsed.text.encode("utf-8")  # storable: no surrogates left
    assert "not UTF-8" in parsed.reason
    assert "0xE9" in parsed.reason
    assert parsed.line == 7


@pytest.mark.parametrize("depth", [101, 990, 100_000])
def test_deeply_nested_json_is_the_lines_invalid_url(depth: int) -> None:
    """A JSON line nested deeper than 100 levels is invalid (no RecursionError, and nothing
    so deep that storing or keying it could fail later)."""
    line = '{"url": "http://example.org/", "json": ' + "[" * depth + "]" * depth + "}"
    parsed = parse_line(line, 1)
    assert isinstance(parsed, InvalidLine)
    assert "nested deeper than 100 levels" in parsed.reason
    assert len(parsed.text) <= 2000


def test_json_nested_within_the_limit_is_a_request() -> None:
    """Nesting up to the limit is an ordinary request body."""
    line = '{"url": "http://example.org/", "json": ' + "[" * 99 + "]" * 99 + "}"
    parsed = parse_line(line, 1)
    assert isinstance(parsed, Request)
    assert parsed.key.startswith("GET http://example.org/ [[[")


def test_an_invalid_lines_password_is_masked() -> None:
    """A line that is not fetchable is recorded as written, but for its URL's password."""
    parsed = parse_line("ftp://user:secret@example.org/x\n", 1)
    assert isinstance(parsed, InvalidLine)
    assert parsed.text == "ftp://user:***@example.org/x"


async def test_a_line_past_the_length_cap_is_invalid_and_not_kept() -> None:
    """A line longer than MAX_LINE characters is consumed without being held: its record says
    its length and keeps only its start; the lines around it are read as usual."""
    long = "http://example.org/" + "a" * (MAX_LINE + 10)
    stream = io.StringIO(f"http://example.org/1\n{long}\nhttp://example.org/2\n")
    got = [item async for batch in read_requests(stream) for item in batch]
    assert [type(item) for item in got] == [Request, InvalidLine, Request]
    invalid = got[1]
    assert isinstance(invalid, InvalidLine)
    assert f"{len(long):,} characters" in invalid.reason
    assert len(invalid.text) <= 2000
    assert invalid.line == 2
    assert count_lines(io.StringIO(f"a\n{long}\n# c\nb")) == 3


async def test_a_line_at_the_length_cap_is_read_whole() -> None:
    """A line of exactly MAX_LINE characters is a line like any other (here too long a URL)."""
    line = "http://example.org/" + "a" * (MAX_LINE - 19)
    got = [item async for batch in read_requests(io.StringIO(line + "\n")) for item in batch]
    assert len(got) == 1
    assert isinstance(got[0], InvalidLine)
    assert got[0].reason == "URL longer than 8192 characters"


def _expected(text: str, most: int) -> list[str | int]:
    """What read_lines should give, from str.split: a long line's length in its place."""
    lines = text.split("\n")
    if not lines[-1]:
        lines.pop()
    return [line if len(line) <= most else len(line) for line in lines]


def test_read_lines_agrees_with_split_across_block_edges() -> None:
    """On 3,000 random inputs (lines of every length around the block size and the cap,
    with and without a final newline), read_lines gives the lines str.split gives, and each
    line past the cap as its length and its start (at least the cap's worth, at most KEPT)."""
    rng = random.Random(20261203)
    most, block = 20, 8
    lengths = [0, 1, 2, 7, 8, 9, 15, 16, 17, 19, 20, 21, 25, 40, 41, 100]
    for _ in range(3000):
        lines = [
            "".join(rng.choice("ab c") for _ in range(rng.choice(lengths)))
            for _ in range(rng.randint(0, 8))
        ]
        text = "\n".join(lines) + rng.choice(["", "\n"])
        got: list[str | int] = []
        for item in read_lines(io.StringIO(text), most=most, block=block):
            if isinstance(item, LongLine):
                assert most < len(item.head) <= KEPT
                assert text.find("\n" + item.head) >= 0 or text.startswith(item.head)
                got.append(item.length)
            else:
                got.extend(item)
        assert got == _expected(text, most), text
