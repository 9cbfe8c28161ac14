"""The one configuration object, nested by stage: index settings, then one small settings record per
stage of the answer path (retrieve, rerank, read, generator), each validated where it is made."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from index.settings import IndexSettings

Retrieval = Literal["hybrid", "dense", "bm25"]
Fusion = Literal["convex", "rrf"]

# Reciprocal rank fusion constant from Cormack et al. (2009); 60 is the usual default and
# keeps one retriever's top hit from drowning the other's.
RRF_K = 60
# Every LLM call (connecting, retries, the whole reply) ends by this many seconds and reads at most
# this many bytes, so a server trickling a piece every few seconds, or streaming without end, costs
# a bounded wait before the offline answer. A 512-token reply streamed as server-sent events is
# about 100 KB; a local CPU model writes it in well under a minute.
LLM_DEADLINE_S = 120.0
LLM_MAX_BYTES = 4 * 1024 * 1024
K_MAX = 100  # passages one search or question may ask for


def check_k(k: int) -> int:
    """``k`` when it is an integer from 1 to :data:`K_MAX`; the one message for a bad ``k``,
    whether given to ``Config`` or to a call.

    Raises:
        ValueError: anything else.
    """
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= K_MAX:
        raise ValueError(f"k must be between 1 and {K_MAX}, got {k!r}")
    return k


def _positive_int(owner: str, name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}.{name} must be a positive integer, got {value!r}")


def _non_negative_int(owner: str, name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{owner}.{name} must be a non-negative integer, got {value!r}")


def _non_negative(owner: str, name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{owner}.{name} must be >= 0, got {value!r}")


def _model_choice(owner: str, name: str, value: object, what: str) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{owner}.{name} must be 'bundled', {what} or None, got {value!r}")


@dataclass(frozen=True)
class RetrieveSettings:
    """How passages are found (:mod:`rag.retrieve`).

    Args:
        mode: ``hybrid`` (dense + BM25, fused), ``dense`` or ``bm25``.
        candidates: hits taken from each search before fusion.
        fusion: how hybrid search joins the two lists: ``convex`` (weighted sum of min-max scaled
            scores) or ``rrf`` (reciprocal rank fusion).
        dense_weight: weight of the dense list in convex fusion; BM25 gets the rest. On the dev set
            0.25 to 0.4 scored alike, all above RRF (docs/records/evaluation.md).
        rrf_k: reciprocal-rank-fusion constant.
        bm25_weight: weight of the BM25 list in RRF (the dense list weighs 1).
        max_per_article: at most this many passages of one article in the results.
        story_groups: copies of one story (grouped at build time, :mod:`index.dedup`) take one slot;
            each passage lists the other copies in ``Passage.also``.
        recency_weight: weight of the freshness prior (0: off); it decays with age relative to ``as_of``.
        recency_halflife_days: age at which the freshness prior halves.
        date_window: read "this week", "yesterday" and the like as a date range relative to
            ``as_of`` and prefer articles from it. Off: on the dev set it cost 0.17 recall@10.
        idf_prior: how common each word is in news at large (:mod:`rag.idf_prior`): ``bundled``, a
            folder made by ``python -m eval.train_idf_prior``, or None for the collection's own counts.
        idf_prior_weight: how many chunks the prior counts as.
    """

    mode: Retrieval = "hybrid"
    candidates: int = 200
    fusion: Fusion = "convex"
    dense_weight: float = 0.4
    rrf_k: int = RRF_K
    bm25_weight: float = 1.0
    max_per_article: int = 1
    story_groups: bool = True
    recency_weight: float = 0.0
    recency_halflife_days: float = 30.0
    date_window: bool = False
    idf_prior: str | None = "bundled"
    idf_prior_weight: float = 100.0

    def __post_init__(self) -> None:
        if self.mode not in get_args(Retrieval):
            raise ValueError(f"retrieve.mode must be one of {get_args(Retrieval)}, got {self.mode!r}")
        if self.fusion not in get_args(Fusion):
            raise ValueError(f"retrieve.fusion must be one of {get_args(Fusion)}, got {self.fusion!r}")
        if not isinstance(self.dense_weight, (int, float)) or not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError(f"retrieve.dense_weight must be in [0, 1], got {self.dense_weight!r}")
        for name in ("candidates", "rrf_k", "max_per_article"):
            _positive_int("retrieve", name, getattr(self, name))
        for name in ("bm25_weight", "recency_weight", "idf_prior_weight"):
            _non_negative("retrieve", name, getattr(self, name))
        if not isinstance(self.recency_halflife_days, (int, float)) or self.recency_halflife_days <= 0:
            raise ValueError(f"retrieve.recency_halflife_days must be > 0, got {self.recency_halflife_days!r}")
        _model_choice("retrieve", "idf_prior", self.idf_prior, "an IDF prior folder")


@dataclass(frozen=True)
class RerankSettings:
    """How the candidate articles are reordered (:mod:`rag.rerank`).

    Args:
        articles: candidate articles re-scored with whole-article evidence before the top ``k``
            are taken; 0 turns reranking off.
        article_bm25: this many of the best articles by whole-article BM25 join the candidates, and
            that score becomes a rerank signal; 0 turns both off.
        cross_encoder: a cross-encoder model (local folder or cached name) that re-orders the top
            ``cross_encoder_top`` passages last; None (default): off. None ships with Newsdesk.
        cross_encoder_top: passages the cross-encoder reads per question.
    """

    articles: int = 50
    article_bm25: int = 10
    cross_encoder: str | None = None
    cross_encoder_top: int = 20

    def __post_init__(self) -> None:
        _non_negative_int("rerank", "articles", self.articles)
        _non_negative_int("rerank", "article_bm25", self.article_bm25)
        _positive_int("rerank", "cross_encoder_top", self.cross_encoder_top)
        if self.cross_encoder is not None and (not isinstance(self.cross_encoder, str) or not self.cross_encoder):
            raise ValueError(f"rerank.cross_encoder must be a model folder or name, got {self.cross_encoder!r}")


@dataclass(frozen=True)
class ReadSettings:
    """How the offline answer is read from the passages (:mod:`rag.answer`, :mod:`rag.reader`).

    Args:
        passages: top passages whose sentences are read.
        sentences: at most this many sentences in an answer.
        min_support: evidence score under which the answer abstains (0..1).
        reader: the trained reader that picks the answering sentence: ``bundled``
            (``rag/models/reader``), a folder made by ``newsdesk train-reader``, or None for the
            hand-set sentence score.
        reader_cross_encoder: let the reader's cross-encoder read the top 12 sentences. Off: on the
            dev set it added nothing and cost ~125 ms a question (docs/reader.md).
        conflicts: when the best-supported sentences of different articles give different values
            for what was asked, say so (:mod:`rag.conflicts`).
    """

    passages: int = 5
    sentences: int = 2
    min_support: float = 0.46
    reader: str | None = "bundled"
    reader_cross_encoder: bool = False
    conflicts: bool = True

    def __post_init__(self) -> None:
        _positive_int("read", "passages", self.passages)
        _positive_int("read", "sentences", self.sentences)
        if not isinstance(self.min_support, (int, float)) or not 0.0 <= self.min_support <= 1.0:
            raise ValueError(f"read.min_support must be in [0, 1], got {self.min_support!r}")
        _model_choice("read", "reader", self.reader, "a reader folder")


@dataclass(frozen=True)
class GeneratorSettings:
    """The language model that writes answers, when one is set (:mod:`rag.llm`).

    Args:
        base_url: OpenAI-compatible endpoint (``http://localhost:11434/v1``); None: offline.
        model: model name at that endpoint.
        api_key: key for the endpoint (defaults to the environment, never stored on disk).
        timeout: seconds to wait for the endpoint to connect, and for each read of its reply.
        deadline: seconds one call may take in all (connection, retries, the whole reply); past it
            the call ends and the offline answer is shown with a warning.
        max_bytes: bytes of reply one call may read; past it the call ends likewise.
        temperature: sampling temperature.
        max_tokens: most tokens the model may write.
        context_tokens: tokens of passages sent to the model (cl100k count; lower-ranked passages
            are dropped first). ``--llm-gguf`` sends 1,200 unless told otherwise (docs/llm.md).
    """

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    deadline: float = LLM_DEADLINE_S
    max_bytes: int = LLM_MAX_BYTES
    temperature: float = 0.1
    max_tokens: int = 512
    context_tokens: int = 3000

    def __post_init__(self) -> None:
        _positive_int("generator", "context_tokens", self.context_tokens)
        _positive_int("generator", "max_bytes", self.max_bytes)
        _positive_int("generator", "max_tokens", self.max_tokens)
        if not isinstance(self.deadline, (int, float)) or not self.deadline > 0:
            raise ValueError(f"generator.deadline must be a positive number of seconds, got {self.deadline!r}")


STAGES: dict[str, type] = {"retrieve": RetrieveSettings, "rerank": RerankSettings, "read": ReadSettings,
                           "generator": GeneratorSettings, "index": IndexSettings}


@dataclass(frozen=True)
class Config:
    """Settings for an :class:`~rag.Assistant`, nested by stage. Every field has a default.

    Override with ``Config(k=5, read={"min_support": 0.5})`` (a dict changes those fields of a
    stage's defaults), ``config.replace(retrieve={"mode": "bm25"})`` (changes the fields named,
    keeping the rest) or ``config.replace(**{"retrieve.mode": "bm25"})``.

    Args:
        index: how the collection is chunked and embedded (must match the index on disk).
        k: passages returned by ``search`` and shown with an answer (1 to 100).
        retrieve: :class:`RetrieveSettings`.
        rerank: :class:`RerankSettings`.
        read: :class:`ReadSettings`.
        followup: the trained decision whether a question with a history is a follow-up (searched
            rewritten with the conversation's context) or a new topic (:mod:`rag.followup`):
            ``bundled`` or a folder made by ``python -m eval.train_followup``.
        generator: :class:`GeneratorSettings` (the language model; offline when ``base_url`` is None).
        engine: where the dense and BM25 searches run (``index.backend.open_backend``): None
            searches the index folder's own FAISS and bm25s files; a Milvus URL
            (``http://host:19530``) or Milvus Lite file (``milvus-lite:///path/x.db``) searches a
            Milvus engine that mirrors the folder (synced when the assistant opens).
    """

    index: IndexSettings = field(default_factory=IndexSettings)
    k: int = 10
    retrieve: RetrieveSettings = field(default_factory=RetrieveSettings)
    rerank: RerankSettings = field(default_factory=RerankSettings)
    read: ReadSettings = field(default_factory=ReadSettings)
    followup: str = "bundled"
    generator: GeneratorSettings = field(default_factory=GeneratorSettings)
    engine: str | None = None

    def __post_init__(self) -> None:
        for name, kind in STAGES.items():
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, _stage(kind, name, kind(), value))
            elif not isinstance(value, kind):
                raise ValueError(f"{name} must be a {kind.__name__} or a dict of its fields, got {value!r}")
        check_k(self.k)
        if not isinstance(self.followup, str) or not self.followup:
            raise ValueError(f"followup must be 'bundled' or a follow-up model folder, got {self.followup!r}")

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (validated again). A stage may be given as a settings
        record (replacing it), a dict (changing those of its fields) or field by field with a
        dotted name: ``replace(**{"read.min_support": 0.5})``."""
        merged: dict[str, Any] = {}
        for key, value in changes.items():
            stage, _, name = key.partition(".")
            if name:
                merged.setdefault(stage, {})
                if not isinstance(merged[stage], dict):
                    raise ValueError(f"{key!r} given beside a whole {stage!r}")
                merged[stage][name] = value
            elif isinstance(value, Mapping) and stage in STAGES:
                merged.setdefault(stage, {}).update(value)
            else:
                merged[key] = value
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(merged) - fields)
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; valid: {sorted(fields)}")
        for stage, value in merged.items():
            if isinstance(value, dict) and stage in STAGES:
                merged[stage] = _stage(STAGES[stage], stage, getattr(self, stage), value)
        return dataclasses.replace(self, **merged)


def _stage(kind: type, name: str, base: object, changes: Mapping[str, Any]) -> Any:
    """``base`` (a settings record) with ``changes``; an unknown field is named with the valid ones."""
    valid = {f.name for f in dataclasses.fields(kind)}
    unknown = sorted(set(changes) - valid)
    if unknown:
        raise ValueError(f"unknown {name} setting(s) {unknown}; valid: {sorted(valid)}")
    return dataclasses.replace(base, **changes)


# Command-line options (``vars(args)``) and the config setting each one sets.
OPTIONS: dict[str, str] = {
    "k": "k", "retrieval": "retrieve.mode", "candidates": "retrieve.candidates", "fusion": "retrieve.fusion",
    "dense_weight": "retrieve.dense_weight", "rrf_k": "retrieve.rrf_k", "bm25_weight": "retrieve.bm25_weight",
    "max_per_article": "retrieve.max_per_article", "story_groups": "retrieve.story_groups",
    "recency_weight": "retrieve.recency_weight", "recency_halflife_days": "retrieve.recency_halflife_days",
    "date_window": "retrieve.date_window", "idf_prior": "retrieve.idf_prior",
    "idf_prior_weight": "retrieve.idf_prior_weight",
    "rerank": "rerank.articles", "article_bm25": "rerank.article_bm25",
    "cross_encoder": "rerank.cross_encoder", "cross_encoder_top": "rerank.cross_encoder_top",
    "answer_passages": "read.passages", "answer_sentences": "read.sentences", "min_support": "read.min_support",
    "reader": "read.reader", "reader_cross_encoder": "read.reader_cross_encoder", "conflicts": "read.conflicts",
    "followup": "followup",
    "llm_base_url": "generator.base_url", "llm_model": "generator.model", "llm_api_key": "generator.api_key",
    "llm_timeout": "generator.timeout", "llm_deadline": "generator.deadline", "llm_max_bytes": "generator.max_bytes",
    "llm_temperature": "generator.temperature", "llm_max_tokens": "generator.max_tokens",
    "llm_context_tokens": "generator.context_tokens",
    "backend_url": "engine",
    "model": "index.model", "backend": "index.backend",
}
# Options whose value "none" (any case) means None: turning a bundled model off.
_NONE_WORD = ("reader", "idf_prior")


def config_from_options(options: Mapping[str, object]) -> Config:
    """A Config from command-line style options (``vars(args)``): each option named in
    :data:`OPTIONS` sets its setting, None keeps the default, and ``index`` (a folder on the
    command line) and unrelated options are ignored. ``reader="none"`` (``idf_prior="none"``)
    turns the reader (the IDF prior) off."""
    given = {name: value for name, value in options.items() if value is not None and name in OPTIONS}
    for name in _NONE_WORD:
        if str(given.get(name, "")).lower() == "none":
            given[name] = None
    return Config().replace(**{OPTIONS[name]: value for name, value in given.items()})
