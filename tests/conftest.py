"""Shared test set-up: pytester for the plugin's tests, virtual time on request, and a real
``redis-server`` for the scale-out tests (``tests/http/redis_server.py``).

Tests marked ``virtual_time`` run on corral's ``VirtualTimeLoop``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from corral.testing import VirtualTimeLoop

if TYPE_CHECKING:
    from nginx_server import NginxServer
    from redis_server import RedisServer

pytest_plugins = ["pytester"]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Give ``@pytest.mark.virtual_time`` tests a ``VirtualTimeLoop``, others a real loop."""
    if item.get_closest_marker("virtual_time") is not None:
        return {"virtual_time": VirtualTimeLoop}
    return {"asyncio": asyncio.new_event_loop}


# The Redis fixtures live here, not in tests/http/conftest.py: tests/ and tests/http have no
# __init__.py, so two conftest modules would share one name. ``redis_server`` (the module) is
# importable once pytest has put tests/http on sys.path, as it does to collect a test there.


@pytest.fixture(scope="session")
def redis_session_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One ``redis-server`` for the whole session, without persistence."""
    from redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_session_server: RedisServer) -> str:
    """Return the session server's URL, its data flushed for this test."""
    with socket.create_connection(("127.0.0.1", redis_session_server.port), timeout=5) as link:
        link.sendall(b"FLUSHALL\r\n")
        answer = link.recv(64)
    assert answer.startswith(b"+OK"), answer
    return redis_session_server.url


@pytest.fixture
def redis_if_asked(request: pytest.FixtureRequest) -> str | None:
    """Return ``redis_url`` when the test's parameters ask for Redis (``how`` of "--redis" or
    "redis", or ``redis=True``), else None.

    A fixture, not ``request.getfixturevalue`` in the test: the first test to need Redis starts
    redis-server, which blocks for a moment, and an async test's body runs on its event loop
    under the guard (a 0.19 s stall failed CI). Fixture set-up runs before that loop does.
    """
    callspec = getattr(request.node, "callspec", None)
    params: dict[str, object] = callspec.params if callspec is not None else {}
    if params.get("how") in ("--redis", "redis") or params.get("redis") is True:
        url: str = request.getfixturevalue("redis_url")
        return url
    return None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A ``redis-server`` of this test's own, to stop and restart (same port, same directory).

    In an async test, call its ``stop``/``start`` through ``asyncio.to_thread``: they wait.
    """
    from redis_server import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[NginxServer]:
    """An ``nginx`` of this test's own serving ``tmp_path / "site"`` (ETag, 304, Range)."""
    from nginx_server import NginxServer

    server = NginxServer(tmp_path / "site", tmp_path / "nginx")
    server.start()
    yield server
    server.stop()
