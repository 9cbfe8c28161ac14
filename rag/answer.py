"""The offline answerer: picks the retrieved sentences that best answer the question.

Each sentence of the top passages is scored by how much of the question it covers
(IDF-weighted term overlap, with the headline and any linked article as context) and by its
embedding similarity to the question. Articles are linked when they share names, so a
question whose parts are told in two stories ("the company whose co-founder stepped down")
can still be answered. The best sentences become the answer, each followed by its [n] marker.
When even the best evidence covers too little of the question, the answer abstains:
the decision rests on the passages, never on the question's wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from index.chunk import sentence_spans
from index.embed import Embedder
from index.tokenize import terms
from rag import conflicts
from rag.cite import Evidence, number_citations
from rag.config import Config
from rag.coverage import coverage
from rag.query import unsaid
from rag.question import WORD, understand
from rag.reading import TYPE_WEIGHT, Reading, ScoredSentence
from rag.records import Answer, Passage

if TYPE_CHECKING:
    from rag.reader import Reader

ABSTAIN_TEXT = (
    "I could not find an answer to that in this collection. The closest passages are listed "
    "as sources, but none of them supports an answer."
)
# Headline terms count at this weight: a headline sets the topic but is not the answer.
TITLE_WEIGHT = 0.5
OWN_TERM_BOOST = 2.0
# Terms found only in a linked article (one naming the same person, company or event) count at
# this weight: "the company whose co-founder handed over as CEO" is read in one article, the
# factory it builds in another.
BRIDGE_WEIGHT = 0.5
# Two articles are linked when they share at least this many name terms: one shared word
# ("Portugal", "President") links unrelated stories.
MIN_SHARED_NAMES = 2
# An article holding this share (by IDF) of a follow-up's carried words is on the conversation's story.
STORY_SHARE = 0.5
# Sentences whose embedding similarity is computed (the best by term coverage). 16, 8 and 6
# gave the same figures on the dev and sample sets; 6 keeps a dev question under 200 ms p95.
MAX_EMBEDDED_SENTENCES = 6
# With the hand-set score, a second sentence joins the answer when it scores this share of the best.
HAND_SET_SECOND = 0.85
# A sentence shorter than this many characters rarely answers anything ("Read more.").
MIN_SENTENCE_CHARS = 25

_MONTHS = ("january february march april may june july august september october november december "
           "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday "
           "saturday sunday yesterday today").split()
_CALENDAR = frozenset(_MONTHS)
_DATE = re.compile(r"\b(" + "|".join(_MONTHS) + r")\b|\b(1[89]|20)\d\d\b|\b\d{1,2}/\d{1,2}\b", re.I)
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|"
                     r"hundred|thousand|million|billion|half|third|quarter)\b", re.I)
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Þ][\w'’-]+")
# A person's name: two or more capitalised words in a row ("Lars Brekke"), not opening a sentence.
_FULL_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Þ][\w'’-]+(?:\s+[A-ZÀ-Þ][\w'’-]+)+")
# A quantity: a figure, a number word or an ordinal ("the eighth cut").
_QUANTITY = re.compile(r"\d[\d,.]*\d|\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|"
                       r"hundred|thousand|million|billion|half|third|quarter|first|second|fourth|fifth|sixth|"
                       r"seventh|eighth|ninth|tenth|eleventh|twelfth)\b", re.I)
_YEAR = re.compile(r"(1[89]|20)\d\d")


def holds_type(sentence: str, kind: str | None, question_words: set[str],
               person_words: frozenset[str] | set[str] = frozenset()) -> bool:
    """Does ``sentence`` hold something new of the asked-for kind (:attr:`Question.kind`), or in a
    follow-up ``person`` (a new word of a person's name, one that ``person_words``, the words of
    full names in its article, holds: "Brekke said" counts, "Trondheim" does not) or
    ``quantity`` (a number the question does not give, not a year)?"""
    if kind == "date":
        return bool(_DATE.search(sentence))
    if kind == "number":
        return bool(_NUMBER.search(sentence))
    if kind == "quantity":  # a number the question does not give, and not a year
        return any(m.group().lower() not in question_words and not _YEAR.fullmatch(m.group())
                   for m in _QUANTITY.finditer(sentence))
    if kind == "person":
        return any(w in person_words and w not in question_words for w in _capitalised(sentence))
    if kind in ("name", "place"):
        # Weekdays and months are capitalised but are dates, not the name asked for.
        return any(w not in question_words for w in _capitalised(sentence))
    return True


def _capitalised(text: str) -> list[str]:
    """The capitalised words of ``text`` that do not open a sentence and are not dates, lower-cased."""
    return [w for w in (m.group().lower() for m in _CAPITALISED.finditer(text)) if w not in _CALENDAR]


def person_words(text: str) -> set[str]:
    """The words of the full names (two or more capitalised words in a row) in ``text``, lower-cased."""
    return {w.lower() for m in _FULL_NAME.finditer(text) for w in m.group().split()} - _CALENDAR


def _article_names(passages: list[Passage], question_terms: set[str]) -> dict[str, set[str]]:
    """Per article, the terms of the names its read text holds that the question does not."""
    names: dict[str, set[str]] = {}
    for p in passages:
        found = names.setdefault(p.article_id, set())
        for m in _CAPITALISED.finditer(p.text):
            if m.group().lower() not in _CALENDAR:
                found.update(t for t in terms(m.group()) if t not in question_terms)
    return names


def _bridge(article_terms: dict[str, dict[str, float]], names: dict[str, set[str]]) -> dict[str, dict[str, float]]:
    """Each article's terms with those of the articles it is linked to (sharing at least
    ``MIN_SHARED_NAMES`` name terms the question does not give) added at ``BRIDGE_WEIGHT``."""
    out = {}
    for aid, found in article_terms.items():
        merged = dict(found)
        for other, other_found in article_terms.items():
            if other != aid and len(names[aid] & names[other]) >= MIN_SHARED_NAMES:
                for t in other_found:
                    merged[t] = max(merged.get(t, 0.0), BRIDGE_WEIGHT)
        out[aid] = merged
    return out


def asked_of(weights: dict[str, float], carried: set[str], found: dict[str, float]) -> dict[str, float]:
    """The query's term weights as asked of one article (``found``: its terms): in a follow-up,
    an article on the conversation's story (holding :data:`STORY_SHARE` of the carried words)
    is not asked for the carried words it lacks. They found the story; what it lacks of them is
    the last question's own wording ("decide", "meet"), not a fact the new question asks for."""
    if not carried:
        return weights
    held = coverage({t: weights[t] for t in carried}, found)
    if held < STORY_SHARE:
        return weights
    return {t: w for t, w in weights.items() if t not in carried or t in found}


