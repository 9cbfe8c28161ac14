"""Article-level reranking: the three signals, and the reranked search on the real sample."""

import numpy as np
import pytest

from rag.config import Config
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


def test_config_validates_fusion_and_rerank():
    with pytest.raises(ValueError, match="fusion"):
        Config(fusion="max")
    with pytest.raises(ValueError, match="dense_weight"):
        Config(dense_weight=1.5)
    with pytest.raises(ValueError, match="rerank"):
        Config(rerank=-1)


@pytest.mark.slow
def test_reranked_search_on_the_sample(sample_assistant):
    question = "Who did Hasanov meet at IDEF 2025?"
    reranked = sample_assistant.search(question, k=10)
    plain = sample_assistant.with_config(rerank=0).search(question, k=10)
    assert reranked[0].article_id == IDEF and plain[0].article_id == IDEF
    assert reranked == sorted(reranked, key=lambda p: -p.score)
    # Reranking reorders the same candidates; it adds no article from outside them.
    wider = {p.article_id for p in sample_assistant.with_config(rerank=0).search(question, k=50)}
    assert {p.article_id for p in reranked} <= wider
    rrf = sample_assistant.with_config(fusion="rrf", rerank=0).search(question, k=5)
    assert rrf[0].article_id == IDEF
