"""The one configuration object: index settings plus retrieval and answering knobs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

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
    if not isinstance(k, int) or not 1 <= k <= K_MAX:
        raise ValueError(f"k must be between 1 and {K_MAX}, got {k!r}")
    return k


@dataclass(frozen=True)
class Config:
    """Settings for an :class:`~rag.Assistant`. Every field has a default; override any with
    ``Config(k=5)`` or ``config.replace(retrieval="bm25")``.

    Args:
        index: how the collection is chunked and embedded (must match the index on disk).
        retrieval: ``hybrid`` (dense + BM25, fused), ``dense`` or ``bm25``.
        k: passages returned by ``search`` and shown with an answer.
        candidates: hits taken from each retriever before fusion.
        fusion: how hybrid search joins the two lists: ``convex`` (weighted sum of min-max
            scaled scores, the default) or ``rrf`` (reciprocal rank fusion).
        dense_weight: weight of the dense list in convex fusion; BM25 gets the rest. On the
            dev set 0.25 to 0.4 scored alike, all above RRF (README, "Evaluation"); 0.4, the
            most balanced of them, also keeps short tail chunks (whose headline words weigh
            more in BM25) from standing in for the passage that matched.
        rrf_k: reciprocal-rank-fusion constant.
        bm25_weight: weight of the BM25 list in RRF (the dense list weighs 1).
        rerank: candidate articles re-scored with whole-article evidence (best chunk
            similarity, question-term coverage, whole-article BM25) before the top ``k`` are
            taken; 0 turns reranking off (see :mod:`rag.rerank`).
        article_bm25: when reranking, this many of the best articles by whole-article BM25
            join the candidates (stories whose evidence is spread over several chunks), and
            that score becomes a rerank signal; 0 turns both off.
        cross_encoder: a cross-encoder model (local folder or cached name) that re-orders the
            top ``cross_encoder_top`` passages last; None (default) turns the stage off. None
            ships with Newsdesk; see :mod:`rag.cross_encoder`.
        cross_encoder_top: passages the cross-encoder reads per question (cost grows with it).
        max_per_article: at most this many passages of one article in the results, so
            overlapping chunks of one story do not crowd out other stories.
        story_groups: count the copies of one story (syndicated re-posts, updated versions; grouped
            at build time, :mod:`index.dedup`) as one article in the results, so a story on twenty
            sites takes one slot; each passage lists the other copies in ``Passage.also``.
        recency_weight: weight of the freshness prior (0 turns it off); freshness decays
            with the age of the article relative to ``as_of``.
        recency_halflife_days: age at which the freshness prior halves.
        date_window: read "this week", "yesterday" and the like in a question as a date range
            relative to ``as_of`` and prefer articles from it. Off by default: on the RealTimeQA
            dev set it cost 0.17 recall@10 and 0.013 MC accuracy (see README, "Evaluation").
        answer_passages: top passages the extractive answerer reads sentences from.
        answer_sentences: at most this many sentences in an extractive answer.
        min_support: evidence score under which the assistant abstains (0..1).
        idf_prior: how common each word is in news at large (:mod:`rag.idf_prior`): the words
            in at least 15% of news articles are blended into the collection's IDF, so that in a
            small collection "made" does not weigh more than "cut": ``bundled``
            (``rag/models/idf-prior``, counted over the training split), a folder made by
            ``python -m eval.train_idf_prior``, or None for the collection's own counts only.
        idf_prior_weight: how many chunks the prior counts as (its pseudo-chunks): it outweighs
            a 50-article collection's own counts and is lost in the dev set's 40,176 chunks.
        reader: the trained reader that picks the answering sentence (:mod:`rag.reader`):
            ``bundled`` (the one shipped in ``rag/models/reader``), a folder made by
            ``newsdesk train-reader``, or None for the hand-set sentence score.
        reader_cross_encoder: let the reader's cross-encoder read the top 12 sentences and rank
            with the combiner trained on its scores. Off by default: on the dev set it added
            nothing to answer accuracy over the lexical combiner and cost ~125 ms a question
            (docs/reader.md).
        reader_choice_weight: in ``choose``, weight of the reader's votes (sentences it believes
            answer, naming a choice) against the hand-set votes; 0 leaves them out. Used when
            the chooser is off or the reader has none.
        chooser: in ``choose``, let the reader folder's trained chooser (``chooser.txt``) weigh
            each option's evidence; False mixes the votes by ``reader_choice_weight``.
        learned_rerank: order the rerank candidates by the reader folder's trained article
            ranker (``ranker.txt``, :mod:`rag.rerank`); False (or no reader) adds the hand-set
            signals with equal weights.
        conflicts: when the best-supported sentences of different articles give different values
            for what was asked, say so in the answer and set ``Answer.disagreement``
            (:mod:`rag.conflicts`); False answers without the note.
        followup: the trained decision whether a question with a history is a follow-up (search
            it rewritten with the conversation's context) or a new topic (:mod:`rag.followup`):
            ``bundled`` (``rag/models/followup``), a folder made by ``python -m
            eval.train_followup``, or None for the hand-set rule (:func:`rag.query.resolve`).
        llm_base_url: OpenAI-compatible endpoint (``http://localhost:11434/v1``); None: offline.
        llm_model: model name at that endpoint.
        llm_api_key: key for the endpoint (defaults to the environment, never stored on disk).
        llm_timeout: seconds to wait for the endpoint to connect, and for each read of its reply.
        llm_deadline: seconds one LLM call may take in all (connection, retries, the whole reply);
            past it the call ends and the offline answer is shown with a warning.
        llm_max_bytes: bytes of reply one LLM call may read; past it the call ends likewise.
        llm_temperature: sampling temperature.
        llm_max_tokens: most tokens the model may write.
        llm_context_tokens: tokens of passages sent to the model (cl100k count; lower-ranked
            passages are dropped first). ``--llm-gguf`` sends 1,200 unless told otherwise
            (docs/llm.md: a small CPU model reads about 190 tokens a second).
        backend_url: where the dense and BM25 searches run (``index.backend.open_backend``):
            None searches the index folder's own FAISS and bm25s files; a Milvus URL
            (``http://host:19530``) or Milvus Lite file (``milvus-lite:///path/x.db``) searches
            a Milvus engine that mirrors the folder (synced when the assistant opens).
    """

    index: IndexSettings = field(default_factory=IndexSettings)
    retrieval: Retrieval = "hybrid"
    k: int = 10
    candidates: int = 200
    fusion: Fusion = "convex"
    dense_weight: float = 0.4
    rrf_k: int = RRF_K
    bm25_weight: float = 1.0
    rerank: int = 50
    article_bm25: int = 10
    cross_encoder: str | None = None
    cross_encoder_top: int = 20
    max_per_article: int = 1
    story_groups: bool = True
    recency_weight: float = 0.0
    recency_halflife_days: float = 30.0
    date_window: bool = False
    answer_passages: int = 5
    answer_sentences: int = 2
    min_support: float = 0.46
    idf_prior: str | None = "bundled"
    idf_prior_weight: float = 100.0
    reader: str | None = "bundled"
    reader_cross_encoder: bool = False
    reader_choice_weight: float = 1.0
    chooser: bool = True
    learned_rerank: bool = True
    conflicts: bool = True
    followup: str | None = "bundled"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_timeout: float = 60.0
    llm_deadline: float = LLM_DEADLINE_S
    llm_max_bytes: int = LLM_MAX_BYTES
    llm_temperature: float = 0.1
    llm_max_tokens: int = 512
    llm_context_tokens: int = 3000
    backend_url: str | None = None

    def __post_init__(self) -> None:
        if self.retrieval not in get_args(Retrieval):
            raise ValueError(f"retrieval must be one of {get_args(Retrieval)}, got {self.retrieval!r}")
        if self.fusion not in get_args(Fusion):
            raise ValueError(f"fusion must be one of {get_args(Fusion)}, got {self.fusion!r}")
        if not 0.0 <= self.dense_weight <= 1.0:
            raise ValueError(f"dense_weight must be in [0, 1], got {self.dense_weight!r}")
        for name in ("rerank", "article_bm25"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.reader is not None and (not isinstance(self.reader, str) or not self.reader):
            raise ValueError(f"reader must be 'bundled', a reader folder or None, got {self.reader!r}")
        if self.followup is not None and (not isinstance(self.followup, str) or not self.followup):
            raise ValueError(f"followup must be 'bundled', a follow-up model folder or None, got {self.followup!r}")
        if self.idf_prior is not None and (not isinstance(self.idf_prior, str) or not self.idf_prior):
            raise ValueError(f"idf_prior must be 'bundled', an IDF prior folder or None, got {self.idf_prior!r}")
        if not isinstance(self.idf_prior_weight, (int, float)) or self.idf_prior_weight < 0:
            raise ValueError(f"idf_prior_weight must be >= 0, got {self.idf_prior_weight!r}")
        if self.cross_encoder is not None and (not isinstance(self.cross_encoder, str) or not self.cross_encoder):
            raise ValueError(f"cross_encoder must be a model folder or name, got {self.cross_encoder!r}")
        check_k(self.k)
        for name in ("candidates", "rrf_k", "max_per_article", "answer_passages", "answer_sentences",
                     "cross_encoder_top"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.llm_context_tokens, int) or self.llm_context_tokens < 1:
            raise ValueError(f"llm_context_tokens must be a positive integer, got {self.llm_context_tokens!r}")
        if not isinstance(self.llm_max_bytes, int) or self.llm_max_bytes < 1:
            raise ValueError(f"llm_max_bytes must be a positive integer, got {self.llm_max_bytes!r}")
        if not isinstance(self.llm_deadline, (int, float)) or not self.llm_deadline > 0:
            raise ValueError(f"llm_deadline must be a positive number of seconds, got {self.llm_deadline!r}")
        if self.bm25_weight < 0:
            raise ValueError(f"bm25_weight must be >= 0, got {self.bm25_weight!r}")
        if self.recency_weight < 0 or self.recency_halflife_days <= 0:
            raise ValueError(
                f"recency_weight must be >= 0 and recency_halflife_days > 0, got {self.recency_weight!r}, "
                f"{self.recency_halflife_days!r}"
            )
        if not isinstance(self.reader_choice_weight, (int, float)) or self.reader_choice_weight < 0:
            raise ValueError(f"reader_choice_weight must be >= 0, got {self.reader_choice_weight!r}")
        if not 0.0 <= self.min_support <= 1.0:
            raise ValueError(f"min_support must be in [0, 1], got {self.min_support!r}")

    def replace(self, **changes) -> Config:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)


def config_from_options(options: Mapping[str, object]) -> Config:
    """A Config from command-line style options (``vars(args)``): ``model`` and ``backend`` go to
    the index settings, every other option named like a Config field sets it, and None keeps the
    default. ``index`` (a folder on the command line) and unrelated options are ignored.
    ``reader="none"`` (``followup="none"``, ``idf_prior="none"``) turns the reader (the trained
    follow-up decision, the IDF prior) off; None there would mean the default."""
    given = {name: value for name, value in options.items() if value is not None}
    for name in ("reader", "followup", "idf_prior"):
        if str(given.get(name, "")).lower() == "none":
            given[name] = None
    settings = IndexSettings(**{name: given[name] for name in ("model", "backend") if name in given})
    fields = {f.name for f in dataclasses.fields(Config)} - {"index"}
    return Config(index=settings, **{name: value for name, value in given.items() if name in fields})


# Named pipeline variants for ``newsdesk eval --compare``: each is a set of Config changes.
VARIANTS: dict[str, dict] = {
    "bm25": {"retrieval": "bm25", "rerank": 0},
    "dense": {"retrieval": "dense", "rerank": 0},
    "hybrid": {"retrieval": "hybrid"},
    "hybrid-rerank": {"retrieval": "hybrid", "rerank": 0},
    "hybrid-articlebm25": {"retrieval": "hybrid", "article_bm25": 0},
    # Without the cross-encoder that ``newsdesk eval --cross-encoder`` adds to every variant.
    "hybrid-crossencoder": {"retrieval": "hybrid", "cross_encoder": None},
    "hybrid-rrf": {"retrieval": "hybrid", "fusion": "rrf", "candidates": 100, "rerank": 0},
    "hybrid+window": {"retrieval": "hybrid", "date_window": True},
    "hybrid+recency": {"retrieval": "hybrid", "recency_weight": 0.5},
    "hybrid+recency-strong": {"retrieval": "hybrid", "recency_weight": 2.0, "recency_halflife_days": 14.0},
    "hybrid+2per-article": {"retrieval": "hybrid", "max_per_article": 2},
    # Copies of one story each take a slot, as before story groups (index/dedup.py).
    "hybrid-stories": {"retrieval": "hybrid", "story_groups": False},
    "hybrid-rrf+bm25x1.5": {"retrieval": "hybrid", "fusion": "rrf", "bm25_weight": 1.5, "rerank": 0},
    "hybrid+dense0.3": {"retrieval": "hybrid", "dense_weight": 0.3},
    "hybrid+1sentence": {"retrieval": "hybrid", "answer_sentences": 1},
    # The language model writes the answers from the same passages (``eval.runner.uses_llm``:
    # ``newsdesk eval --compare hybrid,hybrid+llm --llm-gguf PATH``).
    "hybrid+llm": {"retrieval": "hybrid"},
    # The trained reader's uses, each switched off alone (``newsdesk eval --compare``).
    "hybrid-reader": {"retrieval": "hybrid", "reader": None},
    "hybrid+reader-crossencoder": {"retrieval": "hybrid", "reader_cross_encoder": True},
    "hybrid-reader-choose": {"retrieval": "hybrid", "reader_choice_weight": 0.0, "chooser": False},
    "hybrid-chooser": {"retrieval": "hybrid", "chooser": False},
    "hybrid-conflicts": {"retrieval": "hybrid", "conflicts": False},
    "hybrid-ranker": {"retrieval": "hybrid", "learned_rerank": False},
    # Follow-up or new topic by the hand-set rule instead of the trained decision.
    "hybrid-followup": {"retrieval": "hybrid", "followup": None},
    # The collection's own IDF only, without the news-wide counts of common words.
    "hybrid-idfprior": {"retrieval": "hybrid", "idf_prior": None},
    # The searches run in the engine at ``--backend-url`` (``eval.runner.uses_engine``); every
    # other variant searches the index folder: ``--compare hybrid,hybrid+engine``.
    "hybrid+engine": {"retrieval": "hybrid"},
}
