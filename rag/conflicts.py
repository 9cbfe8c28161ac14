"""Reports that differ: when the best-supported answers from different articles disagree on
the value asked for (a number, a date, a name), the answer says so and shows each side.

The input is what the answerer already has: the question, its candidate sentences ranked
best first (by the trained reader when there is one) with their scores, and the bar a second
sentence must reach to join the answer. The rule is strict on purpose, since a false "reports
differ" on an ordinary question is worse than a missed one:

1. The asked value's type comes from the question (:func:`rag.question.understand`): only
   ``number``, ``date`` and ``name`` questions are compared.
2. A side is what the reader found in one report: the article's best-ranked sentence that holds
   a value of the asked type, however far below the answer's lead it ranks (a report's lead
   often restates the question without the value). Its article backs an answer (some sentence of
   it read has hand-set support at least ``min_support``), and its own words cover at least
   :data:`OWN_SHARE` of what the best-covering such sentence's cover.
3. From each side's sentence, the value of the asked type that is not in the question: the one
   whose unit is a question word, else the one nearest the question's words (numbers: digits or
   number words with currency, per cent and scale; dates: day and month; names: runs of
   capitalised words, full names first).
4. The answer's article is compared with each other article (both dated, at most
   :data:`MAX_DAYS` apart): the values differ when neither article mentions the other's value
   anywhere in what was read; numbers with different units are not compared, and names only
   when both are full names. A later article of the same
   source or story group, or one whose sentence itself holds the earlier value ("rose from 23 to
   31"), is an ``update``; different sources are a ``conflict``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from index.tokenize import STOPWORDS, terms
from rag.cite import with_sentence
from rag.coverage import coverage
from rag.question import Question, understand
from rag.reading import ScoredSentence
from rag.records import Answer, Citation, Disagreement, Passage, Report

OWN_SHARE = 0.6  # a side's sentence covers at least this share of the question terms the best one covers
MAX_DAYS = 45  # articles further apart are other events (a yearly fair, last season's final)
MAX_REPORTS = 3  # sides shown: the answer's and up to two more values

_WORD_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "bn": 1e9, "trillion": 1e12}
_MONTHS = {m: i for i, m in enumerate(
    "january february march april may june july august september october november december".split(), 1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())} | {"sept": 9})
_CALENDAR = frozenset(_MONTHS) | frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_NUMBER = re.compile(
    r"(?<![\w.,-])(?P<cur>[€£$]\s?)?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|"
    + "|".join(_WORD_NUMBERS) + r")(?![\w]|[.,]\d|-\d)(?P<pct>\s?%|\s(?:per\s?cent|percent)\b)?"
    r"(?P<scale>\s(?:thousand|million|billion|bn|trillion)\b)?", re.I)
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE = re.compile(rf"\b(?:(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m1>{_MONTH_NAMES})\b\.?|"
                   rf"(?P<m2>{_MONTH_NAMES})\.?\s+(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\b(?!,?\s*\d{{3}}\b))", re.I)
_NAME = re.compile(r"[A-ZÀ-ÞŁŠŽČ][\w'’-]*(?:\s+(?:&\s+)?[A-ZÀ-ÞŁŠŽČ][\w'’-]*)*")
_LOWER_WORD = re.compile(r"(?<![\w'’-])[a-z][\w'’-]*")
_TOKEN = re.compile(r"[\w'’&-]+")
_NEXT_WORD = re.compile(r"[\s-]+([A-Za-zÀ-ž]+)")
# Capitalised words that are not the name asked for: days and months, and the titles and ranks
# news puts before a name ("Colonel General Hasanov", "Prime Minister").
_NOT_NAMES = _CALENDAR | frozenset(
    "mr mrs ms dr prof sir dame president vice prime minister deputy secretary general colonel major captain "
    "lieutenant admiral commander chairman chairwoman chair chief executive director governor mayor senator "
    "king queen prince princess pope judge coach".split())
# Units a length or a duration is given in ("how long", "how deep"), stemmed.
_MEASURES = frozenset(terms("metre metres meter meters kilometre kilometres kilometer km m cm mm mile miles feet foot "
                            "inch inches yard yards light-years second seconds minute minutes hour hours day days "
                            "week weeks month months year years"))


@dataclass(frozen=True)
class Value:
    """A value found in a sentence: as written, its comparison key, its unit word and how near it
    is to the question's words (in tokens)."""

    text: str
    key: tuple
    unit: str | None
    distance: int
    weight: int = 0  # a full name, or a unit the question names, comes first


