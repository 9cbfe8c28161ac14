"""What the offline answerer read for one question: its candidate sentences, each scored by
the hand-set rule. The records sit below every answer module (answer, reader, choice,
conflicts, query), so they all read one shape and none imports another for it."""

from __future__ import annotations

from dataclasses import dataclass

from rag.cite import Evidence
from rag.records import Passage

# Weights of the sentence score; lexical coverage is the stronger signal for names and numbers.
LEXICAL_WEIGHT = 0.6
DENSE_WEIGHT = 0.4
# Weight of "the sentence holds the kind of thing asked for" (a number for "how many"...).
TYPE_WEIGHT = 0.2


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate sentence: question coverage in the sentence (``lexical``) and in what was
    read of its article (``article``), embedding similarity, and whether it holds the kind
    of answer asked for."""

    evidence: Evidence
    lexical: float
    dense: float
    article: float = 1.0
    typed: bool = True
    numbers: bool = True

    @property
    def score(self) -> float:
        base = (1 - TYPE_WEIGHT) * (LEXICAL_WEIGHT * self.lexical + DENSE_WEIGHT * self.dense)
        return base + (TYPE_WEIGHT if self.typed else 0.0)

    @property
    def support(self) -> float:
        """How well the evidence backs an answer: a question term missing from the whole
        article (a year, a name, a number asked about) weakens every sentence of it, and an
        article without a number the question names (``IDEF 2019``, ``86 kg``) backs nothing."""
        return self.score * self.article**0.5 if self.numbers else 0.0

@dataclass(frozen=True)
class Reading:
    """What the answerer read for one question: the passages (``read``: the top ``n_top``
    retrieved, then context), every candidate sentence scored by the hand-set rule (best
    first; ``evidence.passage`` indexes ``read``) and the query's term weights."""

    question: str
    query: str
    read: list[Passage]
    n_top: int
    scored: list[ScoredSentence]
    weights: dict[str, float]
