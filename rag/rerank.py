"""Article-level reranking: re-score the top candidates with evidence from their whole article.

A news question is about a story, and the passage that matched best is only one view of it.
More signals come from the article as a whole, all already at hand, so nothing is embedded
or re-read:

- similarity: the best dense score any chunk of the article got for the question;
- coverage: the share of the question's IDF-weighted terms found anywhere in the article
  (from the BM25 postings, which index headline + chunk text);
- article BM25 (``Config.article_bm25``): the whole article scored as one document, so
  evidence spread over several chunks adds up (``index.sparse``).

Each signal is min-max scaled over the candidates and they are added with equal weights.
On the RealTimeQA dev set each raised article recall@10 and MRR@10 (README, "Evaluation").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def minmax(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to [0, 1]; all zeros when they are all equal."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return values
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def article_similarity(dense_hits: Sequence[tuple[int, float]], chunk_article: np.ndarray,
                       articles: np.ndarray) -> np.ndarray:
    """For each article row, the best score of its chunks among ``dense_hits`` (row, score).

    An article with no chunk in the list gets the list's lowest score: it ranked below all of
    them. Without dense hits (BM25-only search) every article gets 0.
    """
    if not dense_hits:
        return np.zeros(len(articles))
    best: dict[int, float] = {}
    for row, score in dense_hits:
        a = int(chunk_article[row])
        if score > best.get(a, -np.inf):
            best[a] = score
    floor = min(score for _, score in dense_hits)
    return np.array([best.get(int(a), floor) for a in articles], dtype=np.float64)


def article_coverage(query_weights: Mapping[int, float], total_weight: float, postings,  # noqa: ANN001
                     chunk_article: np.ndarray, articles: np.ndarray) -> np.ndarray:
    """Share of the query's term weight present in each article.

    Args:
        query_weights: vocabulary id -> weight, for the query terms the collection has.
        total_weight: weight of all query terms, those the collection lacks included.
        postings: a function from vocabulary id to the chunk rows holding that term.
        chunk_article: chunk row -> article row.
        articles: the candidate article rows.
    """
    if total_weight <= 0 or len(articles) == 0:
        return np.zeros(len(articles))
    cov = np.zeros(len(articles))
    for term_id, weight in query_weights.items():
        holding = np.unique(chunk_article[postings(term_id)])
        cov += weight * np.isin(articles, holding)
    return cov / total_weight


def rerank_scores(*signals: np.ndarray) -> np.ndarray:
    """The reranked score of each candidate (0..number of signals): the equal-weight sum of the
    min-max scaled signals. Sort with a stable sort so that ties keep the retrieval order."""
    return np.sum([minmax(s) for s in signals], axis=0)
