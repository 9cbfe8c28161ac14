"""Understand a question once: what kind of answer it asks for, whether it asks how a story
developed, the dates it names, and whether it leans on the conversation.

Every rule over question wording lives here, and the answer path reads the :class:`Question`
record instead of the words. Each rule reads the question's form (its opening words, "how
many", "since March"), never the topic of a particular question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from index.tokenize import STOPWORDS, terms

AnswerKind = Literal["date", "number", "name", "place"]
Intent = Literal["fact", "developments"]
Amount = Literal["count", "measure", "money"]

# What kind of answer a question asks for, read from its opening words. This steers which
# sentence is quoted; it never decides whether to abstain. "Which/what NOUN" asks for a name
# unless the noun is a date, a number or a place word (checked first).
_ANSWER_KINDS: list[tuple[AnswerKind, re.Pattern[str]]] = [
    ("date", re.compile(r"^\W*(when\b|(on|until|by|since) what (date|day)|what (date|day|year|month)|"
                        r"which (date|day|year|month))", re.I)),
    ("number", re.compile(r"\bhow (many|much|far|long|large|big|tall|old|high|fast|deep)\b|"
                          r"\bwhat (percentage|share|proportion|temperature|level|score|price|rate|amount|"
                          r"sum|figure|number)\b|\bby how much\b", re.I)),
    ("name", re.compile(r"^\W*(who|whom|whose)\b|\b(which|what) (is the name|was the name|company|firm|team|"
                        r"club|person|official|minister|player|film|rocket|bank|party|group|university|"
                        r"species|ship|ferry|[a-z]+ (company|minister|official|team))\b|\bcalled\b|\bnamed\b",
                        re.I)),
    ("place", re.compile(r"^\W*where\b|\b(which|what) (city|country|town|region|venue|place|port|island)\b",
                         re.I)),
]
_WHO = re.compile(r"^\W*(who|whom|whose)\b", re.I)
_NEGATION = re.compile(r"\b(not|never|except|false|untrue|incorrect)\b|n['’]t\b", re.IGNORECASE)
# "How many miners" counts miners; "how deep" asks for a length or a duration; "how much" is
# money (or a share) first.
_HOW_MANY = re.compile(r"\bhow many ([a-z]+)", re.I)
_HOW_MEASURE = re.compile(r"\bhow (long|far|tall|high|deep)\b", re.I)
_HOW_MUCH = re.compile(r"\bhow much\b|\bby how much\b", re.I)

# Questions that ask how a story developed, read from their opening words.
_DEVELOPMENTS = re.compile(
    r"^\W*(what(?:'s| has| had)? happened\b|what (?:is|are) the latest\b|how (?:did|has|have|do|does) .{2,120}? "
    r"(?:end|ended|develop|developed|unfold|unfolded|evolve|evolved|progress|progressed|play out|played out|"
    r"turn out|turned out|go|gone)\b|(?:give me |show me )?(?:a |the )?timeline\b|what (?:are|were) the "
    r"(?:latest )?developments\b)",
    re.I,
)
# Words of a developments question, not of its story: left out of the terms a story must cover.
_QUESTION_WORDS = frozenset(terms(
    "happened happen latest developments development develop developed unfold unfolded evolve evolved "
    "progress progressed play played turn turned end ended ends timeline story news update updates since "
    "until recently recent far now go gone went"
))
_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTH_TERMS = frozenset(terms(" ".join(_MONTHS)) + terms("jan feb mar apr jun jul aug sep sept oct nov dec"))
_SINCE = re.compile(r"\bsince\s+(?:(?:early|mid|late)[\s-]+)?(?:(\d{1,2})(?:st|nd|rd|th)?\s+)?(" + "|".join(_MONTHS)
                    + r")?\s*(?:(\d{1,2})(?:st|nd|rd|th)?\b(?!\d))?,?\s*(\d{4})?\b", re.I)
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")

# Date words relative to the day the question is asked: (pattern, days back to the window's
# start, days back to its end).
_RELATIVE = [
    (re.compile(r"\btoday\b|\bthis morning\b|\btonight\b", re.I), 0, 0),
    (re.compile(r"\byesterday\b", re.I), 1, 1),
    (re.compile(r"\bthis week\b|\bthis past week\b|\bpast week\b|\bthese days\b", re.I), 7, 0),
    (re.compile(r"\blast week\b", re.I), 14, 0),
    (re.compile(r"\bthis month\b|\bpast month\b", re.I), 31, 0),
    (re.compile(r"\blast month\b", re.I), 62, 0),
    (re.compile(r"\bthis year\b|\bpast year\b", re.I), 366, 0),
]

# Words that point back at an earlier turn ("what did *they* discuss?").
_ANAPHORA = frozenset("they them their he him his she her it its that this those these there then".split())
WORD = re.compile(r"[\w'’-]+", re.UNICODE)
# Short follow-ups ("and when?") carry too few words of their own to search with.
_FEW_CONTENT_WORDS = 2


@dataclass(frozen=True)
class Question:
    """One question, read once.

    Attributes:
        text: the question as asked (stripped).
        kind: the kind of answer asked for (``date``, ``number``, ``name``, ``place``), or None.
        asks_who: it asks for a person ("who", "whom", "whose").
        amount: for a number, what kind: a ``count`` of ``counted``, a ``measure`` (length or
            duration) or ``money``; None when it does not say.
        counted: the stemmed noun of "how many NOUN".
        intent: ``developments`` when it asks how a story developed ("What happened with X?",
            "How did the strike end?"), else ``fact``.
        names_story: a developments question that names its story ("How did the strike end?")
            rather than leaning on the conversation ("How did it end?").
        since: the start date "since March" names (a month without a year is the latest not
            after ``as_of``), else None.
        year: the one year it names outside a "since" phrase, else None.
        window: the date range "this week", "yesterday" and the like mean, relative to ``as_of``.
        needs_context: it leans on an earlier turn (pronouns, or too few words of its own).
        negated: it asks what does *not* hold ("Which of these is not ...", "... except"), which
            turns a multiple choice's evidence around.
    """

    text: str
    kind: AnswerKind | None = None
    asks_who: bool = False
    amount: Amount | None = None
    counted: str | None = None
    intent: Intent = "fact"
    names_story: bool = False
    since: date | None = None
    year: int | None = None
    window: tuple[date, date] | None = None
    needs_context: bool = False
    negated: bool = False


def understand(text: str, as_of: date | None = None) -> Question:
    """The :class:`Question` record of ``text``; relative dates are read against ``as_of``
    (default today)."""
    text = text.strip()
    as_of = as_of or date.today()
    amount, counted = _amount(text)
    developments = bool(_DEVELOPMENTS.match(text))
    return Question(
        text=text, kind=answer_kind(text), asks_who=bool(_WHO.search(text)), amount=amount, counted=counted,
        intent="developments" if developments else "fact",
        names_story=developments and bool(story_terms(text)),
        since=_since(text, as_of), year=_year(text), window=_window(text, as_of),
        needs_context=needs_context(text), negated=bool(_NEGATION.search(text)),
    )


def answer_kind(text: str) -> AnswerKind | None:
    """``date``, ``number``, ``name``, ``place`` or None when the question does not say."""
    for kind, pattern in _ANSWER_KINDS:
        if pattern.search(text):
            return kind
    return None


def _amount(text: str) -> tuple[Amount | None, str | None]:
    counted = _HOW_MANY.search(text)
    if counted:
        return "count", (terms(counted.group(1)) or [""])[0]
    if _HOW_MEASURE.search(text):
        return "measure", None
    if _HOW_MUCH.search(text):
        return "money", None
    return None, None


def story_terms(text: str) -> list[str]:
    """The terms that name a developments question's story: its words without the question's
    own ("happened", "latest"), months, years and a "since" phrase."""
    text = _SINCE.sub(" ", text)  # "since March 10" is a date range, not part of the story
    return [t for t in terms(text) if t not in _QUESTION_WORDS and t not in _MONTH_TERMS
            and not re.fullmatch(r"(1[89]|20)\d\d", t)]


def story_names(text: str) -> list[str]:
    """The story terms written as names (capitalised: "Meridian Lines", "Tarnów"). A story's names
    are the words its articles share; its common words ("takeover", "sale") each article words
    its own way."""
    named = " ".join(w for w in WORD.findall(_SINCE.sub(" ", text)) if w[:1].isupper())
    return story_terms(named)


def _since(text: str, as_of: date) -> date | None:
    m = _SINCE.search(text)
    if not m:
        return None
    day_before, month_name, day_after, year = m.groups()
    if month_name is None:
        return date(int(year), 1, 1) if year else None
    month, day = _MONTHS[month_name.lower()], int(day_before or day_after or 1)
    year = int(year) if year else as_of.year - ((month, day) > (as_of.month, as_of.day))
    try:
        return date(year, month, day)
    except ValueError:  # "since February 30"
        return date(year, month, 1)


def _year(text: str) -> int | None:
    found = set(_YEAR.findall(_SINCE.sub(" ", text)))
    return int(found.pop()) if len(found) == 1 else None


def _window(text: str, as_of: date) -> tuple[date, date] | None:
    for pattern, back, until in _RELATIVE:
        if pattern.search(text):
            return as_of - timedelta(days=back), as_of - timedelta(days=until)
    return None


# Verbs a question asks with ("What did the paper write?", "How much work got done?"): they say
# what is asked about a topic, never which topic, so a follow-up does not carry them.
_ASKING_VERBS = frozenset(
    "get gets got gotten getting write writes wrote written writing say says said saying tell tells told "
    "report reports reported make makes made take takes took taken give gives gave given come comes came "
    "go goes went know knew known think thought see saw seen find found mean means meant call called "
    "happen happens happened look looks looked".split()
)


def topic_words(text: str) -> list[str]:
    """The content words of ``text`` that can name a topic: without the verbs questions ask with."""
    return [w for w in content_words(text) if w.lower() not in _ASKING_VERBS]


def content_words(text: str) -> list[str]:
    """The words of ``text`` that are not stopwords (nor single letters), as written."""
    return [w for w in WORD.findall(text) if w.lower() not in STOPWORDS and len(w) > 1]


def needs_context(text: str) -> bool:
    """True when the question leans on an earlier turn: pronouns or too few words of its own."""
    words = [w.lower() for w in WORD.findall(text)]
    return any(w in _ANAPHORA for w in words) or len(content_words(text)) <= _FEW_CONTENT_WORDS
