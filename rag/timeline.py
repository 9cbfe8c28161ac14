"""A story's timeline: its articles in date order, one cited line each.

"What happened with the port strike since March?" wants dated developments, not one
sentence. The story's articles are the retrieved ones that cover the story's terms (the
query without its question words and dates) nearly as well as the best one does; copies of
one story are already one article (story groups, :mod:`index.dedup`). From each article the
line kept is the sentence that carries its development: the one covering most of the story,
with news's lead first, and not a repeat of a line already kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from index.chunk import sentence_spans
from index.tokenize import terms
from rag.coverage import coverage
from rag.developments import checks_a_claim, event_day, is_claim_line
from rag.question import story_names, story_terms
from rag.records import Answer, Citation, Passage, Timeline, TimelineEntry

ON_STORY = 0.7  # an article is on the story when it covers this share of the best article's coverage
MIN_COVERAGE = 0.6  # ... and at least this share of the story's term weight
MIN_LINE_COVERAGE = 0.5  # and its line covers this share itself (a news roundup's lead is another story)
LEAD_BONUS = (0.3, 0.15, 0.05)  # news puts the development first: the first sentences are favoured
LEAD_SENTENCES = 2  # the headline and these first sentences say what a story is about
BODY_WEIGHT = 0.5  # a story term only further down the article counts at this weight
MAX_REPEAT = 0.6  # a line sharing this share of its terms with a line already kept is a repeat
MIN_LINE_CHARS = 40
ANSWER_ENTRIES = 6  # a timeline answer is a short list: the best-covered entries, in date order
MIN_ANSWER_ENTRIES = 2  # with fewer dated developments the question is answered as any other
CANDIDATES = 30  # passages retrieved to find a story's articles (one per story group)
COMMON_WORD_WEIGHT = 0.5  # beside a story's names, its common words count this much (articles reword them)


def story_weights(query: str, idf: Callable[[str], float]) -> dict[str, float]:
    """The story's terms (the query's, without question words, months and years) and their IDF.

    When the query names the story ("the Meridian Lines takeover"), its common words count at
    :data:`COMMON_WORD_WEIGHT`: one article says "takeover", the next "bought" or "sale", and a
    word no article uses must not push every article of the story below the bar. Without names
    (or with only names) the weights are in proportion as before."""
    names = set(story_names(query))
    return {t: idf(t) * (1.0 if not names or t in names else COMMON_WORD_WEIGHT)
            for t in set(story_terms(query) or terms(query))}


@dataclass(frozen=True)
class _Read:
    """What is read of one article: its passages (the matched one and its lead), best first."""

    passages: list[Passage]

    @property
    def first(self) -> Passage:
        return self.passages[0]


def build(query: str, passages: Sequence[Passage], context: Sequence[Passage], *,
          idf: Callable[[str], float], k: int) -> Timeline:
    """The timeline of ``query``'s story from the retrieved ``passages`` (best first, one per
    story group) and ``context`` (their articles' leads): at most ``k`` entries, in date order."""
    weights = story_weights(query, idf)
    read: dict[str, _Read] = {}
    for p in passages:
        read.setdefault(p.article_id, _Read([]))
        read[p.article_id].passages.append(p)
    for p in context:
        if p.article_id in read:
            read[p.article_id].passages.append(p)
    # A fact check reports a claim about the story, not a development of it.
    covered = {article_id: coverage(weights, _found(r)) for article_id, r in read.items()
               if not checks_a_claim(r.first.title, _lead(r))}
    best = max(covered.values(), default=0.0)
    on_story = [a for a, c in covered.items() if c >= max(MIN_COVERAGE, ON_STORY * best)]
    undated = sum(1 for a in on_story if read[a].first.date is None)
    dated = sorted((a for a in on_story if read[a].first.date is not None),
                   key=lambda a: (read[a].first.date, a))
    entries: list[TimelineEntry] = []
    kept_terms: list[set[str]] = []
    # The k best-covered articles make the timeline; each gives its development line in date order.
    chosen = set(sorted(dated, key=lambda a: -covered[a])[:k])
    for article_id in dated:
        if article_id not in chosen:
            continue
        line = _line(read[article_id], weights, kept_terms)
        if line is None:
            continue
        p, start, end, text, score = line
        kept_terms.append(set(terms(text)))
        entries.append(TimelineEntry(
            date=event_day(text, p.date), published=p.date, article_id=p.article_id, title=p.title, url=p.url,
            source=p.source, sentence=text,
            start=start, end=end, score=round(covered[article_id], 4), passage_text=p.text,
            passage_start=p.start, also=p.also,
        ))
    entries.sort(key=lambda e: (e.date, e.published, e.article_id))  # by the day each event happened
    return Timeline(query=query, entries=entries, undated=undated)


def _lead(r: _Read) -> str:
    """The article's opening text as read (its first chunk), where a fact check states its claim."""
    return next((p.text for p in r.passages if p.start == 0), "")


def _found(r: _Read) -> dict[str, float]:
    """Story-term presence in an article: full in its headline and lead, :data:`BODY_WEIGHT` below
    (an article that only mentions the story further down is about something else)."""
    found: dict[str, float] = {}
    for p in r.passages:
        spans = sentence_spans(p.text)
        for i, (s, e) in enumerate(spans):
            weight = 1.0 if p.start == 0 and i < LEAD_SENTENCES else BODY_WEIGHT
            for t in terms(p.text[s:e]):
                found[t] = max(found.get(t, 0.0), weight)
    found.update(dict.fromkeys(terms(r.first.title), 1.0))
    return found


def _line(r: _Read, weights: dict[str, float], kept: list[set[str]]) -> tuple | None:
    """The sentence of an article that carries its development: (passage, start, end, text, score)."""
    head = {t: 0.5 for t in terms(r.first.title)}
    best = None
    for p in sorted(r.passages, key=lambda p: p.start):
        for s, e in sentence_spans(p.text):
            text = p.text[s:e].strip()
            if len(text) < MIN_LINE_CHARS or is_claim_line(text):
                continue
            own = set(terms(text))
            if any(len(own & other) >= MAX_REPEAT * max(len(own), 1) for other in kept):
                continue
            if coverage(weights, dict.fromkeys(own, 1.0)) < MIN_LINE_COVERAGE:
                continue
            rank = _sentence_rank(p, s)
            score = coverage(weights, {**head, **dict.fromkeys(own, 1.0)})
            score += LEAD_BONUS[rank] if rank < len(LEAD_BONUS) else 0.0
            if best is None or score > best[4]:
                best = (p, p.start + s, p.start + e, text, score)
    return best


def _sentence_rank(p: Passage, offset: int) -> int:
    """Position of the sentence at ``offset`` of passage ``p`` in its article (0: the lead)
    when ``p`` opens the article; a later chunk's sentences are past the lead."""
    if p.start > 0:
        return len(LEAD_BONUS)
    return sum(1 for s, _ in sentence_spans(p.text) if s < offset)


def as_answer(question: str, timeline: Timeline, passages: list[Passage], *, query: str = "") -> Answer:
    """A timeline question's answer: a short dated list, one cited line per development."""
    # The best-covered entries; among equals the later ones ("how did it end" wants the end).
    top = sorted(timeline.entries, key=lambda e: (-e.score, -e.date.toordinal()))[:ANSWER_ENTRIES]
    shown = [e for e in timeline.entries if e in top]
    lines, citations = [], []
    for n, e in enumerate(shown, 1):
        lines.append(f"{e.date.day} {e.date:%b %Y}: {e.sentence} [{n}]")
        citations.append(Citation(
            number=n, article_id=e.article_id, title=e.title, url=e.url, source=e.source, date=e.published or e.date,
            quote=e.sentence, score=e.score, quote_start=e.start, quote_end=e.end, passage_text=e.passage_text,
            passage_start=e.passage_start, also=e.also,
        ))
    return Answer(question=question, text="\n".join(lines), citations=citations, passages=passages, query=query,
                  backend="timeline", support=max((e.score for e in shown), default=0.0))
