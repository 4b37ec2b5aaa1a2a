"""The test Redis fixtures themselves: a real server, flushed per test, restartable."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis_server import RedisServer


async def test_redis_url_is_a_flushed_real_server(redis_url: str) -> None:
    """``redis_url`` reaches a real redis-server 7 or newer, with no key left by another test."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        info = await client.info("server")
        assert int(str(info["redis_version"]).split(".")[0]) >= 7
        assert await client.dbsize() == 0
        await client.set("left", "behind")  # the next test must not see it
    finally:
        await client.aclose()


async def test_redis_url_is_flushed_again(redis_url: str) -> None:
    """The key the test before set is gone (whichever order they ran in, the count is 0)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await client.dbsize() == 0
        await client.set("left", "behind")
    finally:
        await client.aclose()


async def test_redis_server_restarts_on_its_port_with_its_aof(redis_server: RedisServer) -> None:
    """A stopped server restarts on the same URL; with the AOF on, what was written survives."""
    durable = RedisServer(redis_server.directory.parent / "aof", appendonly=True)
    await asyncio.to_thread(durable.start)
    try:
        client = aioredis.Redis.from_url(durable.url)
        await client.set("kept", "yes")
        await client.aclose()
        url = durable.url
        await asyncio.to_thread(durable.stop)
        await asyncio.to_thread(durable.start)
        assert durable.url == url
        client = aioredis.Redis.from_url(durable.url)
        assert await client.get("kept") == b"yes"
        await client.aclose()
    finally:
        await asyncio.to_thread(durable.stop)
