"""Crawl rules (corral.http.web._rules): kinds, patterns, depth and content types."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from corral.http._errors import BadScope
from corral.http.web._rules import CrawlRules, Decision, registrable_domain


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        pytest.param("https://www.example.com/a", True, id="same-host"),
        pytest.param("http://WWW.Example.com:80/b", True, id="other-scheme-case-port"),
        pytest.param("https://example.com/", False, id="parent-domain"),
        pytest.param("https://blog.example.com/", False, id="sibling-subdomain"),
        pytest.param("https://www.example.com:8080/", False, id="other-port"),
        pytest.param("https://other.org/", False, id="other-host"),
    ],
)
def test_host_scope(url: str, allowed: bool) -> None:
    """Host scope keeps to the seeds' hosts and ports, either scheme."""
    scope = CrawlRules(seeds=("https://www.example.com/start",))
    expected = Decision(True) if allowed else Decision(False, "out_of_scope")
    assert scope.allows(url, 1) == expected


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        pytest.param("https://a.example.co.uk/", True, id="seed-host"),
        pytest.param("https://b.example.co.uk/x", True, id="sibling-under-psl"),
        pytest.param("http://example.co.uk/", True, id="registrable-itself"),
        pytest.param("https://deep.er.example.co.uk/", True, id="deeper"),
        pytest.param("https://other.co.uk/", False, id="other-under-same-suffix"),
        pytest.param("https://co.uk/", False, id="the-suffix"),
        pytest.param("https://example.com/", False, id="other-tld"),
    ],
)
def test_domain_scope(url: str, allowed: bool) -> None:
    """Domain scope keeps to the seeds' registrable domains (Public Suffix List)."""
    scope = CrawlRules(seeds=("https://a.example.co.uk/",), kind="domain")
    assert scope.allows(url, 1).allowed is allowed


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        pytest.param("a.example.co.uk", "example.co.uk", id="co-uk"),
        pytest.param("www.example.com", "example.com", id="com"),
        pytest.param("alice.github.io", "alice.github.io", id="private-suffix"),
        pytest.param("Example.COM.", "example.com", id="case-trailing-dot"),
        pytest.param("xn--bcher-kva.de", "xn--bcher-kva.de", id="idna"),
        pytest.param("localhost", "localhost", id="single-label"),
        pytest.param("127.0.0.1", "127.0.0.1", id="ipv4"),
        pytest.param("::1", "::1", id="ipv6"),
        pytest.param("co.uk", "co.uk", id="suffix-itself"),
    ],
)
def test_registrable_domain(host: str, domain: str) -> None:
    """The registrable domain follows the bundled list; IPs and single labels are their own."""
    assert registrable_domain(host) == domain


def test_domain_scope_private_suffixes_are_separate_sites() -> None:
    """``alice.github.io`` does not open the door to ``bob.github.io``."""
    scope = CrawlRules(seeds=("https://alice.github.io/",), kind="domain")
    assert scope.allows("https://www.alice.github.io/", 1).allowed
    assert not scope.allows("https://bob.github.io/", 1).allowed


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        pytest.param("https://example.com/docs/", True, id="seed"),
        pytest.param("https://example.com/docs/a/b", True, id="below"),
        pytest.param("http://example.com/docs/x", True, id="other-scheme"),
        pytest.param("https://example.com/docs", False, id="no-slash"),
        pytest.param("https://example.com/blog/", False, id="sibling"),
        pytest.param("https://example.com/", False, id="root"),
        pytest.param("https://other.org/docs/", False, id="other-host"),
        pytest.param("https://example.com/api/v2/x", True, id="second-seed"),
    ],
)
def test_prefix_scope(url: str, allowed: bool) -> None:
    """Prefix scope keeps to URLs that start with a seed (scheme aside)."""
    scope = CrawlRules(
        seeds=("https://example.com/docs/", "https://example.com/api/v2/"), kind="prefix"
    )
    assert scope.allows(url, 1).allowed is allowed


def test_prefix_seed_query_is_dropped() -> None:
    """A seed's query is not part of its prefix."""
    scope = CrawlRules(seeds=("https://example.com/docs/?lang=en",), kind="prefix")
    assert scope.allows("https://example.com/docs/page?lang=de", 1).allowed


@pytest.mark.parametrize(
    ("url", "decision"),
    [
        pytest.param("https://example.com/blog/post", Decision(True), id="included"),
        pytest.param(
            "https://example.com/about", Decision(False, "not_included"), id="not-included"
        ),
        pytest.param("https://example.com/blog/tag/x", Decision(False, "excluded"), id="excluded"),
        pytest.param("https://example.com/blog/a?print=1", Decision(False, "excluded"), id="query"),
        pytest.param("https://other.org/blog/", Decision(False, "out_of_scope"), id="scope-first"),
    ],
)
def test_include_exclude(url: str, decision: Decision) -> None:
    """Excludes win; with includes, a URL must match one; scope is checked first."""
    scope = CrawlRules(
        seeds=("https://example.com/",),
        include=(r"/blog/",),
        exclude=(r"/tag/", r"[?&]print=1"),
    )
    assert scope.allows(url, 1) == decision