class ExtractiveAnswerer:
    """Builds cited answers from passages without a language model.

    Args:
        embedder: the collection's embedding model (for sentence similarity).
        idf: term -> inverse document frequency in the collection.
        config: ``answer_passages``, ``answer_sentences`` and ``min_support`` are used.
        reader: the trained reader (:mod:`rag.reader`) that picks the answering sentence;
            None keeps the hand-set score.
    """

    def __init__(self, embedder: Embedder, idf: Callable[[str], float], config: Config,
                 reader: Reader | None = None) -> None:
        self.embedder = embedder
        self.idf = idf
        self.config = config
        self.reader = reader

    def query_weights(self, query: str) -> dict[str, float]:
        return {t: self.idf(t) for t in set(terms(query))}

    def score_sentences(self, query: str, passages: list[Passage], *, question: str | None = None,
                        ) -> list[ScoredSentence]:
        """Every usable sentence of ``passages``, scored against ``query``.

        ``question`` (default ``query``) sets the answer type; ``query`` may carry words from
        earlier turns.
        """
        # Words of the question itself count double against words carried over from earlier
        # turns: "what did they discuss?" is about the discussion, not the meeting again.
        own = set(terms(question or query))
        weights = {t: w * (OWN_TERM_BOOST if t in own else 1.0) for t, w in self.query_weights(query).items()}
        # The carried words find the conversation's story; within it they back every sentence
        # alike (as its headline does), so they do not pull the answer back to the last one.
        carried = weights.keys() - own
        asked = understand(question or query)
        kind: str | None = asked.kind
        question_words = {w.lower() for w in WORD.findall(asked.text)}
        if carried and kind == "name" and asked.asks_who:
            # "Who did she replace?": a person by name that the conversation has not named (the
            # last answer's "Ingrid Solberg" is carried). "Which company developed it?" may be
            # answered by the name just said, so only "who" asks for a new one.
            kind = "person"
            question_words |= {w.lower() for w in WORD.findall(query)}
        elif carried and kind == "number":
            # "How big were its wings?": a quantity, not the year a sentence happens to give.
            kind = "quantity"
        people: dict[str, set[str]] = {}
        if kind == "person":
            for p in passages:
                people.setdefault(p.article_id, set()).update(person_words(p.text))
        # Only the query's terms (and the question's numbers) matter below, so only they are kept.
        wanted = weights.keys() | own
        article_terms: dict[str, dict[str, float]] = {}
        for p in passages:
            found = article_terms.setdefault(p.article_id, {t: TITLE_WEIGHT for t in terms(p.title) if t in wanted})
            found.update({t: 1.0 for t in terms(p.text) if t in wanted})
        bridged = _bridge(article_terms, _article_names(passages, own))
        asked = {aid: asked_of(weights, carried, found) for aid, found in bridged.items()}
        article_cov = {aid: coverage(asked[aid], bridged[aid]) for aid in article_terms}
        # Numbers in the question itself (years, sizes, counts) must be in the article read,
        # its headline or its publication year: otherwise it is about another event.
        numbers = {t for t in own if t.isdigit()}
        years = {p.article_id: str(p.date.year) for p in passages if p.date}
        article_numbers = {aid: numbers <= (found.keys() | {years.get(aid)}) for aid, found in article_terms.items()}
        candidates: list[tuple[Evidence, float, bool]] = []
        seen: set[tuple[str, int]] = set()  # overlapping chunks repeat sentences: score each once
        for i, p in enumerate(passages):
            # What a sentence stands in: its headline, and the articles linked to its own.
            context = {t: w for t, w in bridged[p.article_id].items() if t not in article_terms[p.article_id]}
            context.update({t: TITLE_WEIGHT for t in terms(p.title) if t in wanted})
            context.update({t: w for t, w in article_terms[p.article_id].items() if t in carried})
            for s, e in sentence_spans(p.text):
                text = p.text[s:e]
                if len(text) < MIN_SENTENCE_CHARS or (p.article_id, p.start + s) in seen:
                    continue
                seen.add((p.article_id, p.start + s))
                found = dict(context)
                found.update({t: 1.0 for t in terms(text) if t in wanted})
                ev = Evidence(passage=i, start=p.start + s, end=p.start + e, text=text, score=0.0)
                candidates.append((ev, coverage(asked[p.article_id], found),
                                   holds_type(text, kind, question_words, people.get(p.article_id, frozenset()))))
        if not candidates:
            return []
        # Embedding every sentence costs ~10 ms each on a laptop CPU; only the lexically most
        # promising ones are worth it. The rest keep a similarity of 0.
        order = sorted(range(len(candidates)), key=lambda i: -(candidates[i][1] + TYPE_WEIGHT * candidates[i][2]))
        embed_ids = order[:MAX_EMBEDDED_SENTENCES]
        vectors = self.embedder.embed([candidates[i][0].text for i in embed_ids])
        similarity = vectors @ self.embedder.embed_query(query)
        if carried:
            # The rewrite's meaning is mostly the last turn's, which pulls the answer back to the
            # sentence already said; the question as asked says what is wanted now. Half each.
            similarity = (similarity + vectors @ self.embedder.embed_query(question or query)) / 2
        sims = np.zeros(len(candidates), dtype=np.float32)
        sims[embed_ids] = np.clip(similarity, 0.0, 1.0)
        return [
            ScoredSentence(ev, lex, float(sim), article_cov[passages[ev.passage].article_id], typed,
                           article_numbers[passages[ev.passage].article_id])
            for (ev, lex, typed), sim in zip(candidates, sims)
        ]

    def read(self, question: str, passages: list[Passage], *, query: str | None = None,
             context: list[Passage] | None = None) -> Reading:
        """Every candidate sentence of the top ``answer_passages`` passages and ``context``,
        scored by the hand-set rule, best first (see :class:`Reading`)."""
        query = query or question
        context = list(context or [])
        top = list(passages[: self.config.read.passages])
        scored = sorted(self.score_sentences(query, top + context, question=question), key=lambda s: -s.score)
        return Reading(question=question, query=query, read=top + context, n_top=len(top), scored=scored,
                       weights=self.query_weights(query))

    def run(self, question: str, passages: list[Passage], *, query: str | None = None,
            context: list[Passage] | None = None, said: Sequence[str] = ()) -> Answer:
        """Answer ``question`` from ``passages`` (best first).

        Args:
            question: as asked.
            passages: the retrieved passages; sentences come from the first ``answer_passages``.
            query: the standalone search (a follow-up with words from earlier turns).
            context: more passages to read (neighbouring chunks of the top articles); they are
                appended to ``Answer.passages`` so every citation points into that list.
            said: what the conversation's last answer said; a sentence it already holds is
                quoted again only when no other sentence backs an answer.
        """
        query = query or question
        context = list(context or [])
        # ``said``: the last answer's text; its sentences give way when others answer too.
        reading = unsaid(self.read(question, passages, query=query, context=context), said,
                         self.config.read.min_support)
        # Sentences are read from the top passages and the context; ``where`` maps a position
        # in what was read onto the answer's passage list (all retrieved, then the context).
        where = list(range(reading.n_top)) + list(range(len(passages), len(passages) + len(context)))
        passages = list(passages) + context
        scored = reading.scored
        support = max((s.support for s in scored), default=0.0)
        if not scored or support < self.config.read.min_support:
            return Answer(question=question, text=ABSTAIN_TEXT, passages=passages, abstained=True, query=query,
                          support=support)
        ranked, scores, bar = self._rank(reading)
        chosen = pick_sentences(ranked, scores, bar, self.config.read.sentences)
        chosen = [replace(s, evidence=replace(s.evidence, passage=where[s.evidence.passage])) for s in chosen]
        # Best first: the sentence that answers opens the answer, even when the article's lead,
        # which a second pick often is, comes before it in the article.
        evidence = [Evidence(s.evidence.passage, s.evidence.start, s.evidence.end, s.evidence.text, s.score)
                    for s in chosen]
        numbers, citations = number_citations(evidence, passages)
        text = " ".join(f"{ev.text} [{numbers[ev.passage]}]" for ev in evidence)
        answer = Answer(question=question, text=text, citations=citations, passages=passages, query=query,
                        support=support)
        return self._disagree(question, reading, ranked, answer)

    def backs(self, question: str, passages: list[Passage], answer: Answer, *, query: str | None = None) -> bool:
        """Whether some sentence ``answer`` quotes (another answerer's, e.g. the LLM's) backs an
        answer to ``question`` by this answerer's own bar (``min_support``), read from the top
        ``answer_passages`` of ``passages``: a true sentence about something else does not."""
        quoted = {(c.article_id, " ".join(c.quote.split())) for c in answer.citations if c.quote}
        if not quoted:
            return True  # nothing quoted to judge (the check already flags what no passage backs)
        reading = self.read(question, passages, query=query, context=passages[self.config.read.passages:])
        return any(s.support >= self.config.read.min_support for s in reading.scored
                   if (reading.read[s.evidence.passage].article_id, " ".join(s.evidence.text.split())) in quoted)

    def with_disagreement(self, question: str, passages: list[Passage], answer: Answer) -> Answer:
        """``answer`` (another answerer's, e.g. the LLM's) with the note on reports that differ,
        read from the top ``answer_passages`` of ``passages`` (what that answerer was given)."""
        if not self.config.read.conflicts or answer.abstained or not passages:
            return answer
        reading = self.read(question, passages)
        if not reading.scored:
            return answer
        ranked, _, _ = self._rank(reading)
        return self._disagree(question, reading, ranked, answer)

    def _disagree(self, question: str, reading: Reading, ranked: list[ScoredSentence], answer: Answer) -> Answer:
        if not self.config.read.conflicts:
            return answer
        found = conflicts.detect(question, ranked, reading.read, weights=reading.weights,
                                 min_support=self.config.read.min_support)
        return conflicts.attach(answer, found) if found else answer

    def _rank(self, reading: Reading) -> tuple[list[ScoredSentence], list[float], float]:
        """The candidates best first, their scores, and the score a second answer sentence needs:
        the reader's when a reader is set, else the hand-set score's."""
        # The reader learnt from standalone questions, whose answer is often a story's lead; a
        # follow-up's lead is mostly what the conversation already said: the hand-set score ranks.
        if self.reader is not None and reading.query == reading.question:
            ranked, scores = self.reader.rank(reading)
            return ranked, scores, self.second_bar(scores[0])
        scores = [s.score for s in reading.scored]
        return reading.scored, scores, HAND_SET_SECOND * scores[0]

    def second_bar(self, best: float) -> float:
        """The score a second sentence needs: the reader's own bar, or 0.85 of the best (hand-set)."""
        return self.reader.second_bar(best) if self.reader is not None else HAND_SET_SECOND * best


def pick_sentences(ranked: list[ScoredSentence], scores: list[float], bar: float,
                   most: int) -> list[ScoredSentence]:
    """The best of ``ranked`` (best first, with its ``scores``), then up to ``most - 1`` more
    that reach ``bar`` and do not restate one already picked."""
    chosen = [ranked[0]]
    for s, value in zip(ranked[1:], scores[1:]):
        if len(chosen) >= most:
            break
        if value >= bar and all(_overlap(s.evidence.text, c.evidence.text) < 0.6 for c in chosen):
            chosen.append(s)
    return chosen


def _overlap(a: str, b: str) -> float:
    ta, tb = set(terms(a)), set(terms(b))
    return len(ta & tb) / max(1, min(len(ta), len(tb)))
