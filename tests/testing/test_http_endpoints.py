"""The fetch endpoints: pages, statuses, delays, Retry-After, flaky URLs, echo and content."""

from __future__ import annotations

import email.utils
import time

import aiohttp
import pytest

from corral.testing import Site


async def test_page_is_small_deterministic_html(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``/page/{i}`` is a small HTML page naming i, the same bytes on every request."""
    async with session.get(corral_site.url("/page/42")) as first:
        body = await first.read()
        assert first.status == 200
        assert first.content_type == "text/html"
    async with session.get(corral_site.url("/page/42")) as second:
        assert await second.read() == body
    assert b"<title>Page 42</title>" in body
    assert len(body) < 500


async def test_page_rejects_a_non_number(corral_site: Site, session: aiohttp.ClientSession) -> None:
    """Only digits name a page; anything else is 404."""
    async with session.get(corral_site.url("/page/abc")) as response:
        assert response.status == 404


@pytest.mark.parametrize(
    ("code", "method"),
    [
        pytest.param(200, "GET", id="200"),
        pytest.param(404, "GET", id="404"),
        pytest.param(418, "GET", id="418"),
        pytest.param(500, "POST", id="500-post"),
        pytest.param(503, "GET", id="503"),
        pytest.param(599, "PUT", id="599-unassigned"),
    ],
)
async def test_status_answers_with_the_code(
    corral_site: Site, session: aiohttp.ClientSession, code: int, method: str
) -> None:
    """``/status/{code}`` answers that status to any method, with the code in the body."""
    async with session.request(method, corral_site.url(f"/status/{code}")) as response:
        assert response.status == code
        assert (await response.text()).startswith(str(code))


@pytest.mark.parametrize("code", [pytest.param(204, id="204"), pytest.param(304, id="304")])
async def test_status_without_body(
    corral_site: Site, session: aiohttp.ClientSession, code: int
) -> None:
    """Statuses that must not carry a body get none."""
    async with session.get(corral_site.url(f"/status/{code}")) as response:
        assert response.status == code
        assert await response.read() == b""


@pytest.mark.parametrize("code", [pytest.param(199, id="199"), pytest.param(600, id="600")])
async def test_status_out_of_range_is_a_bad_request(
    corral_site: Site, session: aiohttp.ClientSession, code: int
) -> None:
    """A code outside 200..599 is a 400 whose body says what was wrong."""
    async with session.get(corral_site.url(f"/status/{code}")) as response:
        assert response.status == 400
        assert "outside [200, 599]" in await response.text()


async def test_delay_answers_after_the_delay(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``/delay/{ms}`` answers 200 once the delay has passed."""
    async with session.get(corral_site.url("/delay/20")) as response:
        assert response.status == 200
        assert await response.text() == "delayed 20 ms\n"


async def test_delay_outlasts_a_shorter_client_timeout(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """A client whose timeout is far shorter than the delay times out (0.2 s against 30 s)."""
    timeout = aiohttp.ClientTimeout(total=0.2)
    with pytest.raises(TimeoutError):
        async with session.get(corral_site.url("/delay/30000"), timeout=timeout) as response:
            await response.read()


@pytest.mark.parametrize(
    ("query", "status"),
    [
        pytest.param("", 429, id="429-default"),
        pytest.param("?status=503", 503, id="503"),
    ],
)
async def test_retry_after_in_seconds(
    corral_site: Site, session: aiohttp.ClientSession, query: str, status: int
) -> None:
    """``/retry-after/{s}`` answers 429 (or the status asked) with ``Retry-After: s``."""
    async with session.get(corral_site.url(f"/retry-after/7{query}")) as response:
        assert response.status == status
        assert response.headers["Retry-After"] == "7"


async def test_retry_after_as_an_http_date(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``?form=date`` sends an HTTP-date that lies about s seconds after now (the wall clock)."""
    before = time.time()
    async with session.get(corral_site.url("/retry-after/120?form=date")) as response:
        value = response.headers["Retry-After"]
    assert value.endswith(" GMT")
    when = email.utils.parsedate_to_datetime(value).timestamp()
    # An HTTP-date has one-second resolution; a minute of slack keeps this free of timing.
    assert before + 60 < when < before + 180


@pytest.mark.parametrize(
    ("query", "status"),
    [
        pytest.param("", 503, id="503-default"),
        pytest.param("?fail=429&retry_after=2", 429, id="429"),
        pytest.param("?fail=500", 500, id="500"),
    ],
)
async def test_flaky_fails_exactly_n_times_then_succeeds(
    corral_site: Site, session: aiohttp.ClientSession, query: str, status: int
) -> None:
    """``/flaky/{n}/{key}`` fails the first n requests with the status asked, then succeeds."""
    url = corral_site.url(f"/flaky/3/one{query}")
    statuses = []
    for _ in range(5):
        async with session.get(url) as response:
            statuses.append(response.status)
            if status == 429:
                assert ("Retry-After" in response.headers) == (response.status == 429)
    assert statuses == [status, status, status, 200, 200]
    assert corral_site.statistics().flaky == {"3/one": 5}


@pytest.mark.parametrize(
    "fail", [pytest.param("drop", id="drop"), pytest.param("reset", id="reset")]
)
async def test_flaky_can_fail_by_connection(
    corral_site: Site, session: aiohttp.ClientSession, fail: str
) -> None:
    """``?fail=drop`` and ``?fail=reset`` fail by closing or resetting the connection.

    POST, because aiohttp silently retries an idempotent request once on a broken connection,
    which would spend two of the n failures per call.
    """
    url = corral_site.url(f"/flaky/2/conn?fail={fail}")
    for _ in range(2):
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.post(url) as response:
                await response.read()
    async with session.post(url) as response:
        assert response.status == 200
    assert corral_site.statistics().flaky == {"2/conn": 3}


async def test_flaky_counters_are_per_key_and_per_n(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """Each (n, key) pair counts on its own, so tests and URLs do not share failures."""
    for path in ["/flaky/1/a", "/flaky/1/b", "/flaky/2/a", "/flaky/1/a"]:
        async with session.get(corral_site.url(path)) as response:
            await response.read()
    assert corral_site.statistics().flaky == {"1/a": 2, "1/b": 1, "2/a": 1}


async def test_flaky_rejects_an_unknown_failure(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """A ``fail`` that is neither drop, reset nor a 4xx/5xx status is a 400."""
    async with session.get(corral_site.url("/flaky/1/x?fail=200")) as response:
        assert response.status == 400


async def test_echo_returns_the_request(corral_site: Site, session: aiohttp.ClientSession) -> None:
    """``/echo`` answers with the method, query, headers and body it received, as JSON."""
    async with session.post(
        corral_site.url("/echo/some/path?a=1&a=2&b=x"),
        json={"hello": "world"},
        headers={"X-Test": "yes"},
    ) as response:
        echoed = await response.json()
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo/some/path"
    assert echoed["query"] == {"a": ["1", "2"], "b": ["x"]}
    assert echoed["headers"]["X-Test"] == "yes"
    assert echoed["headers"]["Content-Type"] == "application/json"
    assert echoed["json"] == {"hello": "world"}
    assert echoed["body"] == '{"hello": "world"}'


async def test_echo_keeps_binary_bodies_exact(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """A body that is not UTF-8 comes back exact in ``body_base64``; ``json`` is null."""
    async with session.put(corral_site.url("/echo"), data=b"\xff\x00\xfe") as response:
        echoed = await response.json()
    assert echoed["method"] == "PUT"
    assert echoed["body_base64"] == "/wD+"
    assert echoed["json"] is None


@pytest.mark.parametrize(
    ("name", "content_type", "starts"),
    [
        pytest.param("page.html", "text/html", b"<!doctype html>", id="html"),
        pytest.param("data.json", "application/json", b"{", id="json"),
        pytest.param("report.pdf", "application/pdf", b"%PDF-", id="pdf"),
        pytest.param("image.png", "image/png", b"\x89PNG", id="png"),
        pytest.param("feed.xml", "application/xml", b"<?xml", id="xml"),
        pytest.param("table.csv", "text/csv", b"id,name", id="csv"),
        pytest.param("notes.txt", "text/plain", b"Plain", id="txt"),
        pytest.param("blob.bin", "application/octet-stream", b"\x00\x01", id="bin"),
    ],
)
async def test_content_has_the_type_its_name_says(
    corral_site: Site, session: aiohttp.ClientSession, name: str, content_type: str, starts: bytes
) -> None:
    """``/content/{name}`` serves a small document of the matching type."""
    async with session.get(corral_site.url(f"/content/{name}")) as response:
        assert response.status == 200
        assert response.content_type == content_type
        assert (await response.read()).startswith(starts)


async def test_content_unknown_name_is_404(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """An unknown content name is a 404 that lists the known ones."""
    async with session.get(corral_site.url("/content/nope.doc")) as response:
        assert response.status == 404
        assert "report.pdf" in await response.text()


async def test_content_type_is_served_verbatim(
    corral_site: Site, session: aiohttp.ClientSession
) -> None:
    """``/content?type=...`` serves exactly the Content-Type asked for, parameters and all."""
    wanted = "text/html; charset=iso-8859-1"
    async with session.get(corral_site.url("/content"), params={"type": wanted}) as response:
        assert response.headers["Content-Type"] == wanted
        assert response.charset == "iso-8859-1"