def test_patterns_match_the_normalised_url() -> None:
    """Patterns see the normal form: lowercase host, no fragment, no default port."""
    scope = CrawlRules(seeds=("https://example.com/",), exclude=(r"^https://example\.com/x$",))
    assert scope.allows("HTTPS://Example.COM:443/x#frag", 1) == Decision(False, "excluded")


@pytest.mark.parametrize(
    ("depth", "decision"),
    [
        pytest.param(0, Decision(True), id="seed"),
        pytest.param(2, Decision(True), id="at-limit"),
        pytest.param(3, Decision(False, "max_depth"), id="past-limit"),
    ],
)
def test_max_depth(depth: int, decision: Decision) -> None:
    """URLs further than ``max_depth`` links from a seed are skipped."""
    scope = CrawlRules(seeds=("https://example.com/",), max_depth=2)
    assert scope.allows("https://example.com/deep", depth) == decision


def test_max_depth_zero_is_seeds_only() -> None:
    """``max_depth=0`` crawls the seeds and nothing they link to."""
    scope = CrawlRules(seeds=("https://example.com/",), max_depth=0)
    assert scope.allows("https://example.com/", 0).allowed
    assert scope.allows("https://example.com/a", 1) == Decision(False, "max_depth")


def test_calendar_trap_bounded_by_depth() -> None:
    """An endless chain of 'next month' links stops at the depth bound."""
    scope = CrawlRules(seeds=("https://example.com/cal",), max_depth=5)
    followed = [m for m in range(1000) if scope.allows(f"https://example.com/cal?m={m}", m).allowed]
    assert followed == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("mailto:a@example.com", id="mailto"),
        pytest.param("not a url", id="junk"),
        pytest.param("", id="empty"),
    ],
)
def test_invalid_urls(url: str) -> None:
    """A URL that is not http(s) is skipped as ``invalid_url``."""
    assert CrawlRules(seeds=("https://example.com/",)).allows(url, 1) == Decision(
        False, "invalid_url"
    )


def test_decision_unpacks() -> None:
    """A decision unpacks as ``(allowed, reason)``."""
    allowed, reason = CrawlRules(seeds=("https://example.com/",)).allows("https://other.org/", 1)
    assert (allowed, reason) == (False, "out_of_scope")


@pytest.mark.parametrize(
    ("content_type", "parsed"),
    [
        pytest.param("text/html", True, id="html"),
        pytest.param("text/html; charset=utf-8", True, id="html-charset"),
        pytest.param("TEXT/HTML", True, id="upper"),
        pytest.param("application/xhtml+xml", True, id="xhtml"),
        pytest.param("application/json", False, id="json"),
        pytest.param("image/png", False, id="image"),
        pytest.param(None, False, id="none"),
    ],
)
def test_content_types(content_type: str | None, parsed: bool) -> None:
    """Only HTML and XHTML are parsed for links by default."""
    assert CrawlRules(seeds=("https://example.com/",)).parses(content_type) is parsed


def test_content_types_configurable() -> None:
    """The parsed types can be set; lists are kept as tuples."""
    scope = CrawlRules(seeds=["https://example.com/"], content_types=["text/plain"])  # type: ignore[arg-type]
    assert scope.parses("text/plain; charset=utf-8")
    assert not scope.parses("text/html")
    assert scope.content_types == ("text/plain",)
    assert scope.seeds == ("https://example.com/",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"seeds": ()}, "at least one seed", id="no-seeds"),
        pytest.param({"seeds": ("ftp://x/",)}, "seed 'ftp://x/': bad scheme", id="bad-seed"),
        pytest.param({"kind": "site"}, "scope kind must be", id="bad-kind"),
        pytest.param({"include": ("(",)}, "include pattern '\\('", id="bad-include"),
        pytest.param({"exclude": ("[a",)}, "exclude pattern '\\[a'", id="bad-exclude"),
        pytest.param({"max_depth": -1}, "max_depth must be 0 or more", id="negative-depth"),
    ],
)
def test_bad_scope(kwargs: dict[str, object], message: str) -> None:
    """Rules that cannot work raise ``BadScope`` (a ``ValueError``) saying which."""
    arguments: dict[str, object] = {"seeds": ("https://example.com/",), **kwargs}
    with pytest.raises(BadScope, match=message) as info:
        CrawlRules(**arguments)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_scope_pickles() -> None:
    """A scope crosses to a worker process intact, derived rules included."""
    scope = CrawlRules(seeds=("https://a.example.co.uk/",), kind="domain", exclude=("/x",))
    copy = pickle.loads(pickle.dumps(scope))
    assert copy == scope
    assert copy.allows("https://b.example.co.uk/", 1) == Decision(True)
    assert copy.allows("https://b.example.co.uk/x", 1) == Decision(False, "excluded")


def test_public_suffix_list_never_touches_the_network() -> None:
    """Domain scope works with every socket refused: the list is the bundled snapshot."""
    code = (
        "import socket\n"
        "def refuse(*args, **kwargs):\n"
        "    raise AssertionError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from corral.http.web._rules import CrawlRules\n"
        "scope = CrawlRules(seeds=('https://a.example.co.uk/',), kind='domain')\n"
        "assert scope.allows('https://b.example.co.uk/', 1).allowed\n"
        "import sys\n"
        "assert 'requests' not in sys.modules and 'publicsuffixlist.update' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
