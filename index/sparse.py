"""The two BM25 indexes (bm25s): one over chunks, one over whole articles.

Chunks are what a search returns, so the chunk index finds the passage. The article index
scores a story as a whole (headline + full text, once): evidence spread over several
chunks adds up there, the way a web search engine ranks a page. Reranking uses it as a
signal and as a second source of candidate articles (``rag.retrieve``).

Both are computed from per-document term counts (:class:`TermCounts`), which the index
keeps (``terms.npz``): an add tokenises only its new documents and recomputes every score
from the counts, as one adds a document to a collection changes every IDF and the average
length. The scores are those of ``bm25s.BM25().index(...)`` (Lucene variant, k1 1.5, b 0.75).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import scipy.sparse as sp

from index.records import Article
from index.tokenize import terms

K1, B = 1.5, 0.75  # bm25s's defaults, which every index so far was built with


@dataclass(frozen=True)
class TermCounts:
    """Term counts of documents, row ``d`` in ``ids[ptr[d]:ptr[d+1]]`` (term ids into
    ``vocab``) and ``counts`` (occurrences, each at least one)."""

    vocab: list[str]
    ptr: np.ndarray  # int64, one more than documents
    ids: np.ndarray  # int32
    counts: np.ndarray  # int32

    def __len__(self) -> int:
        return len(self.ptr) - 1

    @classmethod
    def assemble(cls, docs: Iterable[str | range], previous: TermCounts | None = None) -> TermCounts:
        """The counts of ``docs`` in order: a text is tokenised, a ``range`` takes those rows of
        ``previous`` as they are (only new text is tokenised). Terms no document holds are dropped."""
        vocab = list(previous.vocab) if previous is not None else []
        term_id = {t: i for i, t in enumerate(vocab)}
        lengths, ids, counts = [], [], []
        for doc in _runs(docs):
            if isinstance(doc, range):
                lo, hi = int(previous.ptr[doc.start]), int(previous.ptr[doc.stop])
                lengths.append(np.diff(previous.ptr[doc.start:doc.stop + 1]))
                ids.append(previous.ids[lo:hi])
                counts.append(previous.counts[lo:hi])
                continue
            found = Counter(terms(doc))
            for t in found:
                if t not in term_id:
                    term_id[t] = len(vocab)
                    vocab.append(t)
            lengths.append(np.array([len(found)], dtype=np.int64))
            ids.append(np.fromiter((term_id[t] for t in found), dtype=np.int32, count=len(found)))
            counts.append(np.fromiter(found.values(), dtype=np.int32, count=len(found)))
        ptr = np.zeros(sum(len(x) for x in lengths) + 1, dtype=np.int64)
        if lengths:
            np.cumsum(np.concatenate(lengths), out=ptr[1:])
        ids_arr = np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, np.int32)
        counts_arr = np.concatenate(counts).astype(np.int32) if counts else np.zeros(0, np.int32)
        return cls(vocab, ptr, ids_arr, counts_arr)._compact()

    def _compact(self) -> TermCounts:
        """Drop terms no document holds (left by removed or replaced documents)."""
        held = np.bincount(self.ids, minlength=len(self.vocab)) > 0
        if held.all():
            return self
        new_id = np.cumsum(held) - 1
        vocab = [t for t, keep in zip(self.vocab, held.tolist()) if keep]
        return TermCounts(vocab, self.ptr, new_id[self.ids].astype(np.int32), self.counts)

    def bm25(self) -> bm25s.BM25:
        """The bm25s index of these documents: every score from the counts (no tokenising)."""
        n_docs, n_terms = len(self), len(self.vocab)
        doc = np.repeat(np.arange(n_docs, dtype=np.int32), np.diff(self.ptr))
        doc_len = np.bincount(doc, weights=self.counts, minlength=n_docs)  # terms, repeats counted
        avg_len = doc_len.mean() if n_docs else 1.0
        df = np.bincount(self.ids, minlength=n_terms)
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        tf = self.counts.astype(np.float32)
        tfc = tf / (K1 * ((1 - B) + B * doc_len[doc] / avg_len) + tf)
        # Rows are documents here, bm25s keeps columns (terms): scipy transposes in linear time,
        # keeping documents in order within a term.
        by_term = sp.csr_matrix(((idf[self.ids] * tfc).astype(np.float32), self.ids, self.ptr),
                                shape=(n_docs, n_terms)).tocsc()
        bm25 = bm25s.BM25(k1=K1, b=B)
        bm25.scores = {"data": by_term.data.astype(np.float32), "indices": by_term.indices.astype(np.int32),
                       "indptr": by_term.indptr.astype(np.int64), "num_docs": n_docs}
        bm25.vocab_dict = {t: i for i, t in enumerate(self.vocab)}
        bm25.vocab_dict[""] = n_terms  # bm25s's empty token, as its own index() adds it
        bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
        bm25.nonoccurrence_array = None  # the Lucene variant has none
        return bm25

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The counts for ``np.savez`` (the vocabulary is the saved bm25s index's)."""
        return {f"{prefix}_ptr": self.ptr, f"{prefix}_ids": self.ids, f"{prefix}_counts": self.counts}

    @classmethod
    def from_arrays(cls, arrays, prefix: str, vocab_dict: dict) -> TermCounts | None:  # noqa: ANN001 - NpzFile
        """The stored counts over the vocabulary of the bm25s index they were saved with; None
        when they do not fit it (then the caller tokenises anew)."""
        vocab = [""] * (len(vocab_dict) - ("" in vocab_dict))
        for t, i in vocab_dict.items():
            if t != "":
                if not 0 <= i < len(vocab):
                    return None
                vocab[i] = t
        ptr, ids = np.asarray(arrays[f"{prefix}_ptr"]), np.asarray(arrays[f"{prefix}_ids"])
        counts = np.asarray(arrays[f"{prefix}_counts"])
        if len(ptr) < 1 or ptr[-1] != len(ids) or len(ids) != len(counts) or (len(ids) and ids.max() >= len(vocab)):
            return None
        return cls(vocab, ptr.astype(np.int64), ids.astype(np.int32), counts.astype(np.int32))


