"""Named pipeline variants for ``newsdesk eval --compare``: each is a set of :class:`rag.Config`
changes (dotted ``stage.field`` names) applied with ``Assistant.with_config``. They are
measurements' switches, so they live with the evaluation, not in the answer path."""

from __future__ import annotations

VARIANTS: dict[str, dict] = {
    "bm25": {"retrieve.mode": "bm25", "rerank.articles": 0},
    "dense": {"retrieve.mode": "dense", "rerank.articles": 0},
    "hybrid": {"retrieve.mode": "hybrid"},
    "hybrid-rerank": {"retrieve.mode": "hybrid", "rerank.articles": 0},
    "hybrid-articlebm25": {"retrieve.mode": "hybrid", "rerank.article_bm25": 0},
    # Without the cross-encoder that ``newsdesk eval --cross-encoder`` adds to every variant.
    "hybrid-crossencoder": {"retrieve.mode": "hybrid", "rerank.cross_encoder": None},
    "hybrid-rrf": {"retrieve.mode": "hybrid", "retrieve.fusion": "rrf", "retrieve.candidates": 100,
                   "rerank.articles": 0},
    "hybrid+window": {"retrieve.mode": "hybrid", "retrieve.date_window": True},
    "hybrid+recency": {"retrieve.mode": "hybrid", "retrieve.recency_weight": 0.5},
    "hybrid+recency-strong": {"retrieve.mode": "hybrid", "retrieve.recency_weight": 2.0,
                              "retrieve.recency_halflife_days": 14.0},
    "hybrid+2per-article": {"retrieve.mode": "hybrid", "retrieve.max_per_article": 2},
    # Copies of one story each take a slot, as before story groups (index/dedup.py).
    "hybrid-stories": {"retrieve.mode": "hybrid", "retrieve.story_groups": False},
    "hybrid-rrf+bm25x1.5": {"retrieve.mode": "hybrid", "retrieve.fusion": "rrf", "retrieve.bm25_weight": 1.5,
                            "rerank.articles": 0},
    "hybrid+dense0.3": {"retrieve.mode": "hybrid", "retrieve.dense_weight": 0.3},
    "hybrid+1sentence": {"retrieve.mode": "hybrid", "read.sentences": 1},
    # The language model writes the answers from the same passages (``eval.runner.uses_llm``:
    # ``newsdesk eval --compare hybrid,hybrid+llm --llm-gguf PATH``).
    "hybrid+llm": {"retrieve.mode": "hybrid"},
    # The trained reader's uses, each switched off alone (``newsdesk eval --compare``).
    "hybrid-reader": {"retrieve.mode": "hybrid", "read.reader": None},
    "hybrid+reader-crossencoder": {"retrieve.mode": "hybrid", "read.reader_cross_encoder": True},
    "hybrid-conflicts": {"retrieve.mode": "hybrid", "read.conflicts": False},
    # The collection's own IDF only, without the news-wide counts of common words.
    "hybrid-idfprior": {"retrieve.mode": "hybrid", "retrieve.idf_prior": None},
    # The searches run in the engine at ``--backend-url`` (``eval.runner.uses_engine``); every
    # other variant searches the index folder: ``--compare hybrid,hybrid+engine``.
    "hybrid+engine": {"retrieve.mode": "hybrid"},
}
