"""Numbered citations: which passage each [n] marker points at, and the quoted sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.records import Citation, Passage

# "[3]", "[1, 2]", "[2-4]": the markers an answer cites passages with.
_MARKER = re.compile(r"\s*\[\s*\d+(?:\s*[,;–-]\s*\d+)*\s*\]")


def strip_markers(text: str) -> str:
    """``text`` without its [n] citation markers (a later turn no longer sees those passages)."""
    return _MARKER.sub("", text).strip()


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

    Returns a map passage index -> citation number, and the citations (one per passage). A
    citation quotes every sentence cited from its passage: from the start of the first to the
    end of the last, so the quote shown holds each fact its marker stands for.
    """
    numbers: dict[int, int] = {}
    spans: dict[int, list[Evidence]] = {}
    for ev in evidence:
        numbers.setdefault(ev.passage, len(numbers) + 1)
        spans.setdefault(ev.passage, []).append(ev)
    citations: list[Citation] = []
    for index, cited in spans.items():
        p = passages[index]
        start, end = min(ev.start for ev in cited), max(ev.end for ev in cited)
        quote = cited[0].text if len(cited) == 1 else p.text[start - p.start:end - p.start]
        citations.append(Citation(
            number=numbers[index], article_id=p.article_id, title=p.title, url=p.url, source=p.source,
            date=p.date, quote=quote, score=round(max(ev.score for ev in cited), 4), quote_start=start,
            quote_end=end, passage_text=p.text, passage_start=p.start, also=p.also,
        ))
    return numbers, citations
