"""Connection faults: ``/drop`` closes with FIN, ``/reset`` with RST, and neither leaves noise."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import pytest

from corral.testing import Site, open_site

_REQUEST = b"GET %s HTTP/1.1\r\nHost: test\r\n\r\n"


async def _raw_exchange(site: Site, path: str) -> bytes:
    """Send one request on a raw TCP connection and read until the server ends it."""
    reader, writer = await asyncio.open_connection(site.host, site.port)
    try:
        writer.write(_REQUEST % path.encode())
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_drop_closes_without_a_byte(corral_site: Site) -> None:
    """``/drop`` ends the connection with an orderly close (EOF) and sends no response."""
    assert await _raw_exchange(corral_site, "/drop") == b""


async def test_reset_sends_rst(corral_site: Site) -> None:
    """``/reset`` resets the connection: the client's read fails with ECONNRESET."""
    with pytest.raises(ConnectionResetError):
        await _raw_exchange(corral_site, "/reset")


@pytest.mark.parametrize(
    ("path", "error"),
    [
        pytest.param("/drop", aiohttp.ServerDisconnectedError, id="drop"),
        pytest.param("/reset", aiohttp.ClientOSError, id="reset"),
    ],
)
async def test_aiohttp_sees_the_fault(
    corral_site: Site,
    session: aiohttp.ClientSession,
    path: str,
    error: type[aiohttp.ClientConnectionError],
) -> None:
    """An aiohttp client gets ServerDisconnectedError for a drop and ClientOSError for a reset."""
    with pytest.raises(error):
        async with session.post(corral_site.url(path)) as response:
            await response.read()


async def test_faults_and_early_disconnects_log_nothing(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """Drops, resets and clients that leave mid-body log no warning or traceback, through the
    site's closing (which is when a late error would surface).
    """
    caplog.set_level(logging.DEBUG)
    async with open_site() as site:
        for path in ["/drop", "/reset", "/truncated/1000"]:
            with pytest.raises(aiohttp.ClientError):
                async with session.get(site.url(path)) as response:
                    await response.read()
        for path in ["/bytes/100000000", "/trickle/100?interval_ms=1", "/stall?after=10"]:
            async with session.get(site.url(path)) as response:
                await response.content.readany()
                response.close()  # leave mid-body
        async with session.get(site.url("/page/1")) as response:
            assert response.status == 200  # the site still serves
    noisy = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert noisy == []
