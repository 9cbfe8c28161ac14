"""Multiple choice: the evidence the passages read hold for each option, and how it is weighed.

``Assistant.choose`` reads the retrieved passages once and tallies, per option:

- **hand votes**: each sentence naming the option votes for it, weighted by how much of the
  question the sentence (with its headline) covers and by the passage's rank;
- **reader votes**: each sentence the trained reader scores votes with the reader's belief
  that it answers the question (softmax over the candidates);
- **spread**: how many of the articles read, and of their headlines, name the option;
- **hypotheses**: the question searched with each choice (BM25): do the passages found name
  it, how early, and does the sentence naming it cover the question.

Without a trained chooser (a reader folder may have none) the hand and reader votes count
alike. With one (``chooser.txt`` in the reader folder, fit by ``newsdesk train-reader`` on the
training split's options), a LightGBM ranker weighs every column of :data:`OPTION_FEATURES`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from index.chunk import sentence_spans
from index.tokenize import terms
from rag.cite import Evidence
from rag.coverage import coverage
from rag.question import understand
from rag.reading import Reading, ScoredSentence
from rag.records import Passage

# The chooser's inputs, in order (the reader manifest stores this list: a mismatch is refused).
OPTION_FEATURES = (
    "hand", "hand_raw", "hand_rank", "reader", "reader_best", "reader_rank", "articles", "titles",
    "first_rank", "sentences", "presence", "shared", "in_question", "negated", "option_terms",
    "numeric", "rarity", "options", "hyp_named", "hyp_first", "hyp_score", "hyp_share", "hyp_coverage",
)
HYPOTHESIS_HITS = 10  # passages of the question-with-choice search read per choice


def mentions(text: str, sent_terms: set[str], lowered: Sequence[str],
             choice_terms: Sequence[set[str]]) -> Iterator[tuple[int, float]]:
    """(choice index, presence) for each choice ``text`` names: 1.0 for the whole phrase, 0.7
    when only all its terms are there."""
    low = text.lower()
    for i, (phrase, cterms) in enumerate(zip(lowered, choice_terms)):
        if phrase in low:
            yield i, 1.0
        elif cterms and cterms <= sent_terms:
            yield i, 0.7


def _matchers(choices: Sequence[str]) -> tuple[list[str], list[set[str]]]:
    """What :func:`mentions` looks for per choice: its lower-cased phrase and its terms."""
    return [c.lower().strip() for c in choices], [set(terms(c)) for c in choices]


@dataclass
class Tally:
    """What the passages read say about each option (one entry per option, in order)."""

    choices: list[str]
    hand: list[float]
    hand_evidence: list[Evidence | None]
    reader: list[float] | None = None  # None: no reader
    reader_best: list[float] = field(default_factory=list)
    reader_evidence: list[Evidence | None] = field(default_factory=list)
    articles: list[float] = field(default_factory=list)  # share of the articles read naming it
    titles: list[float] = field(default_factory=list)
    first_rank: list[int] = field(default_factory=list)
    sentences: list[int] = field(default_factory=list)
    presence: list[float] = field(default_factory=list)
    shared: list[float] = field(default_factory=list)  # other options named beside it, on average
    # From a search of the question with each choice (None: not searched).
    hyp_named: list[float] | None = None  # share of its passages naming the choice
    hyp_first: list[int] | None = None  # rank of the first one naming it
    hyp_score: list[float] | None = None  # that passage's search score
    hyp_coverage: list[float] | None = None  # best question coverage of a sentence naming it

    def evidence(self, i: int) -> Evidence | None:
        """The sentence to cite for option ``i``: the reader's best, else the hand-set best."""
        if self.reader_evidence and self.reader_evidence[i] is not None:
            return self.reader_evidence[i]
        return self.hand_evidence[i]

    def mixed(self) -> list[float]:
        """The hand-set shares and the reader's, averaged (the hand-set ones alone without a reader)."""
        hand = _shares(self.hand)
        if self.reader is None or sum(self.reader) <= 0:
            return hand
        return [(h + r) / 2 for h, r in zip(hand, _shares(self.reader))]


def _shares(values: Sequence[float]) -> list[float]:
    total = sum(values)
    return [v / total for v in values] if total > 0 else [1.0 / len(values)] * len(values)


def tally(question: str, choices: Sequence[str], passages: Sequence[Passage], read: Sequence[Passage],
          idf: Callable[[str], float]) -> Tally:
    """The hand votes and the spread of each option over ``read`` (``passages``, the retrieved
    ones best first, then more passages of their articles, read at their article's rank)."""
    rank_of: dict[str, int] = {}
    for i, p in enumerate(passages):
        rank_of.setdefault(p.article_id, i)
    weights = {t: idf(t) for t in set(terms(question))}
    lowered, choice_terms = _matchers(choices)
    n = len(choices)
    votes = [0.0] * n
    best: list[tuple[float, Evidence | None]] = [(0.0, None)] * n
    named_in: list[set[str]] = [set() for _ in range(n)]
    titled_in: list[set[str]] = [set() for _ in range(n)]
    first = [len(passages)] * n
    count = [0] * n
    presence = [0.0] * n
    beside = [0] * n
    for pos, p in enumerate(read):
        rank = pos if pos < len(passages) else rank_of[p.article_id]
        head_terms = set(terms(p.title))
        for i, _ in mentions(p.title, head_terms, lowered, choice_terms):
            titled_in[i].add(p.article_id)
            named_in[i].add(p.article_id)
        head = {t: 0.5 for t in head_terms}
        for s, e in sentence_spans(p.text):
            text = p.text[s:e]
            sent_terms = set(terms(text))
            cov = coverage(weights, {**head, **{t: 1.0 for t in sent_terms}})
            named = list(mentions(text, sent_terms, lowered, choice_terms))
            for i, pres in named:
                vote = pres * (0.2 + cov) / (rank + 2)
                votes[i] += vote
                if vote > best[i][0]:
                    best[i] = (vote, Evidence(pos, p.start + s, p.start + e, text, vote))
                named_in[i].add(p.article_id)
                first[i] = min(first[i], rank)
                count[i] += 1
                presence[i] = max(presence[i], pres)
                beside[i] += len(named) - 1
    n_articles = max(1, len({p.article_id for p in read}))
    return Tally(
        choices=list(choices), hand=votes, hand_evidence=[ev for _, ev in best],
        articles=[len(a) / n_articles for a in named_in], titles=[len(a) / n_articles for a in titled_in],
        first_rank=first, sentences=count, presence=presence,
        shared=[b / c if c else 0.0 for b, c in zip(beside, count)],
    )


