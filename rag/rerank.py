"""Article-level reranking: re-score the top candidates with evidence from their whole article.

A news question is about a story, and the passage that matched best is only one view of it.
More signals come from the article as a whole, all already at hand, so nothing is embedded
or re-read:

- similarity: the best dense score any chunk of the article got for the question;
- coverage: the share of the question's IDF-weighted terms found anywhere in the article
  (from the BM25 postings, which index headline + chunk text);
- article BM25 (``config.rerank.article_bm25``): the whole article scored as one document, so
  evidence spread over several chunks adds up (``index.sparse``).

The reader folder's trained ranker (``ranker.txt``) scores the :data:`RANK_FEATURES` of each
candidate with weights learned on the training split. Without a reader (``read.reader=None``,
the baseline training mines with) each signal is min-max scaled over the candidates and they
are added with equal weights (docs/records/evaluation.md).
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


# The trained ranker's inputs per candidate article, in order (the reader manifest stores the
# list: a ranker trained on other columns is refused). Raw and min-max scaled, since a score's
# meaning shifts from query to query and its place among the candidates does not.
RANK_FEATURES = (
    "fused", "fused_scaled", "fused_rank", "similarity", "similarity_scaled", "coverage",
    "article_bm25", "article_bm25_scaled", "from_article_bm25", "title_coverage", "age_days",
    "newer_than", "copies", "chunk_number", "query_terms", "dense_rank", "chunks_found",
)


# The signals of the equal-weight rerank (without whole-article BM25 its column is all zeros,
# which min-max scaling leaves at zero: the same as leaving it out).
EQUAL_WEIGHT = ("fused", "similarity", "coverage", "article_bm25")


def rank_features(*, fused: np.ndarray, dense_rank: np.ndarray, chunks_found: np.ndarray,
                  similarity: np.ndarray, coverage: np.ndarray,
                  article_bm25: np.ndarray | None, from_article_bm25: np.ndarray,
                  title_coverage: np.ndarray, age_days: np.ndarray, copies: np.ndarray,
                  chunk_number: np.ndarray, query_terms: int) -> np.ndarray:
    """The :data:`RANK_FEATURES` matrix (one row per candidate, in retrieval order).

    ``age_days`` is the article's age when the question is asked (NaN when undated);
    ``newer_than`` is the share of the other candidates it is newer than; ``dense_rank`` the
    place of its best chunk among the dense hits; ``chunks_found`` how many of its chunks the
    fused list holds (evidence spread over the article).
    """
    n = len(fused)
    bm25 = np.zeros(n) if article_bm25 is None else np.asarray(article_bm25, dtype=np.float64)
    age = np.asarray(age_days, dtype=np.float64)
    dated = ~np.isnan(age)
    newer = np.full(n, np.nan)
    if dated.sum() > 1:
        order = age[dated].argsort().argsort()  # 0 = the newest
        newer[dated] = 1.0 - order / (dated.sum() - 1)
    columns = [
        fused, minmax(fused), np.arange(n), similarity, minmax(similarity), coverage,
        bm25, minmax(bm25), from_article_bm25, title_coverage, age, newer, copies, chunk_number,
        np.full(n, query_terms), dense_rank, chunks_found,
    ]
    if not n:
        return np.zeros((0, len(RANK_FEATURES)))
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])


def equal_weight_scores(features: np.ndarray) -> np.ndarray:
    """The equal-weight rerank score of each row of a :data:`RANK_FEATURES` matrix (the
    :data:`EQUAL_WEIGHT` columns through :func:`rerank_scores`): the order without a ranker."""
    return rerank_scores(*features[:, [RANK_FEATURES.index(c) for c in EQUAL_WEIGHT]].T)


def rerank_scores(*signals: np.ndarray) -> np.ndarray:
    """The reranked score of each candidate (0..number of signals): the equal-weight sum of the
    min-max scaled signals. Sort with a stable sort so that ties keep the retrieval order."""
    return np.sum([minmax(s) for s in signals], axis=0)
