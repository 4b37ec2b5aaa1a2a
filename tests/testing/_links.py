"""A small link extractor for the crawl-site tests (the standard library's HTML parser)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin


@dataclass
class Anchor:
    """One ``<a href>``: its href as written (entities decoded), its rel and its text."""

    href: str
    rel: str
    text: str = ""


@dataclass
class Links:
    """What a page links to."""

    anchors: list[Anchor] = field(default_factory=list)
    link_rels: dict[str, str] = field(default_factory=dict)  # rel -> href of <link>
    base: str | None = None

    def by_text(self) -> dict[str, str]:
        """Return each anchor's href keyed by its text."""
        return {anchor.text: anchor.href for anchor in self.anchors}

    def followable(self, page_url: str) -> list[str]:
        """Return absolute, fragment-free http(s) URLs of anchors not marked nofollow."""
        base = urljoin(page_url, self.base) if self.base else page_url
        found = []
        for anchor in self.anchors:
            if "nofollow" in anchor.rel.split():
                continue
            url = urldefrag(urljoin(base, anchor.href.strip())).url
            if url.startswith(("http://", "https://")):
                found.append(url)
        return found


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links = Links()
        self._open: Anchor | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "a" and "href" in values:
            self._open = Anchor(values["href"], values.get("rel", ""))
            self.links.anchors.append(self._open)
        elif tag == "link" and "rel" in values:
            self.links.link_rels[values["rel"]] = values.get("href", "")
        elif tag == "base" and self.links.base is None:
            self.links.base = values.get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.text += data


def extract(html: str) -> Links:
    """Return the links of an HTML document."""
    parser = _Parser()
    parser.feed(html)
    parser.close()
    return parser.links
