"""A pytest fixture that serves the corral test site: enable it in your own ``conftest.py``.

::

    pytest_plugins = ["corral.testing.pytest_fixtures"]

    async def test_my_client(corral_site):
        ...  # corral_site.url("/status/503") and friends

It needs pytest-asyncio (in strict mode, mark the tests ``@pytest.mark.asyncio``). For a site
with other policies, write your own fixture around :func:`corral.testing.open_site`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from corral.testing._site import Site, open_site

__all__ = ["corral_site"]


@pytest_asyncio.fixture
async def corral_site() -> AsyncIterator[Site]:
    """Serve the test site with default settings on 127.0.0.1 for one test; yield it."""
    async with open_site() as site:
        yield site
