"""Redirects: chains of every status and Location form, loops, and redirect-to."""

from __future__ import annotations

import aiohttp
import pytest

from corral.testing import Site


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(301, id="301"),
        pytest.param(302, id="302"),
        pytest.param(303, id="303"),
        pytest.param(307, id="307"),
        pytest.param(308, id="308"),
    ],
)
async def test_chain_uses_the_status_asked(
    corral_site: Site, session: aiohttp.ClientSession, status: int
) -> None:
    """``/redirect/{n}?status=s`` takes n hops of status s and ends at ``/redirect/0``."""
    async with session.get(corral_site.url(f"/redirect/3?status={status}")) as response:
        assert response.status == 200
        assert [hop.status for hop in response.history] == [status] * 3
        assert response.url.path == "/redirect/0"


@pytest.mark.parametrize(
    ("form", "location"),
    [
        pytest.param("root", "/redirect/1?location=root", id="root"),
        pytest.param("relative", "1?location=relative", id="relative"),
        pytest.param("absolute", "{base}/redirect/1?location=absolute", id="absolute"),
    ],
)
async def test_chain_location_forms(
    corral_site: Site, session: aiohttp.ClientSession, form: str, location: str
) -> None:
    """``?location=`` picks a root-relative, relative or absolute Location header."""
    url = corral_site.url(f"/redirect/2?location={form}")
    async with session.get(url, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == location.format(base=corral_site.base_url)
    async with session.get(url) as response:
        assert len(response.history) == 2
        assert response.url.path == "/redirect/0"


async def test_absolute_redirects_follow_the_host_used(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """An absolute Location names the host the client asked for, here the other host name."""
    url = f"{corral_site.other_base_url}/redirect/1?location=absolute"
    async with session.get(url, allow_redirects=False) as response:
        assert response.headers["Location"].startswith(corral_site.other_base_url)


@pytest.mark.parametrize("n", [pytest.param(1, id="self"), pytest.param(3, id="cycle-of-3")])
async def test_loop_never_ends(corral_site: Site, session: aiohttp.ClientSession, n: int) -> None:
    """``/redirect-loop/{n}`` cycles through n URLs forever: a client must give up."""
    with pytest.raises(aiohttp.TooManyRedirects):
        async with session.get(corral_site.url(f"/redirect-loop/{n}"), max_redirects=20):
            pass
    # The site kept redirecting for as long as the client followed (aiohttp stops at 20).
    assert corral_site.statistics().by_prefix["/redirect-loop"] >= 20


async def test_loop_visits_the_same_urls_again(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """The cycle of ``/redirect-loop/2`` is /redirect-loop/2/1 then /redirect-loop/2/0, again."""
    seen = []
    path = "/redirect-loop/2"
    for _ in range(4):
        async with session.get(corral_site.url(path), allow_redirects=False) as response:
            path = response.headers["Location"]
            seen.append(path)
    assert seen == ["/redirect-loop/2/1", "/redirect-loop/2/0"] * 2


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("/page/3", id="path"),
        pytest.param("http://localhost:1/x", id="localhost"),
        pytest.param("http://127.0.0.2/x", id="loopback-range"),
        pytest.param("http://[::1]:8080/x", id="ipv6-loopback"),
    ],
)
async def test_redirect_to_a_url_on_this_machine(
    corral_site: Site, session: aiohttp.ClientSession, target: str
) -> None:
    """``/redirect-to?url=`` redirects to a path or to a loopback address."""
    url = corral_site.url("/redirect-to")
    params = {"url": target, "status": "307"}
    async with session.get(url, params=params, allow_redirects=False) as response:
        assert response.status == 307
        assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("http://example.com/", id="remote-host"),
        pytest.param("http://10.0.0.1/", id="private-address"),
        pytest.param("ftp://localhost/", id="not-http"),
        pytest.param("", id="missing"),
    ],
)
async def test_redirect_to_refuses_to_leave_the_machine(
    corral_site: Site, session: aiohttp.ClientSession, target: str
) -> None:
    """A target off this machine (or none) is a 400: the site never sends a client away."""
    params = {"url": target}
    async with session.get(corral_site.url("/redirect-to"), params=params) as response:
        assert response.status == 400
