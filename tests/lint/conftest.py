"""Keep the linter's caches (library index, per-file results) out of the user's home."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def lint_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point ``CORRAL_LINT_CACHE`` at a directory of this test session."""
    before = os.environ.get("CORRAL_LINT_CACHE")
    os.environ["CORRAL_LINT_CACHE"] = str(tmp_path_factory.mktemp("lint-cache"))
    yield
    if before is None:
        del os.environ["CORRAL_LINT_CACHE"]
    else:
        os.environ["CORRAL_LINT_CACHE"] = before
