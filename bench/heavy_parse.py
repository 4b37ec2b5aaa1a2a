"""The CPU-heavy ``--parse`` callback of ``bench/crawl_workers.py``: about 3 ms of Python a
page (chained SHA-256 of the body, then a word count), what an extraction with a slow HTML
library or some scoring costs. It returns one item a page, so the items are checked too."""

from __future__ import annotations

import hashlib
import re
from typing import Any

ROUNDS = 6000
_WORD = re.compile(rb"[a-z]+")


def parse(page: Any) -> dict[str, object]:
    """Return the page's digest after ``ROUNDS`` rounds and its most common word."""
    body: bytes = page.body or b""
    digest = body
    for _ in range(ROUNDS):
        digest = hashlib.sha256(digest).digest()
    counts: dict[bytes, int] = {}
    for word in _WORD.findall(body):
        counts[word] = counts.get(word, 0) + 1
    top = max(counts, key=counts.__getitem__, default=b"")
    return {"url": page.url, "digest": digest.hex()[:16], "top": top.decode()}
