"""Typed records that flow out of retrieval and answering."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Literal


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


@dataclass(frozen=True)
class Copy:
    """Another article of a passage's story group: a syndicated copy or another version of it."""

    article_id: str
    title: str
    url: str
    source: str
    date: date | None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["date"] = _iso(self.date)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Copy:
        return cls(article_id=d["article_id"], title=d.get("title") or "", url=d.get("url") or "",
                   source=d.get("source") or "", date=date.fromisoformat(d["date"]) if d.get("date") else None)


def _with_copies(record) -> dict:  # noqa: ANN001 - a Passage, Citation or TimelineEntry
    """``record`` as a JSON-ready dict: its date in ISO form and its story copies as dicts."""
    d = asdict(record)
    d["date"] = _iso(record.date)
    d["also"] = [c.to_dict() for c in record.also]
    return d


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its article's metadata. ``text`` is ``article.text[start:end]``."""

    article_id: str
    title: str
    url: str
    source: str
    date: date | None
    text: str
    start: int
    end: int
    score: float
    chunk_id: str = ""
    also: tuple[Copy, ...] = ()  # the other articles of its story group, oldest first

    def to_dict(self) -> dict:
        return _with_copies(self)


@dataclass(frozen=True)
class Citation:
    """A numbered source behind an answer; ``quote`` is the supporting sentence.

    ``quote_start``/``quote_end`` are character offsets of the quote in the
    article text, so a UI can highlight it inside ``passage_text``. One citation stands for one
    article: sentences cited from its chunks far apart are joined by " … " in ``quote`` and
    ``passage_text`` alike (``rag.cite.GAP``), and the offsets then span first to last.
    """

    number: int
    article_id: str
    title: str
    url: str
    source: str
    date: date | None
    quote: str
    score: float
    quote_start: int = 0
    quote_end: int = 0
    passage_text: str = ""
    passage_start: int = 0
    also: tuple[Copy, ...] = ()  # the other articles of the cited article's story group

    def to_dict(self) -> dict:
        return _with_copies(self)


@dataclass(frozen=True)
class Report:
    """One side of a disagreement: the value a report gives, its source and date, and the
    citation ``[n]`` of the answer that quotes its sentence."""

    value: str
    citation: int
    source: str
    date: date | None
    article_id: str
    quote: str

    def to_dict(self) -> dict:
        d = asdict(self)
        d["date"] = _iso(self.date)
        return d


@dataclass(frozen=True)
class Disagreement:
    """Reports that differ on what was asked: ``conflict`` (different sources give different
    values) or ``update`` (a later report of the same source changed the value). ``reports``
    are oldest first; ``note`` is the line the answer text carries."""

    kind: Literal["conflict", "update"]
    reports: tuple[Report, ...]
    note: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "reports": [r.to_dict() for r in self.reports], "note": self.note}


@dataclass(frozen=True)
class Answer:
    """What ``Assistant.ask`` returns: the text with [n] markers and what backs it."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    abstained: bool = False
    warnings: list[str] = field(default_factory=list)
    query: str = ""
    backend: str = "extractive"
    support: float = 0.0  # how well the evidence backs the answer (0..1); low means abstain
    # Sentences of ``text`` the citation check rejected: shown as flagged, never with a source.
    flagged: list[str] = field(default_factory=list)
    disagreement: Disagreement | None = None  # reports that differ on the asked value, shown in ``text``

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "abstained": self.abstained,
            "warnings": list(self.warnings),
            "query": self.query,
            "backend": self.backend,
            "support": round(self.support, 4),
            "flagged": list(self.flagged),
            "disagreement": self.disagreement.to_dict() if self.disagreement else None,
        }


@dataclass(frozen=True)
class Choice:
    """What ``Assistant.choose`` returns for a multiple-choice question."""

    question: str
    choice: str
    scores: dict[str, float]
    citations: list[Citation] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "choice": self.choice,
            "scores": dict(self.scores),
            "citations": [c.to_dict() for c in self.citations],
        }


@dataclass(frozen=True)
class TimelineEntry:
    """One development of a story: its article, the day it happened and the sentence that carries it.

    ``start``/``end`` are the sentence's offsets in the article text (as a citation's quote);
    ``also`` lists the other copies of the article's story."""

    date: date
    article_id: str
    title: str
    url: str
    source: str
    sentence: str
    start: int
    end: int
    score: float  # how much of the story the article covers (0..1)
    passage_text: str = ""
    passage_start: int = 0
    also: tuple[Copy, ...] = ()
    published: date | None = None  # the article's date; ``date`` is the day the sentence's event happened

    def to_dict(self) -> dict:
        d = _with_copies(self)
        d["published"] = _iso(self.published)
        return d


@dataclass(frozen=True)
class Timeline:
    """What ``Assistant.timeline`` returns: a story's developments in date order."""

    query: str
    entries: list[TimelineEntry] = field(default_factory=list)
    undated: int = 0  # articles on the story left out because they carry no date
    warnings: list[str] = field(default_factory=list)  # what the filters did that the user should know

    def to_dict(self) -> dict:
        return {"query": self.query, "entries": [e.to_dict() for e in self.entries], "undated": self.undated,
                "warnings": list(self.warnings)}
