"""Query processing: follow-ups made standalone (when the evidence says they are follow-ups),
answers that do not repeat the last one, and date words relative to ``as_of``."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from index.tokenize import STOPWORDS, terms
from rag.cite import strip_markers
from rag.records import Passage

if TYPE_CHECKING:
    from rag.answer import Reading

# Words that point back at an earlier turn ("what did *they* discuss?").
_ANAPHORA = frozenset("they them their he him his she her it its that this those these there then".split())
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
# Short follow-ups ("and when?") carry too few words of their own to search with.
_FEW_CONTENT_WORDS = 2
# At most this many names are carried over from the previous answer (a long answer names many).
_ANSWER_NAMES = 4
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Þ][\w'’-]+|^[A-ZÀ-Þ][\w'’-]+(?=\s+[A-ZÀ-Þ])")

Turn = tuple[str, str]


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]


def needs_context(question: str) -> bool:
    """True when the question leans on an earlier turn: pronouns or too few words of its own."""
    words = [w.lower() for w in _WORD.findall(question)]
    return any(w in _ANAPHORA for w in words) or len(_content_words(question)) <= _FEW_CONTENT_WORDS


def _names(text: str) -> list[str]:
    """Capitalised words of ``text`` that do not open a sentence (names, places, organisations)."""
    return [m.group() for m in _NAME.finditer(text) if m.group().lower() not in STOPWORDS]


def condense(question: str, history: Sequence[Turn] | None) -> str:
    """A standalone search query for ``question`` given earlier (question, answer) turns.

    Without a language model, when the question needs context, the last answer's new names
    (at most four) and then the earlier questions' content words (most recent first) are
    appended; otherwise it stands as asked.
    """
    question = question.strip()
    if not history or not needs_context(question):
        return question
    own = {w.lower() for w in _content_words(question)}
    extra: list[str] = []
    turns = list(history)[-2:]
    # The last answer's new names (not already in its question) are what "he", "she", "it"
    # most often point at.
    asked = {w.lower() for w in _WORD.findall(turns[-1][0])}
    words = [w for w in _names(strip_markers(turns[-1][1])) if w.lower() not in asked][:_ANSWER_NAMES]
    for prev_q, _ in reversed(turns):
        words += _content_words(prev_q)
    for w in words:
        if w.lower() not in own and w.lower() not in {e.lower() for e in extra}:
            extra.append(w)
    return f"{question} {' '.join(extra)}".strip() if extra else question


# Topic change or follow-up is decided from what the two searches find, not from pronouns:
# "What did the ECB decide about its deposit rate?" after a question on IDEF has an "its" but
# is found by its own words, while the earlier turn's names would pull its search off topic.
# The rewrite is used only when its passages back the question this much better.
REWRITE_MARGIN = 0.15
# Terms the rewrite carried over from earlier turns count at this weight against the
# question's own: they say the passage is on the conversation's topic, not that it answers.
CARRIED_WEIGHT = 0.5
# When the question alone already lands on the conversation's topic (its best passage holds
# this share of the carried terms), the rewrite only focuses the same search: a tie is enough.
ON_TOPIC = 0.5
EVIDENCE_PASSAGES = 3  # the top passages of each search that are compared
HEADLINE_WEIGHT = 0.5  # a headline term counts half: it sets the topic, it is not the answer


def _share(weights: dict[str, float], found: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(w * found.get(t, 0.0) for t, w in weights.items()) / total if total > 0 else 0.0


def _best(question: str, rewrite: str, passages: Sequence[Passage],
          idf: Callable[[str], float]) -> tuple[float, float]:
    """(:func:`support`, the carried-term share of the passage that gives it)."""
    own = {t: idf(t) for t in set(terms(question))}
    carried = {t: idf(t) for t in set(terms(rewrite)) - own.keys()}
    # One IDF-weighted share over both, so a question's single generic word ("discuss") weighs
    # what it weighs, and a question of several rare ones ("ECB", "deposit") weighs more.
    weights = {**own, **{t: CARRIED_WEIGHT * w for t, w in carried.items()}}
    best = (0.0, 0.0)
    for p in passages[:EVIDENCE_PASSAGES]:
        found = {t: HEADLINE_WEIGHT for t in terms(p.title)}
        found.update({t: 1.0 for t in terms(p.text)})
        best = max(best, (_share(weights, found), _share(carried, found)))
    return best


def support(question: str, rewrite: str, passages: Sequence[Passage], idf: Callable[[str], float]) -> float:
    """How well the best of the top ``passages`` backs ``question``: the IDF-weighted share of
    the rewrite's terms it holds (headline terms at half weight), the terms ``rewrite`` carried
    over from earlier turns weighing :data:`CARRIED_WEIGHT` of the question's own."""
    return _best(question, rewrite, passages, idf)[0]


