"""The offline answerer: picks the retrieved sentences that best answer the question.

Each sentence of the top passages is scored by how much of the question it covers
(IDF-weighted term overlap, with the headline as context) and by its embedding similarity
to the question. The best sentences become the answer, each followed by its [n] marker.
When even the best evidence covers too little of the question, the answer abstains:
the decision rests on the passages, never on the question's wording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from index.chunk import sentence_spans
from index.embed import Embedder
from index.tokenize import terms
from rag.cite import Evidence, number_citations
from rag.config import Config
from rag.records import Answer, Passage

ABSTAIN_TEXT = (
    "I could not find an answer to that in this collection. The closest passages are listed "
    "as sources, but none of them supports an answer."
)
# Weights of the sentence score; lexical coverage is the stronger signal for names and numbers.
LEXICAL_WEIGHT = 0.6
DENSE_WEIGHT = 0.4
# Headline terms count at this weight: a headline sets the topic but is not the answer.
TITLE_WEIGHT = 0.5
# A sentence shorter than this many characters rarely answers anything ("Read more.").
MIN_SENTENCE_CHARS = 25


@dataclass(frozen=True)
class ScoredSentence:
    evidence: Evidence
    lexical: float
    dense: float

    @property
    def score(self) -> float:
        return LEXICAL_WEIGHT * self.lexical + DENSE_WEIGHT * self.dense


def coverage(query_weights: dict[str, float], found: dict[str, float]) -> float:
    """Share of the query's term weight present in ``found`` (term -> 0..1 presence weight)."""
    total = sum(query_weights.values())
    if total <= 0:
        return 0.0
    return sum(w * found.get(t, 0.0) for t, w in query_weights.items()) / total


class ExtractiveAnswerer:
    """Builds cited answers from passages without a language model.

    Args:
        embedder: the collection's embedding model (for sentence similarity).
        idf: term -> inverse document frequency in the collection.
        config: ``answer_passages``, ``answer_sentences`` and ``min_support`` are used.
    """

    def __init__(self, embedder: Embedder, idf: Callable[[str], float], config: Config) -> None:
        self.embedder = embedder
        self.idf = idf
        self.config = config

    def query_weights(self, query: str) -> dict[str, float]:
        return {t: self.idf(t) for t in set(terms(query))}

    def score_sentences(self, query: str, passages: list[Passage]) -> list[ScoredSentence]:
        """Every usable sentence of the top passages, scored against ``query``."""
        weights = self.query_weights(query)
        candidates: list[tuple[Evidence, float]] = []
        for i, p in enumerate(passages[: self.config.answer_passages]):
            title_terms = {t: TITLE_WEIGHT for t in terms(p.title)}
            for s, e in sentence_spans(p.text):
                text = p.text[s:e]
                if len(text) < MIN_SENTENCE_CHARS:
                    continue
                found = dict(title_terms)
                found.update({t: 1.0 for t in terms(text)})
                ev = Evidence(passage=i, start=p.start + s, end=p.start + e, text=text, score=0.0)
                candidates.append((ev, coverage(weights, found)))
        if not candidates:
            return []
        vectors = self.embedder.embed([query] + [ev.text for ev, _ in candidates])
        sims = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
        return [ScoredSentence(ev, lex, float(sim)) for (ev, lex), sim in zip(candidates, sims)]

    def run(self, question: str, passages: list[Passage], *, query: str | None = None) -> Answer:
        """Answer ``question`` from ``passages`` (best first); ``query`` is the standalone search."""
        query = query or question
        scored = sorted(self.score_sentences(query, passages), key=lambda s: -s.score)
        if not scored or scored[0].score < self.config.min_support:
            return Answer(question=question, text=ABSTAIN_TEXT, passages=passages, abstained=True, query=query)
        best = scored[0].score
        chosen = [scored[0]]
        for s in scored[1:]:
            if len(chosen) >= self.config.answer_sentences:
                break
            # A second sentence must be nearly as good and not restate the first.
            if s.score >= 0.85 * best and all(_overlap(s.evidence.text, c.evidence.text) < 0.6 for c in chosen):
                chosen.append(s)
        chosen.sort(key=lambda s: (s.evidence.passage, s.evidence.start))
        evidence = [Evidence(s.evidence.passage, s.evidence.start, s.evidence.end, s.evidence.text, s.score)
                    for s in chosen]
        numbers, citations = number_citations(evidence, passages)
        text = " ".join(f"{ev.text} [{numbers[ev.passage]}]" for ev in evidence)
        return Answer(question=question, text=text, citations=citations, passages=passages, query=query)


def _overlap(a: str, b: str) -> float:
    ta, tb = set(terms(a)), set(terms(b))
    return len(ta & tb) / max(1, min(len(ta), len(tb)))
