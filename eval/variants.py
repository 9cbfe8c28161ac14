"""Named pipeline variants for ``newsdesk eval --compare``: each is a set of
:class:`rag.Config` changes applied with ``Assistant.with_config``. They are measurements'
switches, so they live with the evaluation, not in the answer path."""

from __future__ import annotations

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