@dataclass(frozen=True)
class Side:
    """One report: the sentence (``evidence.passage`` indexes ``read``), its passage and value."""

    sentence: ScoredSentence
    passage: Passage
    value: Value


@dataclass(frozen=True)
class Found:
    """A disagreement before it is cited: its kind and its sides, oldest first."""

    kind: str
    sides: tuple[Side, ...]


def _positions(sentence: str, question_terms: set[str]) -> list[int]:
    """Token positions in ``sentence`` of the question's terms."""
    return [i for i, m in enumerate(_TOKEN.finditer(sentence)) if set(terms(m.group())) & question_terms]


def _token_index(sentence: str, offset: int) -> int:
    return sum(1 for m in _TOKEN.finditer(sentence) if m.start() < offset)


def _near(sentence: str, start: int, end: int, where: list[int]) -> int:
    first, last = _token_index(sentence, start), max(_token_index(sentence, start), _token_index(sentence, end) - 1)
    return min((0 if first <= p <= last else min(abs(p - first), abs(p - last)) for p in where), default=99)


def number_key(m: re.Match[str]) -> tuple:
    raw = m.group("num").lower()
    value = float(_WORD_NUMBERS[raw]) if raw in _WORD_NUMBERS else float(raw.replace(",", ""))
    scale = (m.group("scale") or "").strip().lower()
    return ((m.group("cur") or "").strip(), bool(m.group("pct")), value * _SCALES.get(scale, 1.0))


def numbers(text: str) -> list[re.Match[str]]:
    """Number mentions of ``text`` that are quantities: not years, not days of a date, not scores."""
    out = []
    for m in _NUMBER.finditer(text):
        raw = m.group("num")
        if re.fullmatch(r"1[5-9]\d\d|20\d\d", raw) and not (m.group("cur") or m.group("pct") or m.group("scale")):
            continue  # a year
        before = text[max(0, m.start() - 12):m.start()].lower().split()
        after = _NEXT_WORD.match(text, m.end())
        if (before and before[-1].strip(".,") in _MONTHS) or (after and after.group(1).lower() in _MONTHS):
            continue  # the day of a date
        out.append(m)
    return out


def _unit(sentence: str, m: re.Match[str]) -> str | None:
    """What a number counts: its currency, "%", or the word after it (stemmed), else None."""
    if m.group("cur"):
        return m.group("cur").strip()
    if m.group("pct"):
        return "%"
    after = _NEXT_WORD.match(sentence, m.end())
    word = after.group(1).lower() if after else ""
    return (terms(word) or [None])[0] if word and word not in STOPWORDS else None


def _number_weight(asked: Question, sentence: str, m: re.Match[str], unit: str | None) -> int | None:
    """How well a number fits what the question asks (higher first), None when it cannot be
    the answer: "how many miners" counts miners, "how deep" is a length, "how much" is money first."""
    if asked.amount == "count":
        noun = asked.counted
        if unit == noun or (unit is None and noun in terms(sentence)):
            return 1
        return None
    if asked.amount == "measure":
        return 1 if unit in _MEASURES else None
    if asked.amount == "money":
        return 1 if (m.group("cur") or m.group("pct") or m.group("scale")) else 0
    return int(unit is not None and unit in set(terms(asked.text)))


def _values(kind: str, sentence: str, question: str, lower: frozenset[str] = frozenset(), *,
            understood: Question | None = None) -> list[Value]:
    """Values of the asked ``kind`` in ``sentence`` that the question does not give, best first.
    ``lower``: words seen in lower case in what was read; a sentence's first word among them is
    an ordinary word ("Unlike Truss", "Staff Steve Barclay"), not part of a name. ``understood``:
    the question read once (:func:`rag.question.understand`; read here when not given)."""
    understood = understood or understand(question)
    q_terms = set(terms(question))
    where = _positions(sentence, q_terms)
    found: list[Value] = []
    if kind == "number":
        asked = {number_key(m) for m in numbers(question)}
        for m in numbers(sentence):
            key = number_key(m)
            unit = _unit(sentence, m)
            weight = _number_weight(understood, sentence, m, unit)
            if key in asked or weight is None:
                continue
            text = m.group(0).strip()
            text = text.lower() if m.group("num").lower() in _WORD_NUMBERS else text
            found.append(Value(text, key, unit, _near(sentence, m.start(), m.end(), where), weight))
    elif kind == "date":
        asked = {_date_key(m) for m in _DATE.finditer(question)}
        for m in _DATE.finditer(sentence):
            key = _date_key(m)
            if key in asked:
                continue
            found.append(Value(m.group(0).strip(" ."), key, None, _near(sentence, m.start(), m.end(), where)))
    elif kind == "name":
        question_words = {_bare(w).lower() for w in _TOKEN.findall(question)}
        for m in _NAME.finditer(sentence):
            words = [_bare(w) for w in m.group().split() if w != "&"]
            if m.start() == len(sentence) - len(sentence.lstrip(" \"“‘'(")) and words[0].lower() in lower:
                words = words[1:]
            # Sentence-initial function words ("The"), dates and the question's own names are not the answer.
            while words and (words[0].lower() in STOPWORDS or words[0].lower() in _NOT_NAMES
                             or words[0].lower() in question_words):
                words = words[1:]
            while words and (words[-1].lower() in _NOT_NAMES or words[-1].lower() in question_words):
                words = words[:-1]
            if not words or any(w.lower() in question_words or w.lower() in _NOT_NAMES for w in words):
                continue
            text = " ".join(words)
            start = sentence.find(text, m.start())
            found.append(Value(text, tuple(sorted(w.lower() for w in words)), None,
                               _near(sentence, start, start + len(text), where), int(len(words) >= 2)))
    return sorted(found, key=lambda v: (-v.weight, v.distance))


