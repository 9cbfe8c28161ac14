"""The answer path as a list of stages, each with one job and one ``run``:

    understand → retrieve → compose

- :class:`Understand` reads the question once (:func:`rag.question.understand`), the filters
  (a source the collection lacks, or filters that leave nothing, are said) and, in a
  conversation, the rewrite that carries the earlier turns' context.
- :class:`Retrieve` decides whether a question in a conversation is a follow-up (the trained
  decision, :mod:`rag.followup`) and finds its passages: the retriever fuses the dense and BM25
  searches, reranks the articles with the trained ranker and keeps one story once
  (:mod:`rag.retrieve`, :mod:`rag.rerank`).
- :class:`Compose` reads the passages and writes the answer: a dated list when the question asks
  for a story's developments (:mod:`rag.timeline`), the language model's answer, checked, when
  one writes it (:mod:`rag.llm`), else the reader's quoted sentences (:mod:`rag.answer`).

Each stage takes the :class:`Draft` the one before filled in and returns it filled further; none
reaches back up. ``Assistant.stream`` goes down the list once, yielding as stages finish: the
passages as soon as they are found, then the answer (word by word from a language model).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from index.chunk import context_prefix
from index.embed import Embedder
from index.filters import ArticleFacets, Filters
from index.store import IndexStore
from rag import followup as followup_mod
from rag import timeline as timeline_mod
from rag.answer import ExtractiveAnswerer
from rag.cite import strip_markers
from rag.config import ReadSettings, RetrieveSettings
from rag.query import Turn, resolve, with_context
from rag.question import Question, understand
from rag.records import Answer, Passage, Timeline
from rag.retrieve import Retriever

if TYPE_CHECKING:  # rag.llm loads only when a language model writes the answer
    from rag.llm import LLMAnswerer

NO_MATCH_TEXT = "No article of the collection matches the filters, so there is nothing to answer from."


@dataclass(frozen=True)
class Draft:
    """One question on its way down the stages; each stage fills in its part.

    Args:
        text: the question as asked.
        filters: dates and sources to search within (``as_of`` resolves "this week").
        k: passages to retrieve.
        history: earlier (question, answer) turns of the conversation.
        writer: the language model that writes the answer; None: the reader's quoted sentences.
        question: what :class:`Understand` read in the question.
        rewrite: the question with the conversation's context, searched beside it (Understand).
        notes: what the filters say (Understand): an unknown source, nothing left to search.
        query: what was searched for the answer: the question as asked or its rewrite (Retrieve).
        passages: the retrieved passages, best first (Retrieve).
        answer: set by a stage that answers early (filters that leave nothing to search).
    """

    text: str
    filters: Filters
    k: int
    history: tuple[Turn, ...] = ()
    writer: LLMAnswerer | None = None
    question: Question | None = None
    rewrite: str | None = None
    notes: tuple[str, ...] = ()
    query: str = ""
    passages: list[Passage] = field(default_factory=list)
    answer: Answer | None = None


class Understand:
    """Reads the question, the filters and the conversation once, for the stages after it."""

    def __init__(self, facets: ArticleFacets) -> None:
        self.facets = facets

    def run(self, draft: Draft) -> Draft:
        notes, nothing = self.facets.explain(draft.filters)
        if nothing:
            early = Answer(question=draft.text, text=NO_MATCH_TEXT, abstained=True, warnings=notes, query=draft.text)
            return replace(draft, notes=tuple(notes), answer=early)
        rewrite = None
        if draft.history:
            # A language model rewrites the follow-up itself; offline, the conversation's names
            # and topic words are carried (rag.query.with_context).
            rewrite = (draft.writer.condense(draft.text, draft.history) if draft.writer is not None
                       else with_context(draft.text, draft.history))
        return replace(draft, question=understand(draft.text, draft.filters.as_of), rewrite=rewrite,
                       notes=tuple(notes))


class Retrieve:
    """Follow-up or new topic, then the passages.

    Args:
        retriever: searches, reranks and diversifies (:class:`rag.retrieve.Retriever`).
        store, embedder: the index and its model (the follow-up decision compares meanings).
        settings: ``date_window`` prefers articles inside "this week".
        followup: the trained decision whether a question in a conversation is a follow-up.
    """

    def __init__(self, retriever: Retriever, store: IndexStore, embedder: Embedder, settings: RetrieveSettings,
                 followup: followup_mod.FollowupModel) -> None:
        self.retriever = retriever
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.followup = followup

    def run(self, draft: Draft) -> Draft:
        history, question = draft.history, draft.text

        def decide(rewrite: str, alone: list[Passage], rewritten: list[Passage]) -> bool:
            row = self.followup_features(question.strip(), rewrite, history, alone, rewritten)
            return self.followup.is_follow_up(row)

        query, passages = resolve(question, history, lambda q: self.search(q, draft.k, draft.filters), decide,
                                  rewrite=draft.rewrite)
        return replace(draft, query=query, passages=passages)

    def search(self, query: str, k: int, filters: Filters) -> list[Passage]:
        """The top ``k`` passages for ``query``; "this week" in it prefers that week's articles
        (with ``retrieve.date_window``), filling up with the rest."""
        window = understand(query, filters.as_of).window if self.settings.date_window else None
        if window is None:
            return self.retriever.run(query, k=k, filters=filters)
        lo = max(window[0], filters.date_from) if filters.date_from else window[0]
        inside = self.retriever.run(query, k=k, filters=Filters(
            as_of=window[1], date_from=lo, date_to=filters.date_to, sources=filters.sources))
        if len(inside) >= k:
            return inside
        seen = {p.chunk_id for p in inside}
        rest = [p for p in self.retriever.run(query, k=k, filters=filters) if p.chunk_id not in seen]
        return (inside + rest)[:k]

    def similarity(self, text: str, passage: Passage) -> float | None:
        """Cosine of ``text``'s embedding (cached: the search embedded it) and ``passage``'s stored
        vector; None when the passage's chunk has none."""
        article_id, _, n = passage.chunk_id.rpartition("#")
        if article_id not in self.store.article_row or not n.isdigit():
            return None
        rows = self.store.chunk_rows(article_id)[int(n):int(n) + 1]
        try:
            vector = self.store.embeddings(rows)
        except RuntimeError:  # faiss: no vector stored for that row
            return None
        return float(vector[0] @ self.embedder.embed_query(text)) if len(vector) else None

    def passage_similarity(self, text: str, passage: Passage) -> float:
        """:meth:`similarity`, embedding the chunk as the index does where it stored no vector."""
        stored = self.similarity(text, passage)
        if stored is not None:
            return stored
        chunk = context_prefix(passage.title, passage.date, self.store.settings) + passage.text
        return float(self.embedder.embed([chunk])[0] @ self.embedder.embed_query(text))

    def followup_features(self, question: str, rewrite: str, history: Sequence[Turn],
                          alone: list[Passage], rewritten: list[Passage]) -> np.ndarray:
        """The trained follow-up decision's row (:func:`rag.followup.decision_features`)."""
        last_q, last_a = history[-1]
        return followup_mod.decision_features(
            question, rewrite, f"{last_q} {strip_markers(last_a)}", alone, rewritten, self.retriever.idf,
            self.retriever.max_idf, self.passage_similarity,
            lambda a, b: float(self.embedder.embed_query(a) @ self.embedder.embed_query(b)))


