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


# Topic change or follow-up is decided from what the two searches find, not from pronouns:
# "What did the ECB decide about its deposit rate?" after a question on IDEF has an "its" but
# is found by its own words, while the earlier turn's names would pull its search off topic;
# "How big were the pay rises?" has no pronoun but is about the strike just discussed.
# A passage's evidence is the IDF of the question's own words it holds, plus the conversation's
# story (the share of the carried words it holds) worth one and a half such words, each as rare
# as the carried words are on average. The rewrite is kept when its best passage has more.
TOPIC_WORDS = 1.5
# When a passage among the question's own best holds this share of the carried words, the
# question by itself leads back to the conversation's story: the rewrite only focuses it.
ON_TOPIC = 0.5
EVIDENCE_PASSAGES = 3  # the top passages of the question's own search looked at for ON_TOPIC
HEADLINE_WEIGHT = 0.5  # a headline term counts half: it sets the topic, it is not the answer


def _found(passage: Passage) -> dict[str, float]:
    """How much each term of ``passage`` counts as found: 1 in its text, half in its headline only."""
    found = {t: HEADLINE_WEIGHT for t in terms(passage.title)}
    found.update({t: 1.0 for t in terms(passage.text)})
    return found


def _own_words(question: str, passage: Passage, idf: Callable[[str], float]) -> float:
    """The IDF of the question's own terms that ``passage`` holds (headline terms at half weight)."""
    found = _found(passage)
    return sum(idf(t) * found.get(t, 0.0) for t in set(terms(question)))


def evidence(question: str, rewrite: str, passage: Passage, idf: Callable[[str], float]) -> tuple[float, float]:
    """(evidence, carried share) of ``passage`` for ``question`` searched as ``rewrite``: the
    IDF of the question's own terms it holds (headline terms at half weight), plus
    :data:`TOPIC_WORDS` times the carried terms' mean IDF times the share of those it holds."""
    own = set(terms(question))
    carried = {t: idf(t) for t in set(terms(rewrite)) - own}
    on_story = coverage(carried, _found(passage))
    topic = TOPIC_WORDS * sum(carried.values()) / len(carried) if carried else 0.0
    return _own_words(question, passage, idf) + topic * on_story, on_story


# Words cannot tell "What is Respiva?" (a new topic: one rare word of its own) from "What did
# they discuss?" (a follow-up: one word of its own, which some other story happens to hold);
# meaning can. A question that names its own subject is closer in meaning to its own top passage
# than to any other story's: the question's embedding is DISTINCT closer to it than to the
# passages of other stories its own search found and to the rewrite's top passage, in cosine.
# "What did they discuss?" is as close to a passage on other talks as to the meeting just
# discussed; "Who is the company's chief executive?" as close to one company's chief as to
# another's. Chosen on conversations.jsonl and conversations-heldout.jsonl (docs/records/evaluation.md).
DISTINCT = 0.05
# The rewrite loses the question's subject when its top passage holds less than this share of
# the question's own words (by IDF) that the question's own top passage holds.
KEPT_WORDS = 0.5


def names_own_subject(question: str, alone: Sequence[Passage], rewritten: Passage, idf: Callable[[str], float],
                      similarity: Callable[[str, Passage], float | None]) -> bool:
    """True when ``question`` names a subject of its own that the rewrite lost: the rewrite's
    top passage (``rewritten``) holds less than :data:`KEPT_WORDS` of the question's own words
    that its own top passage (``alone[0]``) holds, and by meaning (``similarity``, the dense
    cosine of a text and a passage; None where the passage has no vector) the question singles
    that passage out by :data:`DISTINCT` over other stories' passages and the rewrite's."""
    top = alone[0]
    held = _own_words(question, top, idf)
    if held <= 0 or _own_words(question, rewritten, idf) >= KEPT_WORDS * held:
        return False
    closest = similarity(question, top)
    story = {top.article_id, *(c.article_id for c in top.also)}
    rivals = [similarity(question, p) for p in [*alone[1:], rewritten] if p.article_id not in story]
    rivals = [r for r in rivals if r is not None]
    return closest is not None and closest - max(rivals, default=-1.0) >= DISTINCT


def resolve(question: str, history: Sequence[Turn] | None, search: Callable[[str], list[Passage]],
            idf: Callable[[str], float], *, rewrite: str | None = None,
            similarity: Callable[[str, Passage], float | None] | None = None,
            decide: Callable[[str, list[Passage], list[Passage]], bool] | None = None) -> tuple[str, list[Passage]]:
    """The query to answer ``question`` with, and its passages (``search(query)``).

    With earlier turns, the question is searched as asked and as rewritten with the
    conversation's context (``rewrite``, default :func:`with_context`), whatever its words.
    ``decide(rewrite, as_asked, rewritten)`` (the trained decision, :mod:`rag.followup`) says
    from the two searches' passages whether the rewrite is kept. Without it, the hand-set rule:
    the rewrite is kept when its top passage holds more :func:`evidence` than the question's
    own top passage, or when the question by itself already finds the conversation's story
    among its top passages (:data:`ON_TOPIC`), unless the question names a subject of its own
    that the rewrite lost (:func:`names_own_subject`, given ``similarity``). A question with no
    word of its own to search with ("and then?") takes the rewrite.
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
    if decide is not None:
        return (rewrite, with_context_found) if decide(rewrite, alone, with_context_found) else (question, alone)
    asked = [evidence(question, rewrite, p, idf) for p in alone[:EVIDENCE_PASSAGES]]
    rewritten, _ = evidence(question, rewrite, with_context_found[0], idf)
    if rewritten > asked[0][0] or max(on_story for _, on_story in asked) >= ON_TOPIC:
        if similarity is None or not names_own_subject(question, alone, with_context_found[0], idf, similarity):
            return rewrite, with_context_found
    return question, alone


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