def _bare(word: str) -> str:
    """``word`` without a possessive ("Riga's" -> "Riga")."""
    return re.sub(r"['’]s$", "", word)


def mentions(kind: str, value: Value, text: str) -> bool:
    """Whether ``text`` mentions ``value`` anywhere (then its article does not contradict it)."""
    if kind == "number":
        return any(number_key(m) == value.key for m in _NUMBER.finditer(text))
    if kind == "date":
        return any(_date_key(m) == value.key for m in _DATE.finditer(text))
    words = {w.lower() for w in _TOKEN.findall(text)}
    return any(w in words for w in value.key)


def _date_key(m: re.Match[str]) -> tuple:
    day, month = (m.group("d1"), m.group("m1")) if m.group("d1") else (m.group("d2"), m.group("m2"))
    return (_MONTHS[month.lower().rstrip(".")], int(day))


def detect(question: str, ranked: Sequence[ScoredSentence], read: Sequence[Passage], *,
           weights: dict[str, float], min_support: float) -> Found | None:
    """The disagreement among what the reports of ``ranked`` (best first; ``evidence.passage``
    indexes ``read``) say, or None when they agree or nothing can be compared. ``weights`` are
    the query's term weights."""
    asked = understand(question)
    kind = asked.kind
    if kind not in ("number", "date", "name") or not ranked:
        return None
    own = [coverage(weights, dict.fromkeys(terms(s.evidence.text), 1.0)) for s in ranked]
    texts: dict[str, str] = {}
    for p in read:
        texts[p.article_id] = texts.get(p.article_id, p.title) + "\n" + p.text
    lower = frozenset(_LOWER_WORD.findall(" ".join(texts.values()))) if kind == "name" else frozenset()
    # What the reader found in each report: the article's best-ranked well-supported sentence
    # that holds a value of the asked type, however far below the answer's lead it ranks (a
    # report's lead often restates the question without the value).
    # A report counts when its article backs an answer: some sentence of it read holds
    # ``min_support`` (the value's own sentence may hold less: "Six people were injured").
    backed = {read[s.evidence.passage].article_id for s in ranked if s.support >= min_support}
    holding = [(s, cover, _values(kind, s.evidence.text, question, lower, understood=asked))
               for s, cover in zip(ranked, own) if read[s.evidence.passage].article_id in backed]
    holding = [(s, cover, found) for s, cover, found in holding if found]
    if not holding:
        return None
    best_own = max(cover for _, cover, _ in holding)
    firsts: dict[str, tuple[ScoredSentence, list[Value]]] = {}
    for s, cover, found in holding:
        article = read[s.evidence.passage].article_id
        if article not in firsts and cover >= OWN_SHARE * best_own:
            firsts[article] = (s, found)
    answer_article = read[ranked[0].evidence.passage].article_id
    if answer_article not in firsts:
        return None
    top_s, (top_v, *_) = firsts[answer_article]
    if kind == "name" and not top_v.weight:
        return None  # a lone capitalised word (a place, "Russian") is too weak a name to contradict
    top = Side(top_s, read[top_s.evidence.passage], top_v)
    sides, update = [top], True
    for article, (s, values) in firsts.items():
        if article == answer_article or len(sides) >= MAX_REPORTS:
            continue
        p = read[s.evidence.passage]
        if not _same_event(top.passage, p):
            continue
        for v in values:  # the sentence's first value comparable with the answer's
            if v.weight != top_v.weight or (v.unit and top_v.unit and v.unit != top_v.unit):
                continue
            if v.key == top_v.key or any(v.key == other.value.key for other in sides):
                break  # it agrees with a report already kept
            side = Side(s, p, v)
            earlier, later = sorted((top, side), key=lambda x: x.passage.date or date.min)
            # "Rose from 23 to 31": the later sentence holds both values, so it updates the earlier one.
            from_to = kind == "number" and later.passage.date != earlier.passage.date and mentions(
                kind, earlier.value, later.sentence.evidence.text)
            if not from_to and mentions(kind, top_v, texts[article]):
                break  # the article knows the answer's value: its own is another quantity
            if not from_to and mentions(kind, v, texts[answer_article]):
                continue  # a value both articles give (the other team, a place): not the one asked
            sides.append(side)
            update = update and (from_to or _same_story(earlier.passage, later.passage))
            break
    if len(sides) < 2:
        return None
    order = {id(x): i for i, x in enumerate(sides)}  # among reports of one day, the answer's first
    sides.sort(key=lambda x: (x.passage.date or date.min, order[id(x)]))
    return Found(kind="update" if update else "conflict", sides=tuple(sides))


