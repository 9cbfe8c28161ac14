"""The two BM25 indexes (bm25s): one over chunks, one over whole articles.

Chunks are what a search returns, so the chunk index finds the passage. The article index
scores a story as a whole (headline + full text, once): evidence spread over several
chunks adds up there, the way a web search engine ranks a page. Reranking uses it as a
signal and as a second source of candidate articles (``rag.retrieve``).
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np

from index.records import Article
from index.tokenize import terms


def chunk_bm25(articles: Sequence[Article], rows: Sequence[int], starts: Sequence[int],
               ends: Sequence[int]) -> bm25s.BM25:
    """BM25 over each chunk's headline + text (chunk ``i`` is ``articles[rows[i]].text[starts[i]:ends[i]]``)."""
    return _index([terms(articles[r].title + "\n" + articles[r].text[s:e]) for r, s, e in zip(rows, starts, ends)])


def article_bm25(articles: Sequence[Article]) -> bm25s.BM25:
    """BM25 over each article's headline + full text, one document per article."""
    return _index([terms(a.title + "\n" + a.text) for a in articles])


def _index(docs: list[list[str]]) -> bm25s.BM25:
    bm25 = bm25s.BM25()
    bm25.index(docs, show_progress=False)
    return bm25


def scores(bm25: bm25s.BM25, query: str) -> np.ndarray:
    """BM25 score of every document of ``bm25`` for ``query`` (zeros when no term is known)."""
    vocab = bm25.vocab_dict if isinstance(bm25.vocab_dict, dict) else {}
    ids = [vocab[t] for t in terms(query) if t in vocab]
    n = int(bm25.scores["num_docs"])
    return bm25.get_scores(ids).astype(np.float64) if ids and n else np.zeros(n)
