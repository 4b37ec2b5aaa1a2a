"""URLs: validation (http and https only), normalisation for deduplication, host keys.

One normal form serves fetch and crawl, so the same page found twice is one record.
Normalisation makes equal the spellings of one URL that every server treats alike:

- scheme and host lowercased, IDNA hosts in their ASCII (``xn--``) form;
- default ports dropped (``:80`` for http, ``:443`` for https);
- the fragment dropped (it never reaches the server);
- an empty path made ``/``; ``.`` and ``..`` segments resolved;
- percent-encoding made canonical: escapes upper-cased, unreserved characters decoded
  (``%7E`` is ``~``), characters that need it encoded (``a b`` is ``a%20b``).

The query is kept in its order: sorting parameters would merge URLs that some servers
answer differently (``docs/design.md``, "Crawl parsing"). yarl does the encoding work.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from yarl import URL

from corral.http._errors import BadURL as BadURL  # re-exported: callers catch it from here

# Browsers and servers commonly cap URLs at 8 KiB (nginx's large_client_header_buffers).
MAX_URL_LENGTH = 8192
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Host names after IDNA: letters, digits, hyphens, dots; underscores occur in the wild.
_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
_WHITESPACE = " \t\n\r\f\v\x00"
# The userinfo of a URL in any text: after "scheme://", up to the authority's last "@" (an
# unencoded "@" in a password happens; the host follows the last one, as browsers read it).
_USERINFO = re.compile(r"(?<=://)([^\s/?#\"'<>]*)@")


@dataclass(frozen=True, slots=True)
class InvalidURL:
    """Why a URL was refused.

    Attributes:
        reason: one line for the record, such as ``"bad scheme 'ftp' (http or https only)"``.
        kind: the record's ``error_kind``, always ``"invalid_url"``.
    """

    reason: str
    kind: ClassVar[str] = "invalid_url"


def validate(text: str) -> str | InvalidURL:
    """Return the normal form of ``text``, or why it is not a URL corral fetches.

    Args:
        text: a URL as the user or a page wrote it; surrounding whitespace is ignored.

    Returns:
        The normalised URL (a ``str``), or an ``InvalidURL`` whose ``reason`` says what is
        wrong: empty, too long, control characters, bytes that are not UTF-8, no scheme, bad
        scheme, no host, bad host, bad port.
    """
    try:
        return normalize(text)
    except BadURL as exc:
        return InvalidURL(str(exc))


def normalize(text: str) -> str:
    """Return the dedup key of a URL: its normal form as a string.

    Raises:
        BadURL: the URL is not one corral fetches (see ``validate`` for the reasons).
    """
    return _text(check(text))


def parse(text: str) -> URL:
    """Return ``text`` as an absolute http(s) URL, normalised.

    ``str(parse(text)) == normalize(text)``. Callers that only need the URL checked (and
    will normalise later) use the cheaper ``check``.

    Raises:
        BadURL: empty, too long, control characters, no or bad scheme, no or bad host, bad
            port.
    """
    return URL(_text(check(text)))


def check(text: str) -> URL:
    """Return ``text`` as an absolute http(s) URL, checked but written as given.

    The fragment, a default port and unnormalised escapes are still there; ``normalize_url``
    gives the normal form.

    Raises:
        BadURL: as ``parse``.
    """
    raw = text.strip(_WHITESPACE)
    if not raw:
        raise BadURL("empty URL")
    if len(raw) > MAX_URL_LENGTH:
        raise BadURL(f"URL longer than {MAX_URL_LENGTH} characters")
    if _CONTROL.search(raw):
        raise BadURL("control character in URL")
    if not raw.isascii() and (undecodable := not_utf8(raw)) is not None:
        raise BadURL(undecodable)  # (yarl would drop the byte: another URL)
    scheme = _SCHEME.match(raw)
    if scheme is None:
        raise BadURL("no scheme (http or https expected)")
    if scheme.group(1).lower() not in _DEFAULT_PORTS:
        raise BadURL(f"bad scheme {scheme.group(1)!r} (http or https only)")
    try:
        url = URL(raw)
        _check(url)
    except BadURL:
        raise
    except (ValueError, TypeError, UnicodeError) as exc:
        raise _why(exc) from None
    return url


def normalize_url(url: URL) -> str:
    """Return the normal form of an absolute URL already parsed by yarl.

    The engine and the link extractor call this on ``URL`` objects they built (after a
    redirect or a join) to skip parsing the text again.

    Raises:
        BadURL: not http(s), no or bad host, bad port, or too long once normalised.
    """
    try:
        _check(url)
    except BadURL:
        raise
    except (ValueError, TypeError, UnicodeError) as exc:
        raise _why(exc) from None
    return _text(url)


def host_key(url: URL | str) -> str:
    """Return the politeness key of a URL: its host and any non-default port, no scheme.

    ``http://Example.com/a`` and ``https://example.com:443/b`` share ``example.com``;
    ``http://example.com:8080/`` is ``example.com:8080``; IPv6 hosts keep their brackets.

    Raises:
        BadURL: ``url`` is a string that is not an http(s) URL.
    """
    if isinstance(url, str):
        url = check(url)
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    port = url.explicit_port
    if port is None or port == _DEFAULT_PORTS.get(url.scheme):
        return host
    return f"{host}:{port}"


def not_utf8(text: str) -> str | None:
    """Return why ``text`` holds bytes that are not UTF-8, or None if it holds none.

    Such bytes come through as surrogate escapes (U+DC80 to U+DCFF), as Python decodes
    argv and corral its input (``errors="surrogateescape"``).
    """
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        what = f"byte 0x{code - 0xDC00:02X}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        return f"not UTF-8 ({what} at character {exc.start + 1})"
    return None


def mask_credentials(text: str) -> str:
    """Return ``text`` with the password of each URL in it shown as ``***``.

    ``https://user:secret@host/`` becomes ``https://user:***@host/``; a userinfo without a
    password (often a token: ``https://TOKEN@host/``) becomes ``***``. An ``@`` in a path or
    a query is not userinfo and stays. Records show URLs this way; the request itself is
    made with the real credentials.
    """
    if "@" not in text:  # nearly every URL: one scan, no regex
        return text
    return _USERINFO.sub(_mask_userinfo, text)


# A header whose value is a credential: its name, or a word in it (``X-Api-Key``).
_SECRET_HEADER = re.compile(
    r"^(?P<head>(?:--header=)?\s*(?P<name>[!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*:)(?P<value>.*)$",
    re.DOTALL,
)
_SECRET_WORDS = re.compile(
    r"auth|cookie|token|secret|passw|session|key|credential|signature", re.IGNORECASE
)


def public_argv(argv: Sequence[str]) -> list[str]:
    """Return a command line as it may be kept or shown to others: each URL's password
    masked (a ``--redis`` URL's, a proxy's) and the value of each credential-like header
    (``Authorization: ...``, ``Cookie: ...``, ``X-Api-Key: ...``) shown as ``***``.

    A header is recognised by its ``NAME: value`` shape, whatever the option was spelled
    (``--header``, an abbreviation, ``--header=...``).
    """
    shown = []
    for arg in argv:
        if (found := _SECRET_HEADER.match(arg)) and _SECRET_WORDS.search(found["name"]):
            arg = f"{found['head']} ***"
        elif "://" in arg:
            arg = mask_credentials(arg)
        shown.append(arg)
    return shown


def _mask_userinfo(match: re.Match[str]) -> str:
    user, colon, _ = match.group(1).partition(":")
    return f"{user}:***@" if colon else "***@"


def _check(url: URL) -> None:
    if url.scheme not in _DEFAULT_PORTS:
        why = f"bad scheme {url.scheme!r} (http or https only)" if url.scheme else "no scheme"
        raise BadURL(why)
    host = url.raw_host
    if not host:
        raise BadURL("no host")
    problem = host_problem(host)
    if problem is not None:
        raise BadURL(problem)
    port = url.explicit_port
    if port is not None and not 0 < port < 65536:
        raise BadURL(f"bad port {port}")


def _text(url: URL) -> str:
    try:
        if url.raw_fragment:
            url = url.with_fragment(None)
        if url.explicit_port is not None and url.explicit_port == _DEFAULT_PORTS[url.scheme]:
            url = url.with_port(None)  # recent yarl drops it when printing; older ones did not
        text = str(url)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise _why(exc) from None
    # yarl writes an empty path as nothing when there is no query either: make it "/".
    if text.count("/") == 2:
        text += "/"
    if len(text) > MAX_URL_LENGTH:
        raise BadURL(f"URL longer than {MAX_URL_LENGTH} characters")
    return text


@functools.lru_cache(maxsize=4096)
def host_problem(host: str) -> str | None:
    """Return why ``host`` (as yarl stores it: lowercase, ASCII) is not valid, or None.

    Cached: a crawl checks the same few hosts for every link.
    """
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"bad host {host[:80]!r}"
        return None
    if len(host) > 253 or not _HOST.fullmatch(host):
        return f"bad host {host[:80]!r}"
    if any(len(label) > 63 for label in host.split(".")):
        return f"bad host {host[:80]!r} (label over 63 characters)"
    return None


def _why(exc: BaseException) -> BadURL:
    """Turn yarl's parse error into a reason a user can act on."""
    message = str(exc)
    if "port" in message.lower():
        return BadURL("bad port")
    if isinstance(exc, UnicodeError):
        return BadURL("bad host (IDNA)")
    return BadURL(f"malformed URL: {message[:120]}")
