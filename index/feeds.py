"""RSS and Atom feeds as article records (``feedparser``): one record per entry.

An entry's text is its full content when the feed carries it (``content:encoded``, Atom
``<content>``), else its summary; either is HTML, turned into plain paragraphs here and
cleaned by the loader like every other text. Dates come from the entry's published or
updated time; the source is the feed's link host, as for any record with a url.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import feedparser
import lxml.html

# Elements after which a line break belongs, so paragraphs stay paragraphs.
_BLOCKS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section", "article")


@dataclass(frozen=True)
class Entry:
    """One record found in a feed or archive: the fields, or why there are none.

    Attributes:
        number: 1-based position of the entry (or archive record) in its file.
        record: loader fields (``id``, ``title``, ``text``, ``url``, ``date``, ``author``,
            ``source``), or None when the entry was skipped.
        problem: why it was skipped ("" when it was not).
    """

    number: int
    record: dict[str, Any] | None
    problem: str = ""


def html_text(fragment: str) -> str:
    """Plain text of an HTML fragment, a line break after each block element."""
    if "<" not in fragment:
        return fragment.strip()
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return ""
    for el in root.iter(*_BLOCKS):
        el.tail = "\n\n" + (el.tail or "")
    for el in root.iter("script", "style"):
        el.drop_tree()
    return root.text_content().strip()


def _date(entry: Any) -> date | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
    return None


def read_feed(raw: bytes) -> tuple[list[Entry], str]:
    """The entries of an RSS or Atom document.

    Returns:
        The entries, and "" or the reason the whole file is not a feed (then no entries).
    """
    parsed = feedparser.parse(raw)
    version = parsed.get("version") or ""
    if not version and not parsed.entries:
        why = parsed.get("bozo_exception")
        return [], "not an RSS or Atom feed" + (f" ({why})" if why else "")
    entries = []
    for number, e in enumerate(parsed.entries, 1):
        contents = [c.get("value", "") for c in e.get("content", []) if c.get("value")]
        body = max(contents, key=len) if contents else e.get("summary", "")
        text = html_text(body)
        if not text:
            entries.append(Entry(number, None, "entry has no text (no content or summary)"))
            continue
        entries.append(Entry(number, {
            "id": e.get("id") or e.get("link") or None,
            "title": html_text(e.get("title", "")),
            "text": text,
            "url": e.get("link", ""),
            "date": _date(e),
            "author": e.get("author", ""),
            "source": "",
        }))
    return entries, ""
