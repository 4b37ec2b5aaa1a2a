"""Shared test set-up: pytester for the plugin's tests, and virtual time on request.

Tests marked ``virtual_time`` run on corral's ``VirtualTimeLoop``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest

from corral.testing import VirtualTimeLoop

pytest_plugins = ["pytester"]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Give ``@pytest.mark.virtual_time`` tests a ``VirtualTimeLoop``, others a real loop."""
    if item.get_closest_marker("virtual_time") is not None:
        return {"virtual_time": VirtualTimeLoop}
    return {"asyncio": asyncio.new_event_loop}
