"""Evaluation metrics: pure, keyword-only functions, each returning a float.

Retrieval metrics work at article level, after LlamaIndex's ``RetrieverEvaluator`` and
Haystack's document evaluators: ``retrieved`` is the article id of each retrieved passage,
best first (an article may appear more than once); the top ``k`` passages are cut and the
*distinct* article ids among them, in rank order of their first passage, form the ranking
that is scored. ``relevant`` is the set of article ids that answer the question; it must
not be empty (the metrics are undefined without it, so callers skip such questions).

Answer metrics compare texts after :func:`normalize_answer` (SQuAD-style, made
insensitive to diacritics), taking the best match over the expected answer and its aliases.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Collection, Sequence

import numpy as np

# English articles are dropped before comparing, as in the SQuAD evaluation script.
ARTICLES = frozenset({"a", "an", "the"})
# Letters that NFKD does not split into base letter + diacritic.
_UNSPLIT = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ı": "i", "ß": "ss", "æ": "ae", "œ": "oe"})


def _check(relevant: Collection[str], k: int) -> None:
    if not relevant:
        raise ValueError("relevant must hold at least one article id")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def top_k_articles(*, retrieved: Sequence[str], k: int) -> list[str]:
    """Distinct article ids among the first ``k`` retrieved passages, in rank order.

    Example: ``retrieved=["a", "a", "b", "c"], k=3`` gives ``["a", "b"]``.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return list(dict.fromkeys(retrieved[:k]))


def hit_at_k(*, retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 when at least one relevant article is among the top ``k`` passages, else 0.0.

    Raises:
        ValueError: ``relevant`` is empty or ``k`` < 1.
    """
    _check(relevant, k)
    return float(any(a in relevant for a in top_k_articles(retrieved=retrieved, k=k)))


def recall_at_k(*, retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant articles found among the top ``k`` passages:
    ``|relevant ∩ top-k articles| / |relevant|``.

    Raises:
        ValueError: ``relevant`` is empty or ``k`` < 1.
    """
    _check(relevant, k)
    wanted = set(relevant)
    return len(wanted.intersection(top_k_articles(retrieved=retrieved, k=k))) / len(wanted)


def mrr_at_k(*, retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Reciprocal rank ``1/r`` of the first relevant article, ``r`` counted in the distinct-article
    ranking of the top ``k`` passages; 0.0 when none is there.

    Raises:
        ValueError: ``relevant`` is empty or ``k`` < 1.
    """
    _check(relevant, k)
    for rank, article in enumerate(top_k_articles(retrieved=retrieved, k=k), start=1):
        if article in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(*, retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Normalised discounted cumulative gain with binary relevance.

    ``DCG = sum(1 / log2(r + 1))`` over the ranks ``r`` of relevant articles in the distinct-article
    ranking of the top ``k`` passages; ``IDCG`` is the same sum for a ranking that puts
    ``min(|relevant|, k)`` relevant articles first. The result ``DCG / IDCG`` is in [0, 1].

    Raises:
        ValueError: ``relevant`` is empty or ``k`` < 1.
    """
    _check(relevant, k)
    dcg = sum(1.0 / math.log2(r + 1)
              for r, a in enumerate(top_k_articles(retrieved=retrieved, k=k), start=1) if a in relevant)
    idcg = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(set(relevant)), k) + 1))
    return dcg / idcg


def _stories(retrieved: Sequence[str], copies: Sequence[Collection[str]], k: int) -> list[set[str]]:
    """For each distinct article among the first ``k`` passages, in rank order: the article ids it
    stands for (itself and its story group's other copies)."""
    if len(copies) != len(retrieved):
        raise ValueError(f"need one copies entry per retrieved passage, got {len(copies)} for {len(retrieved)}")
    first = {}
    for article, others in zip(retrieved[:k], copies[:k]):
        first.setdefault(article, {article, *others})
    return list(first.values())


def story_recall_at_k(*, retrieved: Sequence[str], copies: Sequence[Collection[str]], relevant: Collection[str],
                      k: int) -> float:
    """Like :func:`recall_at_k`, but a relevant article counts as found when it or a copy of it
    (another article of its story group, ``copies[i]`` for passage ``i``) is among the top ``k``,
    so showing one copy of a story for all of them is not penalised.

    Raises:
        ValueError: ``relevant`` is empty, ``k`` < 1, or ``copies`` and ``retrieved`` differ in length.
    """
    _check(relevant, k)
    shown = set().union(*_stories(retrieved, copies, k))
    wanted = set(relevant)
    return len(wanted & shown) / len(wanted)


def story_mrr_at_k(*, retrieved: Sequence[str], copies: Sequence[Collection[str]], relevant: Collection[str],
                   k: int) -> float:
    """Like :func:`mrr_at_k`, with an article relevant when it or one of its copies is.

    Raises:
        ValueError: as :func:`story_recall_at_k`.
    """
    _check(relevant, k)
    for rank, story in enumerate(_stories(retrieved, copies, k), start=1):
        if story & set(relevant):
            return 1.0 / rank
    return 0.0