def _runs(docs: Iterable[str | range]) -> Iterable[str | range]:
    """``docs`` with adjacent ranges joined (an unchanged stretch of a collection is one slice)."""
    run: range | None = None
    for doc in docs:
        if isinstance(doc, range):
            if run is not None and run.stop == doc.start:
                run = range(run.start, doc.stop)
                continue
            if run is not None:
                yield run
            run = doc
            continue
        if run is not None:
            yield run
            run = None
        yield doc
    if run is not None:
        yield run


def chunk_text(article: Article, start: int, end: int) -> str:
    """What the chunk index holds of a chunk: its article's headline and the chunk's text."""
    return article.title + "\n" + article.text[start:end]


def article_text(article: Article) -> str:
    """What the article index holds of an article: headline and full text."""
    return article.title + "\n" + article.text


def chunk_bm25(articles: Sequence[Article], rows: Sequence[int], starts: Sequence[int],
               ends: Sequence[int]) -> bm25s.BM25:
    """BM25 over each chunk's headline + text (chunk ``i`` is ``articles[rows[i]].text[starts[i]:ends[i]]``)."""
    return TermCounts.assemble(chunk_text(articles[r], s, e) for r, s, e in zip(rows, starts, ends)).bm25()


def article_bm25(articles: Sequence[Article]) -> bm25s.BM25:
    """BM25 over each article's headline + full text, one document per article."""
    return TermCounts.assemble(article_text(a) for a in articles).bm25()


def scores(bm25: bm25s.BM25, query: str) -> np.ndarray:
    """BM25 score of every document of ``bm25`` for ``query`` (zeros when no term is known)."""
    vocab = bm25.vocab_dict if isinstance(bm25.vocab_dict, dict) else {}
    ids = [vocab[t] for t in terms(query) if t in vocab]
    n = int(bm25.scores["num_docs"])
    return bm25.get_scores(ids).astype(np.float64) if ids and n else np.zeros(n)
