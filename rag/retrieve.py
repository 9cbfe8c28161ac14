"""Hybrid retrieval: FAISS dense search and BM25, fused, filtered, diversified."""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from index.embed import Embedder
from index.store import IndexStore
from index.tokenize import terms
from rag.config import Config
from rag.filters import UNDATED, ArticleFacets, Filters
from rag.fuse import reciprocal_rank_fusion
from rag.records import Passage


@dataclass(frozen=True)
class Hit:
    """A chunk row and its retrieval score, before it becomes a Passage."""

    row: int
    score: float


class Retriever:
    """Finds the chunks of a store that best match a query.

    Args:
        store: the loaded index.
        embedder: the model the index was built with (embeds the query).
        config: retrieval settings (mode, candidates, fusion, diversity).
    """

    def __init__(self, store: IndexStore, embedder: Embedder, config: Config) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.facets = ArticleFacets(store)
        vocab = store.bm25.vocab_dict
        self._vocab = vocab if isinstance(vocab, dict) else {}

    def dense(self, query: str, n: int, mask: np.ndarray | None) -> list[Hit]:
        if self.store.dense.ntotal == 0:
            return []
        qv = self.embedder.embed([query])
        params = None
        if mask is not None:
            if not mask.any():
                return []
            bitmap = np.packbits(mask, bitorder="little")
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap)))
        scores, ids = self.store.dense.search(qv, min(n, self.store.dense.ntotal), params=params)
        return [Hit(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def sparse(self, query: str, n: int, mask: np.ndarray | None) -> list[Hit]:
        tokens = [t for t in terms(query) if t in self._vocab]
        if not tokens or len(self.store) == 0:
            return []
        weight = mask.astype(np.float32) if mask is not None else None
        ids, scores = self.store.bm25.retrieve(
            [tokens], k=min(n, len(self.store)), show_progress=False, weight_mask=weight, n_threads=1,
        )
        return [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]

    def run(self, query: str, *, k: int, filters: Filters = Filters()) -> list[Passage]:
        """The top ``k`` passages for ``query``, best first, at most ``max_per_article`` per article."""
        cfg = self.config
        mask = self.facets.mask(filters)
        if cfg.retrieval == "dense":
            fused = [(h.row, h.score) for h in self.dense(query, cfg.candidates, mask)]
        elif cfg.retrieval == "bm25":
            fused = [(h.row, h.score) for h in self.sparse(query, cfg.candidates, mask)]
        else:
            dense = self.dense(query, cfg.candidates, mask)
            sparse = self.sparse(query, cfg.candidates, mask)
            fused = reciprocal_rank_fusion([[h.row for h in dense], [h.row for h in sparse]], k=cfg.rrf_k,
                                           weights=[1.0, cfg.bm25_weight])
        if cfg.recency_weight > 0 and filters.as_of is not None:
            fused = self._recency(fused, filters.as_of.toordinal())
        return self._diversify(fused, k)

    def _recency(self, ranked: list[tuple[int, float]], as_of: int) -> list[tuple[int, float]]:
        """Scale scores by freshness: ``score * (1 + w * 0.5 ** (age / halflife))``.

        Scale-free, so it works on fused, dense or BM25 scores alike. Undated articles get
        the freshness of an article one half-life old: no reward, no punishment.
        """
        cfg = self.config
        rows = np.fromiter((r for r, _ in ranked), dtype=np.int64, count=len(ranked))
        if len(rows) == 0:
            return ranked
        days = self.facets.chunk_date[rows]
        age = np.where(days == UNDATED, cfg.recency_halflife_days, np.maximum(as_of - days, 0))
        boost = 1.0 + cfg.recency_weight * 0.5 ** (age / cfg.recency_halflife_days)
        rescored = [(r, s * b) for (r, s), b in zip(ranked, boost.tolist())]
        return sorted(rescored, key=lambda rs: -rs[1])

    def _diversify(self, ranked: list[tuple[int, float]], k: int) -> list[Passage]:
        per_article: dict[int, int] = {}
        out: list[Passage] = []
        for row, score in ranked:
            art_row = int(self.store.chunk_article[row])
            if per_article.get(art_row, 0) >= self.config.max_per_article:
                continue
            per_article[art_row] = per_article.get(art_row, 0) + 1
            out.append(self.passage(row, score))
            if len(out) >= k:
                break
        return out

    def neighbours(self, passages: list[Passage], *, radius: int = 1) -> list[Passage]:
        """Chunks next to the given passages in their articles (an answer often sits one
        chunk after the one that matched the question), each once, none already given."""
        seen = {p.chunk_id for p in passages}
        out: list[Passage] = []
        for p in passages:
            article_id, _, n = p.chunk_id.rpartition("#")
            if not article_id or article_id not in self.store.article_row:
                continue
            rows = self.store.chunk_rows(article_id)
            for j in range(int(n) - radius, int(n) + radius + 1):
                if 0 <= j < len(rows) and f"{article_id}#{j}" not in seen:
                    seen.add(f"{article_id}#{j}")
                    out.append(self.passage(int(rows[j]), 0.0))
        return out

    def passage(self, row: int, score: float) -> Passage:
        a = self.store.articles[int(self.store.chunk_article[row])]
        s, e = int(self.store.chunk_start[row]), int(self.store.chunk_end[row])
        return Passage(
            article_id=a.id, title=a.title, url=a.url, source=a.source, date=a.date,
            text=a.text[s:e], start=s, end=e, score=score, chunk_id=self.store.chunk_id(row),
        )