def resolve(question: str, history: Sequence[Turn] | None, search: Callable[[str], list[Passage]],
            idf: Callable[[str], float], *, rewrite: str | None = None) -> tuple[str, list[Passage]]:
    """The query to answer ``question`` with, and its passages (``search(query)``).

    With earlier turns, the question is searched as asked and as rewritten with the
    conversation's context (``rewrite``, default :func:`condense`); the rewrite is kept only
    when its passages back the question clearly better (:func:`support`, by
    :data:`REWRITE_MARGIN`), or at least as well when the question alone lands on the
    conversation's topic anyway (:data:`ON_TOPIC`). A question with no word of its own to
    search with ("and then?") takes the rewrite.
    """
    question = question.strip()
    rewrite = (condense(question, history) if rewrite is None else rewrite).strip() or question
    if not history or rewrite == question:
        return question, search(question)
    if not terms(question):
        return rewrite, search(rewrite)
    alone, with_context = search(question), search(rewrite)
    (asked, topic), (rewritten, _) = _best(question, rewrite, alone, idf), _best(question, rewrite, with_context, idf)
    if rewritten > asked + REWRITE_MARGIN or (topic >= ON_TOPIC and rewritten >= asked):
        return rewrite, with_context
    return question, alone


# A sentence whose terms are this much in the last answer already says what it said.
REPEAT_SHARE = 0.8


def unsaid(reading: Reading, said: Sequence[str], min_support: float) -> Reading:
    """``reading`` without the sentences the last answer already said (``said``: its texts):
    the other sentences of the same stories, when one of them still backs an answer
    (``min_support``); else unchanged, since a repeat is then the best answer there is. Only
    the same stories: a follow-up is about what was just said, not another article's news."""
    said_terms = set().union(*(terms(strip_markers(text)) for text in said)) if said else set()
    if not said_terms:
        return reading

    def repeats(text: str) -> bool:
        own = set(terms(text))
        return bool(own) and len(own & said_terms) >= REPEAT_SHARE * len(own)

    story = {reading.read[s.evidence.passage].article_id for s in reading.scored if repeats(s.evidence.text)}
    fresh = [s for s in reading.scored
             if reading.read[s.evidence.passage].article_id in story and not repeats(s.evidence.text)]
    if not story or not any(s.support >= min_support for s in fresh):
        return reading
    return replace(reading, scored=fresh)


_RELATIVE = [
    (re.compile(r"\btoday\b|\bthis morning\b|\btonight\b", re.I), 0, 0),
    (re.compile(r"\byesterday\b", re.I), 1, 1),
    (re.compile(r"\bthis week\b|\bthis past week\b|\bpast week\b|\bthese days\b", re.I), 7, 0),
    (re.compile(r"\blast week\b", re.I), 14, 0),
    (re.compile(r"\bthis month\b|\bpast month\b", re.I), 31, 0),
    (re.compile(r"\blast month\b", re.I), 62, 0),
    (re.compile(r"\bthis year\b|\bpast year\b", re.I), 366, 0),
]


def relative_window(question: str, as_of: date) -> tuple[date, date] | None:
    """The date range meant by "this week", "yesterday" and the like, relative to ``as_of``."""
    for pattern, back, until in _RELATIVE:
        if pattern.search(question):
            return as_of - timedelta(days=back), as_of - timedelta(days=until)
    return None
