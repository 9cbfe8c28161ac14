"""Typed records that flow through ingestion and search: Article, Chunk, a search Hit and a
search engine's SyncReport."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date

from index.plural import plural


def content_hash(*parts: str) -> str:
    """Hex SHA-256 over the given strings, used to detect changed articles."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()


def stable_id(*, given: str | None = None, url: str | None = None, text: str = "") -> str:
    """The article id: the given id, else one derived from the url, else from the text."""
    if given is not None and str(given).strip():
        return str(given).strip()
    if url:
        return "u" + hashlib.sha1(url.strip().encode("utf-8")).hexdigest()[:15]
    return "t" + hashlib.sha1(text.strip().encode("utf-8", "surrogatepass")).hexdigest()[:15]


def _date_from(value: str | date | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Article:
    """One news article, cleaned and ready to chunk.

    ``content_hash`` covers every field that changes what is indexed, so an
    edited article (same id, new text or title) is re-chunked and re-embedded.
    """

    id: str
    title: str
    text: str
    url: str = ""
    source: str = ""
    date: date | None = None
    author: str = ""
    content_hash: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.content_hash:
            digest = content_hash(
                self.title, self.text, self.url, self.source,
                self.date.isoformat() if self.date else "", self.author,
            )
            object.__setattr__(self, "content_hash", digest)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["date"] = self.date.isoformat() if self.date else None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Article:
        return cls(
            id=d["id"], title=d.get("title") or "", text=d["text"],
            url=d.get("url") or "", source=d.get("source") or "",
            date=_date_from(d.get("date")), author=d.get("author") or "",
            content_hash=d.get("content_hash") or "",
        )


@dataclass(frozen=True)
class Chunk:
    """A span of one article: ``article.text[start:end] == text`` always holds."""

    id: str
    article_id: str
    text: str
    start: int
    end: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Chunk:
        return cls(id=d["id"], article_id=d["article_id"], text=d["text"], start=d["start"], end=d["end"])


@dataclass(frozen=True)
class Hit:
    """A chunk row of the loaded store and its retrieval score."""

    row: int
    score: float


@dataclass
class SyncReport:
    """What a backend changed to hold exactly the articles of an index version."""

    added: int = 0  # articles inserted (new or changed)
    removed: int = 0  # articles deleted (gone or changed)
    chunks: int = 0  # chunks inserted
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"Search engine updated: {plural(self.added, 'article')} added, {self.removed:,} removed "
                f"({plural(self.chunks, 'chunk')}) in {self.seconds:.1f} s")
