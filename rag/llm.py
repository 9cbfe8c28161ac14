"""The LLM answerer: grounded answers from an OpenAI-compatible endpoint, checked before they are shown.

The model gets the numbered passages (see :mod:`rag.prompt`) and streams its answer. When
the stream ends, the answer is checked (:mod:`rag.check`): invalid markers are removed,
unsupported sentences are flagged, and the kept markers are renumbered 1..k and resolved to
:class:`Citation` records. Any failure of the endpoint ends in the offline answer with a
warning that says what went wrong, never in a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Protocol

from index.chunk import sentence_spans
from index.embed import Embedder
from rag import query as query_mod
from rag.answer import ABSTAIN_TEXT
from rag.check import MARKER, check
from rag.cite import Evidence, article_citation
from rag.config import Config
from rag.llm_client import DEFAULT_BACKOFF_S, DEFAULT_RETRIES, LLMClient, LLMError, resolve_endpoint
from rag.prompt import NOT_IN_SOURCES, build_condense_messages, build_prompt
from rag.query import Turn
from rag.records import Answer, Passage

# A standalone query needs a few words; a longer reply is the model answering instead. A
# follow-up made standalone is the question plus a few names from earlier turns: one line,
# one sentence, at most 32 words (the offline rewrite adds at most 4 names and the last
# questions' words); anything else falls back to that offline rewrite.
CONDENSE_MAX_TOKENS = 64
MAX_QUERY_CHARS = 240
MAX_QUERY_WORDS = 32
# Reasoning models (DeepSeek-R1, Qwen3) think aloud in <think> blocks before answering.
_THINKING = re.compile(r"<think>.*?(?:</think>|\Z)\s*", re.DOTALL | re.IGNORECASE)
_REPEATED_MARKER = re.compile(r"(\[(\d+)\])(?:\s*\[\2\])+")
_QUERY_PREFIX = re.compile(r"^(?:standalone\s+)?(?:search\s+)?query\s*:\s*", re.IGNORECASE)


class Answerer(Protocol):
    """Anything that answers offline, like :class:`rag.answer.ExtractiveAnswerer`."""

    def run(self, question: str, passages: list[Passage], *, query: str | None = None) -> Answer: ...

    def with_disagreement(self, question: str, passages: list[Passage], answer: Answer) -> Answer: ...

    def backs(self, question: str, passages: list[Passage], answer: Answer, *, query: str | None = None) -> bool: ...


def visible_text(reply: str) -> str:
    """What of a (possibly partial) reply to show: no thinking, and nothing while it may be the abstain phrase."""
    text = _THINKING.sub("", reply).strip()
    if NOT_IN_SOURCES.startswith(text) or text.startswith(NOT_IN_SOURCES):
        return ""
    return text


def usable_query(reply: str) -> str | None:
    """The search query in a condenser ``reply``, or None when the reply is not one: more than
    one line or sentence, over MAX_QUERY_WORDS words or MAX_QUERY_CHARS characters, citation
    markers, or the abstain phrase (the model answered, explained or refused instead)."""
    lines = [ln.strip() for ln in _THINKING.sub("", reply).splitlines() if ln.strip()]
    if len(lines) != 1:
        return None
    query = _QUERY_PREFIX.sub("", lines[0]).strip(" \"'`“”")
    if (not query or len(query) > MAX_QUERY_CHARS or len(query.split()) > MAX_QUERY_WORDS
            or NOT_IN_SOURCES in query or MARKER.search(query) or len(sentence_spans(query)) > 1):
        return None
    return query


def _abstains(text: str) -> bool:
    return text.strip(" \t\n*_`\"'.").startswith(NOT_IN_SOURCES)


class LLMAnswerer:
    """Answers from passages with a language model at an OpenAI-compatible endpoint.

    Args:
        config: ``llm_base_url``, ``llm_model``, ``llm_api_key`` (each falling back to the
            environment), ``llm_timeout``, ``llm_temperature`` and ``llm_max_tokens`` are used.
        embedder: the collection's embedding model; lets the citation check accept paraphrases.
        context_tokens: tokens of passages sent to the model (lowest-ranked passages are dropped);
            None: ``config.generator.context_tokens``.
        retries: further tries after a 429 or 5xx answer.
        backoff: seconds before the first retry, doubled for each next one.
        client: a ready client (otherwise one is made from ``config`` on first use).
    """

    def __init__(self, config: Config, *, embedder: Embedder | None = None,
                 context_tokens: int | None = None, retries: int = DEFAULT_RETRIES,
                 backoff: float = DEFAULT_BACKOFF_S, client: LLMClient | None = None) -> None:
        context_tokens = config.generator.context_tokens if context_tokens is None else context_tokens
        if context_tokens < 1:
            raise ValueError(f"context_tokens must be a positive integer, got {context_tokens!r}")
        self.config = config
        self.embedder = embedder
        self.context_tokens = context_tokens
        self.retries = retries
        self.backoff = backoff
        self._client = client
        # A failure while condensing is remembered, so the answer does not wait for the same timeout again.
        self._failure: LLMError | None = None

    @property
    def backend(self) -> str:
        """``llm:<model>``, the label on answers this answerer writes."""
        model = self._client.model if self._client else resolve_endpoint(self.config)[1]
        return f"llm:{model or '?'}"

    def client(self) -> LLMClient:
        """The endpoint's client, made on first use.

        Raises:
            LLMError: no endpoint or model is configured, or an earlier call failed.
        """
        if self._failure is not None:
            raise self._failure
        if self._client is None:
            self._client = LLMClient.from_config(self.config, retries=self.retries, backoff=self.backoff)
        return self._client

    # ---- follow-ups ---------------------------------------------------------------------
    def condense(self, question: str, history: Sequence[Turn] | None) -> str:
        """A standalone search query for a follow-up ``question``, written by the model.

        Falls back to :func:`rag.query.condense` when there is no history, or the model fails
        or replies with something that is not a query (see :func:`usable_query`).
        """
        if not history:
            return question.strip()
        try:
            reply = self.client().chat(build_condense_messages(question, history), stream=False,
                                       max_tokens=CONDENSE_MAX_TOKENS, temperature=0.0)
        except LLMError as exc:
            self._failure = exc
            return query_mod.condense(question, history)
        return usable_query(reply) or query_mod.condense(question, history)

    # ---- answers ------------------------------------------------------------------------
    def stream(self, question: str, passages: list[Passage], *, query: str | None = None,
               history: Sequence[Turn] | None = None, fallback: Answerer) -> Iterator[Answer]:
        """Answer ``question`` from ``passages`` (best first), yielding the answer as it grows.

        Growing answers carry text only; the last item is the checked answer with citations and
        warnings, and its text replaces what was streamed. When the endpoint fails, the last
        item is ``fallback``'s answer, with a warning saying why.

        Args:
            question: the question as asked.
            passages: retrieved passages, best first.
            query: the standalone search query (default ``question``).
            history: earlier (question, answer) turns, given to the model as context.
            fallback: the offline answerer used when the endpoint fails.
        """
        query = query or question
        if not passages:  # nothing to ground an answer in: no need to ask the model
            yield fallback.run(question, passages, query=query)
            return
        try:
            client = self.client()
            prompt = build_prompt(question, passages, history=history, budget=self.context_tokens)
            reply = ""
            for piece in client.chat(prompt.messages, stream=True):
                reply += piece
                shown = visible_text(reply)
                if shown:
                    yield Answer(question=question, text=shown, passages=passages, query=query, backend=self.backend)
            final = self._finish(question, reply, prompt.passages, passages, query)
            if not final.abstained and not fallback.backs(question, prompt.passages, final, query=query):
                # A small model asked what the passages do not say may quote a true sentence about
                # something else ("Kiprono won the men's race" for a 2031 Eurovision question).
                final = replace(final, text=ABSTAIN_TEXT, abstained=True, citations=[], warnings=[
                    *final.warnings, "The sentences the model quoted do not answer the question: abstained"])
            # Reports that differ are read from the passages the model saw, as offline.
            final = fallback.with_disagreement(question, prompt.passages, final)
        except LLMError as exc:
            yield self._fallback(exc, question, passages, query, fallback)
            return
        yield final

    def run(self, question: str, passages: list[Passage], *, query: str | None = None,
            history: Sequence[Turn] | None = None, fallback: Answerer) -> Answer:
        """The complete, checked answer: the last item of :meth:`stream`."""
        *_, answer = self.stream(question, passages, query=query, history=history, fallback=fallback)
        return answer

    def _finish(self, question: str, reply: str, shown: list[Passage], passages: list[Passage],
                query: str) -> Answer:
        """Check ``reply`` against the passages the model saw (``shown``) and resolve its citations."""
        base = Answer(question=question, text="", passages=passages, query=query, backend=self.backend)
        text = _THINKING.sub("", reply).strip()
        if not text:
            raise LLMError(f"empty response from {self.client().url}")
        if _abstains(text):
            return replace(base, text=ABSTAIN_TEXT, abstained=True)
        checked = check(text.replace(NOT_IN_SOURCES, "").strip(), shown, embedder=self.embedder)
        if not checked.numbers and checked.flagged:
            # Nothing the model wrote is backed by a passage: a small model asked what the passages
            # do not say tends to make an answer up from their words, rather than abstain.
            return replace(base, text=ABSTAIN_TEXT, abstained=True, warnings=checked.warnings, flagged=checked.flagged)
        if not MARKER.sub("", checked.text).strip():
            raise LLMError(f"the reply from {self.client().url} held no answer text ({_short(text)!r})")
        # One number per article, in order of first use: chunks of one article share its card.
        by_article: dict[str, int] = {}
        renumber = {old: by_article.setdefault(shown[old - 1].article_id, len(by_article) + 1)
                    for old in checked.numbers}
        cited: dict[int, tuple[list[Passage], list[Evidence]]] = {}
        for old, new in renumber.items():
            q = checked.quotes[old]
            ps, quotes = cited.setdefault(new, ([], []))
            ps.append(shown[old - 1])
            quotes.append(Evidence(passage=old - 1, start=q.start, end=q.end, text=q.text, score=q.score))
        citations = [article_citation(new, ps, quotes) for new, (ps, quotes) in cited.items()]
        text = MARKER.sub(lambda m: f"[{renumber[int(m.group(1))]}]", checked.text)
        text = _REPEATED_MARKER.sub(r"\1", text)  # "[1][1]" once two chunks of one article are one source
        return replace(base, text=text, citations=citations, warnings=checked.warnings, flagged=checked.flagged)

    def _fallback(self, exc: LLMError, question: str, passages: list[Passage], query: str,
                  fallback: Answerer) -> Answer:
        answer = fallback.run(question, passages, query=query)
        warning = f"LLM backend failed ({exc}): showing the offline answer"
        return replace(answer, warnings=[warning, *answer.warnings], backend="extractive")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