def copy_slots_at_k(*, retrieved: Sequence[str], copies: Sequence[Collection[str]], k: int) -> float:
    """How many of the distinct articles among the top ``k`` passages are a copy of an article
    ranked above them (same story group): slots another story could have had.

    Raises:
        ValueError: ``k`` < 1, or ``copies`` and ``retrieved`` differ in length.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    seen: set[str] = set()
    slots = 0
    for story in _stories(retrieved, copies, k):
        slots += bool(story & seen)
        seen |= story
    return float(slots)


def normalize_answer(text: str) -> str:
    """Lowercase, strip diacritics, turn punctuation and symbols into spaces, drop the
    articles "a", "an", "the", and collapse whitespace.

    Punctuation becomes a space rather than vanishing so that "Hasanov's" still contains
    "hasanov"; both sides of a comparison are normalised alike ("U.S." -> "u s").

    Example: ``normalize_answer("The Görgün-led SSB!")`` gives ``"gorgun led ssb"``.
    """
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_UNSPLIT))
    kept = "".join(
        " " if unicodedata.category(ch)[0] in "PSZ" else ch
        for ch in decomposed if not unicodedata.combining(ch)
    )
    return " ".join(t for t in kept.split() if t not in ARTICLES)


def _answers(answers: Sequence[str]) -> list[str]:
    if isinstance(answers, str) or not answers:
        raise ValueError(f"answers must be a non-empty list of strings, got {answers!r}")
    return [n for n in (normalize_answer(a) for a in answers) if n]


def _contains(text: str, answer: str) -> bool:
    """``answer`` occurs in ``text`` as whole tokens (both normalised): "44" is not in "1944"."""
    return f" {answer} " in f" {text} "


def answer_in_context(*, answers: Sequence[str], contexts: Sequence[str], k: int) -> float:
    """1.0 when an expected answer or alias occurs (normalised, as whole tokens) in one of the
    first ``k`` contexts, else 0.0. A context is a passage's title and text.

    Raises:
        ValueError: ``answers`` is empty or ``k`` < 1.
    """
    wanted = _answers(answers)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    texts = [normalize_answer(c) for c in contexts[:k]]
    return float(any(_contains(t, a) for t in texts for a in wanted))


def answer_accuracy(*, prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals or contains (as whole tokens) the normalised
    expected answer or one of its aliases, else 0.0.

    Containment is what makes the metric fit extractive answers, which quote a whole sentence.

    Raises:
        ValueError: ``answers`` is empty.
    """
    text = normalize_answer(prediction)
    return float(any(_contains(text, a) for a in _answers(answers)))


def answer_f1(*, prediction: str, answers: Sequence[str]) -> float:
    """Token F1 between the normalised prediction and an answer, maximised over the answer and
    its aliases: with ``c`` tokens in common (counted with multiplicity),
    ``precision = c / len(prediction)``, ``recall = c / len(answer)``, ``F1 = 2PR / (P + R)``.

    F1 punishes long answers: a correct sentence scores below 1.0.

    Raises:
        ValueError: ``answers`` is empty.
    """
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for answer in _answers(answers):
        expected = answer.split()
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common:
            precision, recall = common / len(predicted), common / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def citation_precision(*, cited: Sequence[str], answers: Sequence[str]) -> float:
    """Share of citations whose text contains (normalised, as whole tokens) an expected answer or
    alias. ``cited`` holds one text per citation: its quote, or its passage when it has no quote.

    Raises:
        ValueError: ``cited`` or ``answers`` is empty (precision of no citations is undefined).
    """
    wanted = _answers(answers)
    if not cited:
        raise ValueError("cited must hold at least one citation text")
    texts = [normalize_answer(c) for c in cited]
    return sum(any(_contains(t, a) for a in wanted) for t in texts) / len(texts)


def shows_sides(*, text: str, sides: Sequence[str]) -> float:
    """1.0 when ``text`` names every one of ``sides`` (normalised, as whole tokens): an answer
    about reports that differ shows both, else 0.0.

    Raises:
        ValueError: fewer than two sides.
    """
    wanted = _answers(sides)
    if len(wanted) < 2:
        raise ValueError("sides must hold at least two values")
    normal = normalize_answer(text)
    return float(all(_contains(normal, side) for side in wanted))


def percentile(*, values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values``, interpolating linearly between the two
    nearest ranks (numpy's default method): the p50 of ``[1, 2, 3, 4]`` is 2.5.

    Raises:
        ValueError: ``values`` is empty or ``q`` is outside [0, 100].
    """
    if len(values) == 0:
        raise ValueError("values must not be empty")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q!r}")
    return float(np.percentile(np.asarray(values, dtype=float), q))
