"""The HTML documents of the crawl pages: one small, valid page shape for all of them."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

_HTML = "text/html; charset=utf-8"


def links(hrefs: Iterable[tuple[str, str]]) -> str:
    """Return a ``<ul>`` of anchors from ``(href, text)`` pairs, written as given (unescaped)."""
    items = "".join(f'<li><a href="{href}">{text}</a></li>\n' for href, text in hrefs)
    return f"<ul>\n{items}</ul>\n"


def document(title: str, body: str, *, head: str = "") -> str:
    """Return a whole HTML page with ``title``, extra ``head`` markup and ``body`` markup."""
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n{head}</head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n"
    )


def html_response(text: str) -> web.Response:
    """Return a 200 with ``text`` as a UTF-8 HTML body."""
    return web.Response(body=text.encode(), headers={"Content-Type": _HTML})
