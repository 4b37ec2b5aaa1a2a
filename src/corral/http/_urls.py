"""URLs: validation (http and https only), normalisation for deduplication, host keys.

Normalisation makes the forms of one URL that servers treat alike compare equal: scheme and
host lowercased, IDNA hosts in ASCII, default ports dropped, an empty path made ``/``, the
fragment dropped, percent-encoding made canonical by yarl. The query is kept as written:
reordering parameters would merge URLs that some servers treat differently.
"""

from __future__ import annotations

from yarl import URL

MAX_URL_LENGTH = 8192
_SCHEMES = frozenset({"http", "https"})


class BadURL(ValueError):
    """A URL corral will not fetch; the message says why in a few words."""


def parse(text: str) -> URL:
    """Return ``text`` as an absolute http(s) URL, normalised.

    Raises:
        BadURL: empty, too long, with control characters or spaces, not http(s), no host,
            or a bad port.
    """
    raw = text.strip()
    if not raw:
        raise BadURL("empty URL")
    if len(raw) > MAX_URL_LENGTH:
        raise BadURL(f"URL longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in raw):
        raise BadURL("control character or space in URL")
    try:
        url = URL(raw)
        if url.scheme.lower() not in _SCHEMES:
            raise BadURL(
                f"unsupported scheme {url.scheme!r}" if url.scheme else "no scheme (http/https)"
            )
        if not url.host:
            raise BadURL("no host")
        port = url.port  # raises on a non-numeric or out-of-range port
    except BadURL:
        raise
    except (ValueError, TypeError, UnicodeError) as exc:
        raise BadURL(f"malformed URL: {exc}") from None
    if port is None or not 0 < port < 65536:
        raise BadURL("bad port")
    return _normal(url)


def _normal(url: URL) -> URL:
    url = url.with_fragment(None)
    if not url.raw_path:
        url = url.with_path("/")
    # yarl lowercases scheme and host, encodes IDNA and drops default ports on build.
    return URL.build(
        scheme=url.scheme.lower(),
        user=url.raw_user,
        password=url.raw_password,
        host=url.raw_host or "",
        port=url.explicit_port if url.explicit_port != _default_port(url.scheme) else None,
        path=url.raw_path,
        query_string=url.raw_query_string,
        encoded=True,
    )


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80


def normalize(text: str) -> str:
    """Return the dedup key of a URL (its normalised form).

    Raises:
        BadURL: the URL is not fetchable (see ``parse``).
    """
    return str(parse(text))


def host_key(url: URL) -> str:
    """Return the politeness key of a URL: its host and non-default port."""
    host = url.raw_host or ""
    port = url.explicit_port
    return host if port is None else f"{host}:{port}"
