"""The fast path of ``request_for`` agrees with the full normalisation on every URL."""

from __future__ import annotations

import random
import string

import pytest

from corral._exceptions import BadURL
from corral.http._request import request_for
from corral.http._urls import host_key, normalize, parse

PATH_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%#?"
HOSTS = ["example.org", "a.b-c.io", "127.0.0.1", "Example.ORG", "xn--bcher-kva.de", "localhost"]
PORTS = ["", ":80", ":443", ":8080", ":1", ":65535", ":65536", ":0", ":08"]


def _random_url(rng: random.Random) -> str:
    scheme = rng.choice(["http", "https", "HTTP"])
    path = "".join(rng.choice(PATH_CHARS) for _ in range(rng.randint(0, 30)))
    return f"{scheme}://{rng.choice(HOSTS)}{rng.choice(PORTS)}/{path}"


def test_fast_and_full_paths_agree_on_random_urls() -> None:
    """On 20,000 random URLs, request_for gives the full path's normal form and host key."""
    rng = random.Random(20261121)
    agreed = 0
    for _ in range(20_000):
        text = _random_url(rng)
        try:
            expected = normalize(text)
        except BadURL:
            with pytest.raises(BadURL):
                request_for(text)
            continue
        request = request_for(text)
        assert request.url == expected, text
        assert request.host == host_key(parse(text)), text
        agreed += 1
    assert agreed > 10_000


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("http://example.org/a/./b", id="dot-segment"),
        pytest.param("http://example.org/.well-known/x", id="dot-start"),
        pytest.param("http://example.org:80/x", id="default-port"),
        pytest.param("https://example.org:443/x", id="default-port-https"),
        pytest.param("http://example.org/%7euser", id="escape"),
        pytest.param("http://example.org/x#frag", id="fragment"),
    ],
)
def test_urls_needing_work_take_the_full_path(text: str) -> None:
    """URLs the fast path cannot vouch for are normalised by the full path."""
    assert request_for(text).url == normalize(text)
