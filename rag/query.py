"""Query processing: standalone follow-ups and date words relative to ``as_of``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

from index.tokenize import STOPWORDS
from rag.cite import strip_markers

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
