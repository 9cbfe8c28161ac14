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


# Joins the pieces of one article that are cited from passages far apart (text and quote alike).
GAP = " … "


def _runs(passages: list[Passage]) -> list[tuple[int, str]]:
    """The article text the passages hold, as (start, text) runs: passages that overlap or touch
    are joined into one run; runs are in article order."""
    runs: list[tuple[int, str]] = []
    for start, text in sorted((p.start, p.text) for p in passages):
        if runs and start <= runs[-1][0] + len(runs[-1][1]):
            s0, t0 = runs[-1]
            runs[-1] = (s0, t0 + text[s0 + len(t0) - start:])
        else:
            runs.append((start, text))
    return runs


def article_citation(number: int, passages: list[Passage], quotes: list[Evidence]) -> Citation:
    """One citation for everything cited from one article (``passages`` all of it).

    The quote runs from the first cited sentence to the last. When they lie in passages that do
    not touch, the pieces (of the passage text and of the quote alike) are joined with :data:`GAP`;
    ``quote_start``/``quote_end`` still span first to last in the article."""
    p = passages[0]
    runs = _runs(passages)
    pieces = []  # (run start, run text, quote start, quote end, sentences) for each run quoted from
    for start, text in runs:
        inside = [q for q in quotes if start <= q.start and q.end <= start + len(text)]
        if inside:
            pieces.append((start, text, min(q.start for q in inside), max(q.end for q in inside), inside))
    for q in quotes:  # a sentence no passage holds whole is shown as itself
        if not any(start <= q.start and q.end <= start + len(text) for start, text in runs):
            pieces.append((q.start, q.text, q.start, q.end, [q]))
    pieces.sort(key=lambda piece: piece[0])
    quote = GAP.join(cited[0].text if len(cited) == 1 else text[s - start:e - start]
                     for start, text, s, e, cited in pieces)
    return Citation(
        number=number, article_id=p.article_id, title=p.title, url=p.url, source=p.source, date=p.date,
        quote=quote, score=round(max(q.score for q in quotes), 4), quote_start=pieces[0][2], quote_end=pieces[-1][3],
        passage_text=GAP.join(text for _, text, *_ in pieces), passage_start=pieces[0][0], also=p.also,
    )


def number_citations(evidence: list[Evidence], passages: list[Passage]) -> tuple[dict[int, int], list[Citation]]:
    """Give each cited article a number in order of first use.

    Returns a map passage index -> citation number, and the citations (one per article: chunks
    of one article share its number and its card). A citation quotes every sentence cited from
    its article: from the start of the first to the end of the last (see :func:`article_citation`),
    so the quote shown holds each fact its marker stands for.
    """
    numbers: dict[int, int] = {}
    by_article: dict[str, int] = {}
    cited: dict[int, tuple[list[Passage], list[Evidence]]] = {}
    for ev in evidence:
        p = passages[ev.passage]
        number = by_article.setdefault(p.article_id, len(by_article) + 1)
        numbers[ev.passage] = number
        shown, quotes = cited.setdefault(number, ([], []))
        if p not in shown:
            shown.append(p)
        quotes.append(ev)
    citations = [article_citation(n, shown, quotes) for n, (shown, quotes) in cited.items()]
    return numbers, citations


def with_sentence(citation: Citation, passage: Passage, ev: Evidence) -> Citation:
    """``citation`` (of ``passage``'s article) also quoting ``ev``, a sentence of ``passage``: one
    card for the article, its number kept. A citation already joined from pieces far apart keeps
    its quote (its pieces' offsets are not known again) and only lends its number."""
    if citation.quote_start <= ev.start and ev.end <= citation.quote_end:
        return citation
    if citation.quote_end - citation.quote_start != len(citation.quote) and GAP in citation.quote:
        return citation
    own = Passage(article_id=citation.article_id, title=citation.title, url=citation.url, source=citation.source,
                  date=citation.date, text=citation.passage_text, start=citation.passage_start,
                  end=citation.passage_start + len(citation.passage_text), score=0.0, also=citation.also)
    quoted = Evidence(passage=0, start=citation.quote_start, end=citation.quote_end, text=citation.quote,
                      score=citation.score)
    return article_citation(citation.number, [own, passage], [quoted, ev])