def _same_event(a: Passage, b: Passage) -> bool:
    """Both reports dated, at most :data:`MAX_DAYS` apart: an undated page cannot be placed
    beside another report (it may be years older)."""
    return a.date is not None and b.date is not None and abs((a.date - b.date).days) <= MAX_DAYS


def _same_story(earlier: Passage, later: Passage) -> bool:
    """A later report of the same source, or of the same story group, updates an earlier one."""
    if earlier.date is None or later.date is None or later.date <= earlier.date:
        return False
    return (bool(earlier.source) and earlier.source == later.source) or earlier.article_id in {
        c.article_id for c in later.also}


def _day(d: date | None) -> str:
    return f"{d.day} {d:%b %Y}" if d else "undated"


def note(found: Found, numbers_: Sequence[int]) -> str:
    """The line the answer carries, each side with its ``[n]`` (``numbers_``, in side order)."""
    sides = list(zip(found.sides, numbers_))
    if found.kind == "conflict":
        parts = [f"{s.value.text} according to {s.passage.source or 'an unnamed source'} ({_day(s.passage.date)}) [{n}]"
                 for s, n in sides]
        return "Reports differ: " + "; ".join(parts) + "."
    first, last = found.sides[0].value, found.sides[-1].value
    verb = "changed"
    if found.kind == "update" and first.key and isinstance(first.key[-1], float) and len(first.key) == 3:
        verb = "rose" if last.key[-1] > first.key[-1] else "fell"
    steps = [f"{s.value.text} ({_day(s.passage.date)}) [{n}]" for s, n in sides[:-1]]
    s, n = sides[-1]
    sources = sorted({x.passage.source for x in found.sides if x.passage.source})
    by = f" according to {', '.join(sources)}" if sources else ""
    return f"Updated{by}: {verb} from " + " to ".join(steps) + f" to {s.value.text} by {_day(s.passage.date)} [{n}]."


def attach(answer: Answer, found: Found) -> Answer:
    """``answer`` with the disagreement: each side cited (an article the answer already cites
    keeps its number, its card quoting the side's sentence too), the note on a line after the text, and
    :attr:`Answer.disagreement` set."""
    citations = list(answer.citations)
    numbers_: list[int] = []
    for side in found.sides:
        ev = side.sentence.evidence
        at = next((i for i, c in enumerate(citations) if c.article_id == side.passage.article_id), None)
        if at is not None:  # the article's card quotes this sentence too: one card per article
            same = citations[at] = with_sentence(citations[at], side.passage, ev)
        else:
            p = side.passage
            same = Citation(number=len(citations) + 1, article_id=p.article_id, title=p.title, url=p.url,
                            source=p.source, date=p.date, quote=ev.text, score=round(side.sentence.score, 4),
                            quote_start=ev.start, quote_end=ev.end, passage_text=p.text, passage_start=p.start,
                            also=p.also)
            citations.append(same)
        numbers_.append(same.number)
    line = note(found, numbers_)
    reports = tuple(Report(value=s.value.text, citation=n, source=s.passage.source, date=s.passage.date,
                           article_id=s.passage.article_id, quote=s.sentence.evidence.text)
                    for s, n in zip(found.sides, numbers_))
    return replace(answer, text=f"{answer.text}\n{line}", citations=citations,
                   disagreement=Disagreement(kind=found.kind, reports=reports, note=line))
