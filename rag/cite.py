"""Numbered citations: which passage each [n] marker points at, and the quoted sentence."""

from __future__ import annotations

from dataclasses import dataclass

from rag.records import Citation, Passage


@dataclass(frozen=True)
class Evidence:
    """One sentence of a retrieved passage, with its offsets in the article text."""

    passage: int  # index into the answer's passage list
    start: int
    end: int
    text: str
    score: float


def number_citations(evidence: list[Evidence], passages: list[Passage]) -> tuple[dict[int, int], list[Citation]]:
    """Give each cited passage a number in order of first use.

    Returns a map passage index -> citation number, and the citations (one per passage,
    quoting its first cited sentence).
    """
    numbers: dict[int, int] = {}
    citations: list[Citation] = []
    for ev in evidence:
        if ev.passage in numbers:
            continue
        numbers[ev.passage] = len(numbers) + 1
        p = passages[ev.passage]
        citations.append(Citation(
            number=numbers[ev.passage], article_id=p.article_id, title=p.title, url=p.url, source=p.source,
            date=p.date, quote=ev.text, score=round(ev.score, 4), quote_start=ev.start, quote_end=ev.end,
            passage_text=p.text, passage_start=p.start,
        ))
    return numbers, citations
