"""Query processing: follow-ups made standalone (when the evidence says they are follow-ups),
answers that do not repeat the last one, and date words relative to ``as_of``."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from index.chunk import sentence_spans
from index.tokenize import STOPWORDS, terms
from rag.cite import strip_markers
from rag.coverage import coverage
from rag.question import WORD, content_words, needs_context, topic_words
from rag.reading import Reading
from rag.records import Passage

# At most this many names are carried over from the previous answer (a long answer names many).
_ANSWER_NAMES = 4
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Þ][\w'’-]+|^[A-ZÀ-Þ][\w'’-]+(?=\s+[A-ZÀ-Þ])")

Turn = tuple[str, str]


def _names(text: str) -> list[str]:
    """Capitalised words of ``text`` that do not open a sentence (names, places, organisations)."""
    return [m.group() for m in _NAME.finditer(text) if m.group().lower() not in STOPWORDS]


def condense(question: str, history: Sequence[Turn] | None) -> str:
    """A standalone search query for ``question`` given earlier (question, answer) turns.

    Without a language model, when the question needs context (:func:`needs_context`), it is
    :func:`with_context`; otherwise it stands as asked.
    """
    question = question.strip()
    if not history or not needs_context(question):
        return question
    return with_context(question, history)


def with_context(question: str, history: Sequence[Turn] | None) -> str:
    """``question`` with the conversation's context appended: the last answer's new names (at
    most four), then the last question's topic words (:func:`rag.question.topic_words`: not
    "write" or "got"), then those of the question before it unless the last question named a
    new subject of its own and the last turn left the earlier story."""
    question = question.strip()
    if not history:
        return question
    own = {w.lower() for w in content_words(question)}
    extra: list[str] = []
    turns = list(history)[-2:]
    # The last answer's new names (not already in its question) are what "he", "she", "it"
    # most often point at.
    asked = {w.lower() for w in WORD.findall(turns[-1][0])}
    last_q, last_a = turns[-1]
    words = [w for w in _names(strip_markers(last_a)) if w.lower() not in asked][:_ANSWER_NAMES]
    words += topic_words(last_q)
    if len(turns) > 1:
        # The story before the last turn is left behind when the last question named a subject
        # of its own ("What did Apple announce?" after a newspaper) and neither leaned on the
        # earlier story ("Who built it?") nor named it again.
        earlier = topic_words(turns[0][0])
        earlier_terms = set(terms(" ".join(earlier)))
        new_names = [n for n in _names(last_q) if not set(terms(n)) & earlier_terms]
        on_story = bool(set(terms(f"{last_q} {strip_markers(last_a)}")) & earlier_terms)
        if not new_names or needs_context(last_q) or on_story:
            words += earlier
    for w in words:
        if w.lower() not in own and w.lower() not in {e.lower() for e in extra}:
            extra.append(w)
    return f"{question} {' '.join(extra)}".strip() if extra else question


def resolve(question: str, history: Sequence[Turn] | None, search: Callable[[str], list[Passage]],
            decide: Callable[[str, list[Passage], list[Passage]], bool], *,
            rewrite: str | None = None) -> tuple[str, list[Passage]]:
    """The query to answer ``question`` with, and its passages (``search(query)``).

    With earlier turns, the question is searched as asked and as rewritten with the
    conversation's context (``rewrite``, default :func:`with_context`), whatever its words.
    ``decide(rewrite, as_asked, rewritten)`` (the trained decision, :mod:`rag.followup`) says
    from the two searches' passages whether the rewrite is kept: topic change or follow-up is
    decided from what the searches find, not from pronouns. A question with no word of its own
    to search with ("and then?") takes the rewrite.
    """
    question = question.strip()
    rewrite = (with_context(question, history) if rewrite is None else rewrite).strip() or question
    if not history or rewrite == question:
        return question, search(question)
    if not terms(question):
        return rewrite, search(rewrite)
    alone, with_context_found = search(question), search(rewrite)
    if not with_context_found or not alone:
        return (question, alone) if alone else (rewrite, with_context_found)
    return (rewrite, with_context_found) if decide(rewrite, alone, with_context_found) else (question, alone)


# A sentence and a sentence of the last answer say the same thing when they share this much
# of the shorter one's terms (the answer may have quoted only part of the sentence) and at
# least half of the longer one's (a short answer, "Haluk Görgün", repeats no sentence naming him).
REPEAT_SHARE = 0.8
REPEAT_LONGER = 0.5


def _sentence_terms(text: str) -> list[set[str]]:
    return [set(terms(text[s:e])) for s, e in sentence_spans(text)]


def _same(a: set[str], b: set[str]) -> bool:
    shared = len(a & b)
    return shared >= REPEAT_SHARE * min(len(a), len(b)) and shared >= REPEAT_LONGER * max(len(a), len(b))


def unsaid(reading: Reading, said: Sequence[str], min_support: float) -> Reading:
    """``reading`` without the sentences the last answer already said (``said``: its texts):
    the other sentences of the same stories, when one of them answers the new question as
    well: it backs an answer (``min_support``) and holds as much of the question's own words
    as the best repeat does. Else unchanged: "Which company developed it?" may be answered by
    the very sentence that was quoted, and a repeat is then the best answer there is. Only
    the same stories: a follow-up is about what was just said, not another article's news."""
    # Per sentence said: an answer may quote part of a sentence, or two sentences.
    said_sets = [found for text in said for found in _sentence_terms(strip_markers(text)) if found]
    if not said_sets:
        return reading

    def repeats(text: str) -> bool:
        own = set(terms(text))
        return bool(own) and any(_same(own, s) for s in said_sets)

    asked = {t: reading.weights.get(t, 0.0) for t in set(terms(reading.question))}

    def answers(text: str) -> float:  # the share of the question's own words the sentence holds
        return coverage(asked, dict.fromkeys(terms(text), 1.0))

    said_again = [s for s in reading.scored if repeats(s.evidence.text)]
    story = {reading.read[s.evidence.passage].article_id for s in said_again}
    fresh = [s for s in reading.scored
             if reading.read[s.evidence.passage].article_id in story and not repeats(s.evidence.text)]
    bar = max((answers(s.evidence.text) for s in said_again), default=0.0)
    if not any(s.support >= min_support and answers(s.evidence.text) >= bar for s in fresh):
        return reading
    return replace(reading, scored=fresh)
