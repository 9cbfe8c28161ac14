"""Article-level reranking: the signals, the whole-article BM25 candidates, and the reranked
search on the real sample."""

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from rag.config import Config, config_from_options
from rag.rerank import article_coverage, article_similarity, minmax, rerank_scores

IDEF = "idef-2025-hasanov-gorgun"


def test_minmax():
    assert minmax(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert minmax(np.array([5.0, 5.0])).tolist() == [0.0, 0.0]
    assert len(minmax(np.array([]))) == 0


def test_article_similarity_takes_the_best_chunk_and_floors_the_rest():
    chunk_article = np.array([0, 0, 1, 2])
    hits = [(1, 0.8), (0, 0.6), (2, 0.5)]
    sims = article_similarity(hits, chunk_article, np.array([0, 1, 2]))
    assert sims.tolist() == [0.8, 0.5, 0.5]  # article 2 has no hit: the list's lowest score
    assert article_similarity([], chunk_article, np.array([0, 1])).tolist() == [0.0, 0.0]


def test_article_coverage_counts_terms_anywhere_in_the_article():
    chunk_article = np.array([0, 0, 1])
    postings = {10: np.array([0]), 11: np.array([1, 2])}  # term 10 in chunk 0, term 11 in chunks 1 and 2
    cov = article_coverage({10: 2.0, 11: 1.0}, 4.0, postings.__getitem__, chunk_article, np.array([0, 1]))
    # Article 0 holds both terms (3 of 4: a fourth unit of weight is a term the collection lacks).
    assert cov.tolist() == [0.75, 0.25]
    assert article_coverage({}, 0.0, postings.__getitem__, chunk_article, np.array([0])).tolist() == [0.0]


def test_rerank_scores_add_the_scaled_signals():
    combined = rerank_scores(np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    assert combined.tolist() == [1.0, 2.0]
    four = rerank_scores(np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([3.0, 1.0]))
    assert four.tolist() == [2.0, 2.0]


def _retriever(tmp_path, hash_embedder, **config):
    from index.build import write_collection
    from index.settings import IndexSettings
    from index.store import IndexStore
    from rag.retrieve import Retriever
    from tests.conftest import make_articles

    settings = IndexSettings(model="hash-64", chunk_tokens=32, chunk_overlap=8)
    articles = [replace(a, date=date(2025, 1, i + 1)) for i, a in enumerate(make_articles(6))]
    write_collection(tmp_path / "idx", articles, settings=settings, embedder=hash_embedder, progress=False)
    store = IndexStore.load(tmp_path / "idx", settings=settings)
    return Retriever(store, hash_embedder, config_from_options(config).replace(index=settings))


def test_rank_features_hold_raw_and_scaled_signals_in_order():
    from rag.rerank import RANK_FEATURES, rank_features

    x = rank_features(fused=np.array([0.9, 0.5, 0.0]), dense_rank=np.array([0, 3, 200]),
                      chunks_found=np.array([2, 1, 0]), similarity=np.array([0.8, 0.6, 0.4]),
                      coverage=np.array([1.0, 0.5, 0.25]), article_bm25=None, from_article_bm25=np.array([0, 0, 1]),
                      title_coverage=np.array([0.5, 0.0, 0.0]), age_days=np.array([3.0, np.nan, 10.0]),
                      copies=np.array([0, 2, 0]), chunk_number=np.array([0, 4, 1]), query_terms=5)
    col = {name: x[:, i] for i, name in enumerate(RANK_FEATURES)}
    assert x.shape == (3, len(RANK_FEATURES))
    assert col["fused_scaled"].tolist() == [1.0, pytest.approx(5 / 9), 0.0]
    assert col["fused_rank"].tolist() == [0, 1, 2] and col["query_terms"].tolist() == [5, 5, 5]
    assert col["article_bm25"].tolist() == [0, 0, 0] and col["article_bm25_scaled"].tolist() == [0, 0, 0]
    # Newer than the other dated candidates: the 3-day-old one is newest; undated stays unknown.
    assert col["newer_than"][0] == 1.0 and col["newer_than"][2] == 0.0 and np.isnan(col["newer_than"][1])
    assert rank_features(fused=np.zeros(0), dense_rank=np.zeros(0), chunks_found=np.zeros(0),
                         similarity=np.zeros(0), coverage=np.zeros(0), article_bm25=None,
                         from_article_bm25=np.zeros(0), title_coverage=np.zeros(0), age_days=np.zeros(0),
                         copies=np.zeros(0), chunk_number=np.zeros(0), query_terms=0).shape == (0, len(RANK_FEATURES))


def test_a_ranker_orders_the_candidates_by_its_scores(tmp_path, hash_embedder):
    from rag.rerank import RANK_FEATURES

    query = "story number marathon record"
    r = _retriever(tmp_path, hash_embedder, rerank=6, article_bm25=3)
    articles, features = r.rerank_candidates(query)
    # A ranker that prefers the last candidate by fused rank turns the order around.
    r.ranker = lambda x: x[:, RANK_FEATURES.index("fused_rank")]
    found = r.run(query, k=len(articles))
    assert [p.article_id for p in found] == [r.store.articles[a].id for a in articles[::-1]]
    assert [p.score for p in found] == sorted((float(v) for v in features[:, 2]), reverse=True)


def test_whole_article_bm25_adds_candidates_the_chunk_lists_missed(tmp_path, hash_embedder):
    from index.sparse import scores

    query = "story number marathon record"
    narrow = dict(candidates=1, rerank=3, max_per_article=1)
    without = _retriever(tmp_path, hash_embedder, article_bm25=0, **narrow).run(query, k=6)
    r = _retriever(tmp_path / "b", hash_embedder, article_bm25=3, **narrow)
    found = r.run(query, k=6)
    assert len({p.article_id for p in without}) <= 2  # one chunk from each list
    assert len({p.article_id for p in found}) == len({p.article_id for p in without}) + 3
    by_article = scores(r.store.article_bm25, query)
    added = {p.article_id for p in found} - {p.article_id for p in without}
    best = {r.store.articles[i].id for i in np.argsort(-by_article)[:3 + len(without)]}
    assert added <= best  # the added stories are the best by whole-article BM25
    assert found == sorted(found, key=lambda p: -p.score)
    for p in found:  # each added article comes as a real passage of its own text
        art = r.store.articles[r.store.article_row[p.article_id]]
        assert art.text[p.start:p.end] == p.text


def test_whole_article_candidates_obey_the_filters(tmp_path, hash_embedder):
    from index.filters import Filters

    r = _retriever(tmp_path, hash_embedder, candidates=1, rerank=3, article_bm25=5)
    found = r.run("story number", k=6, filters=Filters(date_from=date(2025, 1, 3), date_to=date(2025, 1, 4)))
    assert {p.article_id for p in found} == {"a2", "a3"}  # dated Jan 3 and 4


def test_config_validates_fusion_and_rerank():
    with pytest.raises(ValueError, match="fusion"):
        Config(retrieve={"fusion": "max"})
    with pytest.raises(ValueError, match="dense_weight"):
        Config(retrieve={"dense_weight": 1.5})
    with pytest.raises(ValueError, match="rerank"):
        Config(rerank={"articles": -1})
    with pytest.raises(ValueError, match="article_bm25"):
        Config(rerank={"article_bm25": -2})


def test_config_from_command_line_options():
    from rag.config import config_from_options

    config = config_from_options({"index": "/some/folder", "model": "my-model", "backend": None, "k": 5,
                                  "rerank": 0, "cross_encoder": "ce", "question": "Who?", "fusion": None})
    assert config.index.model == "my-model" and config.index.backend == "auto"  # None keeps the default
    assert (config.k, config.rerank.articles, config.rerank.cross_encoder) == (5, 0, "ce")
    assert config.retrieve.fusion == "convex"
    with pytest.raises(ValueError, match="k must be"):
        config_from_options({"k": 0})


@pytest.mark.slow
def test_reranked_search_on_the_sample(sample_assistant):
    question = "Who did Hasanov meet at IDEF 2025?"
    reranked = sample_assistant.search(question, k=10)
    plain = sample_assistant.with_config(rerank={"articles": 0}).search(question, k=10)
    assert reranked[0].article_id == IDEF and plain[0].article_id == IDEF
    assert reranked == sorted(reranked, key=lambda p: -p.score)
    # Without whole-article BM25, reranking reorders the same candidates and adds none.
    chunk_only = sample_assistant.with_config(rerank={"article_bm25": 0}).search(question, k=10)
    wider = {p.article_id for p in sample_assistant.with_config(rerank={"articles": 0}).search(question, k=50)}
    assert {p.article_id for p in chunk_only} <= wider
    rrf = sample_assistant.with_config(retrieve={"fusion": "rrf"}, rerank={"articles": 0}).search(question, k=5)
    assert rrf[0].article_id == IDEF
