"""A host held back behind a proxy that a retry cannot get through (a trial).

The summary said "run the same command again to crawl them" when robots.txt did not answer
because the proxy refused its credentials or its certificate was not trusted: the same
command fails the same way. It now names the cause and the fix.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from corral_cli import acorral
from proxy_servers import TinyProxy, TlsProxy

from corral.testing import Site, SiteLayout, open_site

pytestmark = pytest.mark.corral_guard(strict=False)  # commands run in subprocesses


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with open_site(layout=SiteLayout(pages=5)) as running:
        yield running


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[TinyProxy]:
    server = TinyProxy(tmp_path, user="ann", password="s3cret")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tls_proxy(tmp_path: Path) -> Iterator[TlsProxy]:
    server = TlsProxy(tmp_path, user="ann", password="s3cret")
    server.start()
    yield server
    server.stop()


def _head(stderr: str) -> str:
    return next(line for line in stderr.splitlines() if line.startswith("  held back"))


async def test_wrong_proxy_credentials_say_to_fix_them(
    site: Site, tinyproxy: TinyProxy, tmp_path: Path
) -> None:
    """A proxy refusing the password: the line says so and to correct ``--proxy``."""
    wrong = tinyproxy.url.replace("s3cret", "wrong")
    run = await acorral("crawl", site.url("/"), "--proxy", wrong, "-o", str(tmp_path / "c.db"))
    assert run.returncode == 1, run.stderr
    assert _head(run.stderr).endswith(
        "1 URL left pending: the proxy refused its credentials: correct the user:password "
        "of --proxy, then run the command again"
    )


async def test_an_untrusted_proxy_certificate_says_proxy_ca(
    site: Site, tls_proxy: TlsProxy, tmp_path: Path
) -> None:
    """An https:// proxy whose certificate is not trusted: the line says ``--proxy-ca``."""
    store = str(tmp_path / "c.db")
    run = await acorral("crawl", site.url("/"), "--proxy", tls_proxy.url, "-o", store)
    assert run.returncode == 1, run.stderr
    assert _head(run.stderr).endswith(
        "1 URL left pending: the proxy's certificate is not trusted: run the command again "
        "with --proxy-ca FILE (its CA)"
    )
    again = await acorral(
        "crawl", site.url("/"), "--proxy", tls_proxy.url, "-o", store,
        "--proxy-ca", str(tls_proxy.certificate),
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