class Compose:
    """Reads the passages and writes the answer, yielding it as it grows; the last item is the
    complete answer, with the filters' notes before its own warnings.

    Args:
        answerer: the offline reader and writer of quoted sentences (:mod:`rag.answer`); it
            also checks a language model's answer and notes reports that differ.
        retriever: reads the chunks around the top passages, and finds a story's articles.
        settings: ``passages``: how many of the top passages are read with their context.
    """

    def __init__(self, answerer: ExtractiveAnswerer, retriever: Retriever, settings: ReadSettings) -> None:
        self.answerer = answerer
        self.retriever = retriever
        self.settings = settings

    def run(self, draft: Draft) -> Iterator[Answer]:
        for answer in self._write(draft):
            yield replace(answer, warnings=[*draft.notes, *answer.warnings]) if draft.notes else answer

    def _write(self, draft: Draft) -> Iterator[Answer]:
        question, query, passages = draft.text, draft.query, draft.passages
        # The sources are shown as soon as they are found, before the answer is read from them.
        yield Answer(question=question, text="", passages=passages, query=query)
        if draft.writer is not None:
            yield from draft.writer.stream(question, passages, query=query, history=draft.history,
                                           fallback=self.answerer)
            return
        if draft.question is not None and draft.question.intent == "developments":
            # "What happened ...": a short dated list. The story as asked when the question
            # names one ("How did the strike end?"), else as the follow-up was rewritten.
            story = self.timeline(question if draft.question.names_story else query, draft.filters, draft.k)
            if len(story.entries) >= timeline_mod.MIN_ANSWER_ENTRIES:
                yield timeline_mod.as_answer(question, story, passages, query=query)
                return
        context = self.retriever.neighbours(passages[: self.settings.passages], lead=True)
        said = [draft.history[-1][1]] if draft.history else []  # what the last answer said is not said again
        answer = self.answerer.run(question, passages, query=query, context=context, said=said)
        # ``passages`` are the k retrieved; the context read around them stays behind the citations.
        yield replace(answer, passages=passages)

    def timeline(self, query: str, filters: Filters, k: int) -> Timeline:
        """The story ``query`` names as dated developments (at most ``k``): "since March" starts it
        on 1 March, "the 2023 Oscars" keeps to that year."""
        story = understand(query, filters.as_of)
        start, named = story.since, story.year
        if start is None and named is not None:
            start = date(named, 1, 1)
            if filters.date_to is None or filters.date_to > date(named, 12, 31):
                filters = replace(filters, date_to=date(named, 12, 31))
        if start is not None and (filters.date_from is None or start > filters.date_from):
            filters = replace(filters, date_from=start)
        passages = self.retriever.run(query, k=max(k, timeline_mod.CANDIDATES), filters=filters)
        context = self.retriever.neighbours(passages, radius=0, lead=True)
        return timeline_mod.build(query, passages, context, idf=self.retriever.idf, k=k)


def run_stages(stages: Sequence[Understand | Retrieve], compose: Compose, draft: Draft) -> Iterator[Answer]:
    """``draft`` down ``stages`` in order, then ``compose``'s answer as it grows; a stage that
    answers early (``Draft.answer``) ends the path there."""
    for stage in stages:
        draft = stage.run(draft)
        if draft.answer is not None:
            yield draft.answer
            return
    yield from compose.run(draft)


__all__ = ["Compose", "Draft", "NO_MATCH_TEXT", "Retrieve", "Understand", "run_stages"]