def add_reader_votes(t: Tally, reading: Reading, ranked: list[ScoredSentence], values: list[float],
                     n_passages: int) -> Tally:
    """``t`` with the reader's votes: each sentence it ranked votes for the options it names,
    weighted by its belief (``exp`` of the score less the best). ``reading.read`` is the top
    passages then the context; ``n_passages`` maps them back to positions in what was read."""
    lowered, choice_terms = _matchers(t.choices)
    n = len(t.choices)
    votes = [0.0] * n
    best: list[tuple[float, Evidence | None]] = [(0.0, None)] * n
    if values:
        belief = np.exp(np.asarray(values) - values[0])
        for s, b in zip(ranked, belief):
            j = s.evidence.passage
            pos = j if j < reading.n_top else n_passages + j - reading.n_top
            for i, pres in mentions(s.evidence.text, set(terms(s.evidence.text)), lowered, choice_terms):
                votes[i] += pres * float(b)
                if pres * b > best[i][0]:
                    best[i] = (pres * float(b), replace(s.evidence, passage=pos, score=float(b)))
    return replace(t, reader=votes, reader_best=[b for b, _ in best], reader_evidence=[ev for _, ev in best])


def add_hypotheses(t: Tally, question: str, found: Sequence[Sequence[Passage]], idf: Callable[[str], float]) -> Tally:
    """``t`` with what the search of the question with each choice (``found[i]``, best first)
    says: whether those passages name the choice, how early, and how much of the question
    the sentence naming it covers."""
    weights = {x: idf(x) for x in set(terms(question))}
    lowered, choice_terms = _matchers(t.choices)
    named, first, score, cover = [], [], [], []
    for i, passages in enumerate(found):
        phrase, cterms = lowered[i:i + 1], choice_terms[i:i + 1]  # this choice alone
        hits, best_cov, first_i, score_i = 0, 0.0, HYPOTHESIS_HITS, 0.0
        for rank, p in enumerate(passages):
            head_terms = set(terms(p.title))
            names = any(mentions(p.title, head_terms, phrase, cterms))
            head = {x: 0.5 for x in head_terms}
            for s, e in sentence_spans(p.text):
                text = p.text[s:e]
                sent_terms = set(terms(text))
                if any(mentions(text, sent_terms, phrase, cterms)):
                    names = True
                    best_cov = max(best_cov, coverage(weights, {**head, **{x: 1.0 for x in sent_terms}}))
            if names:
                hits += 1
                if rank < first_i:
                    first_i, score_i = rank, p.score
        named.append(hits / HYPOTHESIS_HITS)
        first.append(first_i)
        score.append(score_i)
        cover.append(best_cov)
    return replace(t, hyp_named=named, hyp_first=first, hyp_score=score, hyp_coverage=cover)


def option_features(question: str, t: Tally, idf: Callable[[str], float]) -> np.ndarray:
    """One row per option, the columns of :data:`OPTION_FEATURES` (NaN where there is no reader)."""
    n = len(t.choices)
    hand = _shares(t.hand)
    reader = _shares(t.reader) if t.reader is not None and sum(t.reader) > 0 else [np.nan] * n
    question_terms = set(terms(question))
    negated = float(understand(question).negated)
    out = np.full((n, len(OPTION_FEATURES)), np.nan, dtype=np.float32)
    hand_rank = _ranks(t.hand)
    reader_rank = _ranks(t.reader) if t.reader is not None else [np.nan] * n
    for i, choice in enumerate(t.choices):
        cterms = set(terms(choice))
        out[i] = (
            hand[i], t.hand[i], hand_rank[i], reader[i],
            t.reader_best[i] if t.reader_best else np.nan, reader_rank[i],
            t.articles[i], t.titles[i], t.first_rank[i], t.sentences[i], t.presence[i], t.shared[i],
            len(cterms & question_terms) / len(cterms) if cterms else 0.0, negated, len(cterms),
            float(any(ch.isdigit() for ch in choice)),
            float(np.mean([idf(x) for x in cterms])) if cterms else 0.0, n,
            *_hypothesis_columns(t, i),
        )
    return out


def _hypothesis_columns(t: Tally, i: int) -> tuple[float, ...]:
    if t.hyp_named is None:
        return (np.nan,) * 5
    top = max(t.hyp_score) if t.hyp_score else 0.0
    return (t.hyp_named[i], t.hyp_first[i], t.hyp_score[i], t.hyp_score[i] / top if top > 0 else 0.0,
            t.hyp_coverage[i])


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: -values[i])
    rank = [0.0] * len(values)
    for r, i in enumerate(order):
        rank[i] = float(r)
    return rank
