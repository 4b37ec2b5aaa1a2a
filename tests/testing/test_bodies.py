"""Bodies: large, chunked, slow, stalled, truncated, and the gzip bomb."""

from __future__ import annotations

import zlib

import aiohttp
import pytest

from corral import to_thread
from corral.testing import Site
from corral.testing._gzip_bomb import crc32_of_zeros, gzip_bomb_chunks, gzip_bomb_length

_PATTERN = bytes(range(256))


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(0, id="empty"),
        pytest.param(1000, id="small"),
        pytest.param(65536 * 3 + 17, id="several-blocks"),
    ],
)
async def test_bytes_sends_exactly_n_bytes(
    corral_site: Site, session: aiohttp.ClientSession, size: int
) -> None:
    """``/bytes/{n}`` sends n bytes of a repeating 0..255 pattern, with Content-Length n."""
    async with session.get(corral_site.url(f"/bytes/{size}")) as response:
        body = await response.read()
        assert response.content_length == size
    assert body == (_PATTERN * (size // 256 + 1))[:size]


async def test_bytes_chunked_has_no_content_length(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``?chunked=1`` streams the same bytes with chunked transfer encoding instead."""
    async with session.get(corral_site.url("/bytes/100000?chunked=1")) as response:
        body = await response.read()
        assert "Content-Length" not in response.headers
        assert response.headers["Transfer-Encoding"] == "chunked"
    assert len(body) == 100000


async def test_bytes_streams_large_bodies(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """A large body arrives in full without the site building it in memory (64 MiB here)."""
    size = 64 << 20
    received = 0
    async with session.get(corral_site.url(f"/bytes/{size}")) as response:
        async for chunk in response.content.iter_chunked(1 << 20):
            received += len(chunk)
    assert received == size


async def test_trickle_delivers_all_bytes_in_pieces(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``/trickle/{n}`` sends n bytes, ``chunk`` at a time, and then completes normally."""
    url = corral_site.url("/trickle/12?chunk=4&interval_ms=1")
    async with session.get(url) as response:
        assert response.content_length == 12
        assert len(await response.read()) == 12


async def test_trickle_trips_a_total_timeout_but_not_a_read_timeout(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """Each piece comes well inside a 5 s read timeout, but the whole body outlasts 0.3 s."""
    url = corral_site.url("/trickle/40?interval_ms=50")
    timeout = aiohttp.ClientTimeout(total=0.3, sock_read=5)
    with pytest.raises(TimeoutError):
        async with session.get(url, timeout=timeout) as response:
            await response.read()


async def test_stall_sends_headers_then_nothing(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``/stall?after=n`` sends headers and n bytes, promises more, and never sends it."""
    timeout = aiohttp.ClientTimeout(sock_read=0.2)
    async with session.get(corral_site.url("/stall?after=10"), timeout=timeout) as response:
        assert response.status == 200
        assert response.content_length == 10 + 1024
        first = await response.content.readexactly(10)
        with pytest.raises(TimeoutError):
            await response.content.read()
    assert first == _PATTERN[:10]


async def test_truncated_body_is_a_payload_error(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``/truncated/{n}`` promises n bytes, sends half and closes: a ContentLengthError."""
    async with session.get(corral_site.url("/truncated/1000")) as response:
        with pytest.raises(aiohttp.ClientPayloadError, match="received 500 of 1000"):
            await response.read()


async def test_gzip_bomb_is_small_on_the_wire_and_huge_inflated(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``/gzip-bomb/{n}`` declares gzip, weighs about n/1000 bytes and inflates to n zeros."""
    size = 32 << 20
    async with session.get(corral_site.url(f"/gzip-bomb/{size}"), auto_decompress=False) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        assert resp.content_type == "text/html"
        wire = await resp.read()
    assert len(wire) == resp.content_length == gzip_bomb_length(size)
    assert len(wire) < size // 900
    # 32 MiB to inflate and count: a thread's work, not the loop's (the guard sees a stall
    # when a loaded machine makes it long)
    eof, unused, inflated_size, zeros = await to_thread(_inflate, wire)
    assert eof
    assert unused == b""
    assert inflated_size == size
    assert zeros == size


def _inflate(wire: bytes) -> tuple[bool, bytes, int, int]:
    """Inflate a gzip stream; return (ended, bytes after it, inflated size, zero bytes)."""
    inflater = zlib.decompressobj(wbits=31)  # gzip; checks the CRC and length in the trailer
    inflated = inflater.decompress(wire)
    return inflater.eof, inflater.unused_data, len(inflated), inflated.count(0)


async def test_gzip_bomb_default_inflates_to_a_gibibyte(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``/gzip-bomb`` inflates to 1 GiB while about 1 MiB travels (read here without inflating)."""
    async with session.get(corral_site.url("/gzip-bomb"), auto_decompress=False) as response:
        wire = await response.read()
    assert len(wire) == gzip_bomb_length(1 << 30) < 1_100_000
    # The trailer states the inflated size (mod 2**32) and its CRC, as gzip requires.
    assert int.from_bytes(wire[-4:], "little") == (1 << 30) % (1 << 32)
    assert int.from_bytes(wire[-8:-4], "little") == crc32_of_zeros(1 << 30)


async def test_aiohttp_auto_decompression_inflates_the_bomb(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """A client that trusts Content-Encoding gets the inflated zeros: this is the danger."""
    async with session.get(corral_site.url(f"/gzip-bomb/{4 << 20}")) as response:
        body = await response.read()
    assert len(body) == 4 << 20


@pytest.mark.parametrize(
    "count",
    [
        pytest.param(0, id="0"),
        pytest.param(1, id="1"),
        pytest.param(255, id="255"),
        pytest.param(4096, id="4096"),
        pytest.param((1 << 20) + 3, id="mib+3"),
    ],
)
def test_crc32_of_zeros_matches_zlib(count: int) -> None:
    """The O(log n) CRC-32 of zero bytes equals zlib's over the actual bytes."""
    assert crc32_of_zeros(count) == zlib.crc32(bytes(count))


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(1, id="1"),
        pytest.param(1 << 20, id="one-mib"),
        pytest.param((3 << 20) + 12345, id="ragged"),
    ],
)
def test_gzip_bomb_chunks_are_a_valid_gzip_member(size: int) -> None:
    """Concatenated chunks form one gzip member of the declared length inflating to n zeros."""
    wire = b"".join(gzip_bomb_chunks(size))
    assert len(wire) == gzip_bomb_length(size)
    assert zlib.decompress(wire, wbits=31) == bytes(size)


@pytest.mark.parametrize(
    ("path", "length"),
    [
        pytest.param("/bytes/100000", 100000, id="bytes"),
        pytest.param("/gzip-bomb", gzip_bomb_length(1 << 30), id="gzip-bomb"),
        pytest.param("/trickle/3?interval_ms=1", 3, id="trickle"),
        pytest.param("/truncated/100", 100, id="truncated"),
        pytest.param("/stall", 1024, id="stall"),
    ],
)
async def test_head_sends_headers_only(corral_site: Site, path: str, length: int) -> None:
    """HEAD gets the GET's headers and no body, and the connection stays good for reuse."""
    connector = aiohttp.TCPConnector(limit=1)  # one connection: the next request reuses it
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.head(corral_site.url(path)) as response:
            assert response.status == 200
            assert response.content_length == length
            assert await response.read() == b""
        async with session.get(corral_site.url("/page/1")) as response:
            assert response.status == 200
    assert corral_site.statistics().requests == 2
