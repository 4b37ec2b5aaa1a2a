"""Fixtures for the tests of ``corral.testing``: the site (as users get it) and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

# The fixture users enable with ``pytest_plugins``; importing it here registers it for us.
from corral.testing.pytest_fixtures import corral_site

__all__ = ["corral_site"]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """Yield a real aiohttp client session, closed after the test."""
    async with aiohttp.ClientSession() as client:
        yield client
