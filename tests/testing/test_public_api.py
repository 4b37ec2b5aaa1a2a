"""The public surface of ``corral.testing`` is exactly what its ``__all__`` lists."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import corral.testing


def test_all_is_sorted_exact_and_claims_the_package() -> None:
    """``__all__`` is sorted, complete, and its objects say they live in corral.testing."""
    assert corral.testing.__all__ == sorted(set(corral.testing.__all__))
    public = {
        name
        for name, value in vars(corral.testing).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("corral")
    }
    assert public == set(corral.testing.__all__)
    for name in corral.testing.__all__:
        assert getattr(corral.testing, name).__module__ == "corral.testing", name


def test_importing_corral_does_not_load_the_site() -> None:
    """``import corral`` stays light: the test site (and aiohttp.web) load only on request."""
    code = "import sys, corral; assert 'corral.testing' not in sys.modules; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "ok"


def test_users_can_enable_the_fixture(tmp_path: Path) -> None:
    """``pytest_plugins = ["corral.testing.pytest_fixtures"]`` gives a ``corral_site`` fixture."""
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["corral.testing.pytest_fixtures"]\n')
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import aiohttp
            import pytest

            @pytest.mark.asyncio
            async def test_status(corral_site):
                async with aiohttp.ClientSession() as session:
                    async with session.get(corral_site.url("/status/418")) as response:
                        assert response.status == 418
                assert corral_site.statistics().requests == 1
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
