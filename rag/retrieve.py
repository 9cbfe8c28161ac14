"""Hybrid retrieval: FAISS dense search and BM25, fused, filtered, diversified, reranked by article."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from index.backend import ChunkSearch, LocalSearch
from index.embed import Embedder
from index.filters import UNDATED, ArticleFacets, Filters
from index.records import Hit
from index.sparse import scores as bm25_scores
from index.store import IndexStore
from index.tokenize import terms
from rag.config import Config
from rag.cross_encoder import CrossEncoderReranker
from rag.fuse import convex_fusion, reciprocal_rank_fusion
from rag.idf_prior import IdfPrior, blended_idf
from rag.records import Copy, Passage
from rag.rerank import article_coverage, article_similarity, equal_weight_scores, rank_features


class Retriever:
    """Finds the chunks of a store that best match a query.

    Args:
        store: the loaded index.
        embedder: the model the index was built with (embeds the query).
        config: retrieval settings (mode, candidates, fusion, diversity).
        cross_encoder: the optional last stage, re-ordering the top ``config.rerank.cross_encoder_top``.
        ranker: scores the :data:`rag.rerank.RANK_FEATURES` matrix of the rerank candidates (the
            reader folder's trained ranker); None adds the scaled signals with equal weights.
        search: where the dense and BM25 candidate searches run (``index.backend``); None: the
            store's own FAISS and bm25s files.
        prior: how common each term is in news at large (:mod:`rag.idf_prior`), blended into
            the IDF as ``config.retrieve.idf_prior_weight`` pseudo-chunks; None: the collection's own counts.
    """

    def __init__(self, store: IndexStore, embedder: Embedder, config: Config,
                 cross_encoder: CrossEncoderReranker | None = None,
                 ranker: Callable[[np.ndarray], np.ndarray] | None = None,
                 search: ChunkSearch | None = None, prior: IdfPrior | None = None) -> None:
        self.store = store
        self.search = search or LocalSearch(store)
        self.embedder = embedder
        self.config = config
        self.cross_encoder = cross_encoder
        self.ranker = ranker
        self.facets = ArticleFacets(store)
        vocab = store.bm25.vocab_dict
        self._vocab = vocab if isinstance(vocab, dict) else {}
        # BM25 postings (term id -> chunk rows), for IDF and for article coverage in reranking.
        self._indptr = np.asarray(store.bm25.scores["indptr"])
        self._indices = np.asarray(store.bm25.scores["indices"])
        n = max(len(store), 1)
        df = np.diff(self._indptr)
        self.prior = prior
        self._weight = config.retrieve.idf_prior_weight if prior is not None else 0.0
        shares = np.zeros(len(df))
        if prior is not None:  # only the common terms are blended: look those up, not the vocabulary
            for term, share in prior.common_terms.items():
                i = self._vocab.get(term)
                if i is not None and i < len(df):
                    shares[i] = share
        self._n = n
        self._idf = blended_idf(df, n, shares, self._weight)
        self._max_idf = float(blended_idf(0.0, n, 0.0, self._weight))  # a term no chunk (and no news) holds

    @property
    def max_idf(self) -> float:
        """The IDF of a term no chunk holds: the largest there is."""
        return self._max_idf

    def idf(self, term: str) -> float:
        """Inverse document frequency of a (stemmed) term over the chunks (and the prior's
        pseudo-chunks of news at large)."""
        i = self._vocab.get(term)
        if i is not None and i < len(self._idf):
            return float(self._idf[i])
        if self.prior is None:
            return self._max_idf
        return float(blended_idf(0.0, self._n, self.prior.common(term), self._weight))

    def dense(self, query: str, n: int, filters: Filters) -> list[Hit]:
        return self.search.dense(self.embedder.embed_query(query), n, filters)

    def sparse(self, query: str, n: int, filters: Filters) -> list[Hit]:
        return self.search.sparse(terms(query), n, filters)

    def run(self, query: str, *, k: int, filters: Filters = Filters()) -> list[Passage]:
        """The top ``k`` passages for ``query``, best first, at most ``max_per_article`` per article
        (per story group with ``story_groups``: copies of one story count as one article)."""
        cfg = self.config
        mask = self.facets.mask(filters)
        fused, dense = self._fused(query, filters)
        # The cross-encoder re-orders a deeper list than is shown, so it can bring passages up.
        depth = max(k, cfg.rerank.cross_encoder_top) if self.cross_encoder else k
        if not cfg.rerank.articles:
            passages = [self.passage(r, s) for r, s in self._diversify(fused, depth)]
        else:
            diverse = self._diversify(fused, max(depth, cfg.rerank.articles))
            top, features = self._rerank_candidates(query, diverse, fused,
                                                    dense, mask, filters)
            combined = self.ranker(features) if self.ranker is not None else equal_weight_scores(features)
            passages = [self.passage(top[i][0], float(combined[i])) for i in np.argsort(-combined, kind="stable")]
        if self.cross_encoder:
            passages = self.cross_encoder.run(query, passages, top=cfg.rerank.cross_encoder_top)
        return passages[:k]

    def _fused(self, query: str, filters: Filters) -> tuple[list[tuple[int, float]], list[Hit]]:
        """The candidates of both searches fused (row, score), best first, and the dense hits."""
        cfg = self.config
        dense = self.dense(query, cfg.retrieve.candidates, filters) if cfg.retrieve.mode != "bm25" else []
        sparse = self.sparse(query, cfg.retrieve.candidates, filters) if cfg.retrieve.mode != "dense" else []
        if cfg.retrieve.mode == "dense":
            fused = [(h.row, h.score) for h in dense]
        elif cfg.retrieve.mode == "bm25":
            fused = [(h.row, h.score) for h in sparse]
        elif cfg.retrieve.fusion == "rrf":
            fused = reciprocal_rank_fusion([[h.row for h in dense], [h.row for h in sparse]], k=cfg.retrieve.rrf_k,
                                           weights=[1.0, cfg.retrieve.bm25_weight])
        else:
            fused = convex_fusion([[(h.row, h.score) for h in dense], [(h.row, h.score) for h in sparse]],
                                  weights=[cfg.retrieve.dense_weight, 1.0 - cfg.retrieve.dense_weight])
        if cfg.retrieve.recency_weight > 0 and filters.as_of is not None:
            fused = self._recency(fused, filters.as_of.toordinal())
        return fused, dense

    def rerank_candidates(self, query: str, *, filters: Filters = Filters()) -> tuple[list[int], np.ndarray]:
        """The article rows the reranker orders for ``query`` and their :data:`RANK_FEATURES`
        matrix, in retrieval order: what a trained ranker learns from (``eval/train_ranker.py``)."""
        mask = self.facets.mask(filters)
        fused, dense = self._fused(query, filters)
        diverse = self._diversify(fused, max(self.config.k, self.config.rerank.articles))
        top, features = self._rerank_candidates(query, diverse,
                                                fused, dense, mask, filters)
        return [int(self.store.chunk_article[r]) for r, _ in top], features

    def _rerank_candidates(self, query: str, top: list[tuple[int, float]], fused: list[tuple[int, float]],
                           dense: list[Hit], mask: np.ndarray | None,
                           filters: Filters) -> tuple[list[tuple[int, float]], np.ndarray]:
        """``top`` (diversified candidates with their fused scores), joined by the best articles by
        whole-article BM25, and the whole-article evidence of each (:func:`rank_features`);
        ``fused`` is the whole fused list, ``dense`` the dense hits."""
        by_article = bm25_scores(self.store.article_bm25, query) if self.config.rerank.article_bm25 else None
        fused_count = len(top)
        if by_article is not None:
            top = top + self._article_candidates(query, by_article, top, mask)
        articles = np.array([int(self.store.chunk_article[r]) for r, _ in top], dtype=np.int64)
        weights = {t: self.idf(t) for t in set(terms(query))}
        total = sum(weights.values())
        as_of = filters.as_of.toordinal() if filters.as_of else None
        titles, ages, copies, numbers = [], [], [], []
        for (row, _), a in zip(top, articles.tolist()):
            article = self.store.articles[a]
            title_terms = set(terms(article.title))
            titles.append(sum(w for t, w in weights.items() if t in title_terms) / total if total > 0 else 0.0)
            ages.append(float(as_of - article.date.toordinal()) if as_of and article.date else np.nan)
            copies.append(len(self.store.copies(a)))
            numbers.append(row - int(self.store.chunk_rows_of(a)[0]))
        chunk_article = self.store.chunk_article
        # Chunks per article in the fused list, counted over the list, not the whole collection.
        found, counts = np.unique(chunk_article[[r for r, _ in fused]], return_counts=True) if fused else ([], [])
        in_fused = dict(zip(np.asarray(found).tolist(), np.asarray(counts).tolist()))
        dense_rank: dict[int, int] = {}
        for i, h in enumerate(dense):
            dense_rank.setdefault(int(chunk_article[h.row]), i)
        features = rank_features(
            fused=np.array([s for _, s in top], dtype=np.float64),
            dense_rank=np.array([dense_rank.get(a, len(dense)) for a in articles.tolist()], dtype=np.float64),
            chunks_found=np.array([in_fused.get(a, 0) for a in articles.tolist()], dtype=np.float64),
            similarity=article_similarity([(h.row, h.score) for h in dense], self.store.chunk_article, articles),
            coverage=article_coverage({self._vocab[t]: w for t, w in weights.items() if t in self._vocab},
                                      total, self._postings, self.store.chunk_article, articles),
            article_bm25=by_article[articles] if by_article is not None else None,
            from_article_bm25=(np.arange(len(top)) >= fused_count).astype(np.float64),
            title_coverage=np.array(titles), age_days=np.array(ages), copies=np.array(copies, dtype=np.float64),
            chunk_number=np.array(numbers, dtype=np.float64), query_terms=len(weights),
        )
        return top, features

    def _article_candidates(self, query: str, by_article: np.ndarray, top: list[tuple[int, float]],
                            mask: np.ndarray | None) -> list[tuple[int, float]]:
        """Up to ``article_bm25`` more candidates: the best articles by whole-article BM25 that
        ``top`` lacks, each as its best chunk by chunk BM25, with fused score 0 (below all)."""
        have = {self._story(int(self.store.chunk_article[r])) for r, _ in top}
        chunk_scores: np.ndarray | None = None
        out: list[tuple[int, float]] = []
        for a in np.argsort(-by_article, kind="stable"):
            if len(out) >= self.config.rerank.article_bm25 or by_article[a] <= 0:
                break
            rows = self.store.chunk_rows_of(int(a))
            if self._story(int(a)) in have or len(rows) == 0 or (mask is not None and not mask[rows[0]]):
                continue  # already a candidate, no chunks, or filtered out (filters are per article)
            if chunk_scores is None:
                chunk_scores = bm25_scores(self.store.bm25, query)
            have.add(self._story(int(a)))
            out.append((int(rows[np.argmax(chunk_scores[rows])]), 0.0))
        return out

    def _story(self, art_row: int) -> int:
        """What diversity counts as one article: its story group with ``story_groups``, else itself."""
        return int(self.store.story_row[art_row]) if self.config.retrieve.story_groups else art_row

    def _postings(self, term_id: int) -> np.ndarray:
        return self._indices[self._indptr[term_id]:self._indptr[term_id + 1]]

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
        age = np.where(days == UNDATED, cfg.retrieve.recency_halflife_days, np.maximum(as_of - days, 0))
        boost = 1.0 + cfg.retrieve.recency_weight * 0.5 ** (age / cfg.retrieve.recency_halflife_days)
        rescored = [(r, s * b) for (r, s), b in zip(ranked, boost.tolist())]
        return sorted(rescored, key=lambda rs: -rs[1])

    def _diversify(self, ranked: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
        """The first ``k`` of ``ranked`` with at most ``max_per_article`` chunks per article; with
        ``story_groups`` per story, all from the copy that ranked first (the others are its ``also``)."""
        per_article: dict[int, int] = {}
        shown: dict[int, int] = {}  # story -> the article shown for it
        out: list[tuple[int, float]] = []
        for row, score in ranked:
            art_row = int(self.store.chunk_article[row])
            story = self._story(art_row)
            if shown.setdefault(story, art_row) != art_row:
                continue
            if per_article.get(art_row, 0) >= self.config.retrieve.max_per_article:
                continue
            per_article[art_row] = per_article.get(art_row, 0) + 1
            out.append((row, score))
            if len(out) >= k:
                break
        return out

    def neighbours(self, passages: list[Passage], *, radius: int = 1, lead: bool = False) -> list[Passage]:
        """Chunks next to the given passages in their articles (an answer often sits one
        chunk after the one that matched the question), each once, none already given.
        ``lead=True`` adds each article's first chunk too: news puts the key facts first."""
        seen = {p.chunk_id for p in passages}
        out: list[Passage] = []
        for p in passages:
            article_id, _, n = p.chunk_id.rpartition("#")
            if not article_id or article_id not in self.store.article_row:
                continue
            rows = self.store.chunk_rows(article_id)
            wanted = ([0] if lead else []) + list(range(int(n) - radius, int(n) + radius + 1))
            for j in wanted:
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
            also=self.copies(int(self.store.chunk_article[row])),
        )

    def copies(self, art_row: int) -> tuple[Copy, ...]:
        """The other articles of the story group of the article at ``art_row``, oldest first."""
        others = [self.store.articles[r] for r in self.store.copies(art_row)]
        others.sort(key=lambda a: (a.date is None, a.date or 0, a.id))
        return tuple(Copy(article_id=a.id, title=a.title, url=a.url, source=a.source, date=a.date) for a in others)
