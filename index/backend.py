"""The search backend under the retriever: dense search, BM25 search, filters, add/remove by article.

Two backends answer the same calls:

- ``LocalSearch`` (the default and the reference): the index folder's FAISS and bm25s files.
- ``index.milvus.MilvusBackend``: a Milvus engine (Milvus Lite in one file, or a Milvus
  server or cluster at a URL) that mirrors the folder's chunks.

The index folder stays the catalog in both cases: article metadata, chunk offsets, story
groups and the term statistics the reranker reads come from the loaded ``IndexStore``, so
what is above this interface never knows which backend runs. A backend returns hits as
chunk rows of that store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

from index.filters import ArticleFacets, Filters
from index.lock import write_lock
from index.plural import plural
from index.settings import IndexSettings
from index.store import IndexStore, current_version


@dataclass(frozen=True)
class Hit:
    """A chunk row of the loaded store and its retrieval score."""

    row: int
    score: float


@dataclass
class SyncReport:
    """What a backend changed to hold exactly the articles of an index version."""

    added: int = 0  # articles inserted (new or changed)
    removed: int = 0  # articles deleted (gone or changed)
    chunks: int = 0  # chunks inserted
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"Search engine updated: {plural(self.added, 'article')} added, {self.removed:,} removed "
                f"({plural(self.chunks, 'chunk')}) in {self.seconds:.1f} s")


class ChunkSearch(Protocol):
    """The two searches over one loaded store's chunks."""

    def dense(self, vector: np.ndarray, n: int, filters: Filters) -> list[Hit]:
        """The ``n`` chunks nearest ``vector`` (inner product on normalised vectors) that pass ``filters``."""

    def sparse(self, tokens: list[str], n: int, filters: Filters) -> list[Hit]:
        """The ``n`` best chunks by BM25 for the (stemmed) query ``tokens`` that pass ``filters``."""


class SearchBackend(Protocol):
    """Where the searches run; ``sync`` makes it hold exactly an index version's articles."""

    name: str

    def searcher(self, store: IndexStore) -> ChunkSearch:
        """The searches, with hits as chunk rows of ``store``."""

    def sync(self, store: IndexStore, *, progress: bool = False) -> SyncReport:
        """Add the articles of ``store`` the backend lacks (or holds another version of) and
        remove those ``store`` no longer has. Called under the index's writer lock."""

    def close(self) -> None:
        """Release connections and engine processes."""


class LocalSearch:
    """FAISS and bm25s in the index folder: the searches the store itself holds."""

    def __init__(self, store: IndexStore) -> None:
        self.store = store
        self.facets = ArticleFacets(store)
        vocab = store.bm25.vocab_dict
        self._vocab = vocab if isinstance(vocab, dict) else {}

    def dense(self, vector: np.ndarray, n: int, filters: Filters) -> list[Hit]:
        index = self.store.dense
        if index.ntotal == 0:
            return []
        mask = self.facets.mask(filters)
        params = None
        if mask is not None:
            if not mask.any():
                return []
            bitmap = np.packbits(mask, bitorder="little")
            params = faiss.SearchParameters(sel=faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap)))
        scores, ids = index.search(np.asarray(vector, dtype=np.float32)[None, :], min(n, index.ntotal),
                                   params=params)
        return [Hit(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def sparse(self, tokens: list[str], n: int, filters: Filters) -> list[Hit]:
        tokens = [t for t in tokens if t in self._vocab]
        if not tokens or len(self.store) == 0:
            return []
        mask = self.facets.mask(filters)
        weight = mask.astype(np.float32) if mask is not None else None
        ids, scores = self.store.bm25.retrieve(
            [tokens], k=min(n, len(self.store)), show_progress=False, weight_mask=weight, n_threads=1,
        )
        return [Hit(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]


class LocalBackend:
    """The default backend: nothing to sync, the folder is the search index."""

    name = "local"

    def searcher(self, store: IndexStore) -> LocalSearch:
        return LocalSearch(store)

    def sync(self, store: IndexStore, *, progress: bool = False) -> SyncReport:
        return SyncReport()

    def close(self) -> None:
        pass


def open_backend(url: str | None) -> SearchBackend:
    """The backend for ``--backend-url``: None or "" is the index folder itself; a Milvus URL
    (``http://host:19530``, ``https://...``) or a Milvus Lite file (``milvus-lite:///path/x.db``,
    or a path ending in ``.db``) is :class:`index.milvus.MilvusBackend`.

    Raises:
        ValueError: a URL of no backend this Newsdesk knows.
    """
    if not url:
        return LocalBackend()
    from index.milvus import MilvusBackend, is_milvus_url

    if is_milvus_url(url):
        return MilvusBackend(url)
    raise ValueError(f"--backend-url {url!r} names no search backend Newsdesk knows: give a Milvus URL "
                     "(http://host:19530) or a Milvus Lite file (milvus-lite:///path/newsdesk.db)")


def sync_live(backend: SearchBackend, root: str | Path, *, settings: IndexSettings | None = None,
              progress: bool = False, wait: bool = True, loaded: IndexStore | None = None) -> SyncReport:
    """Sync ``backend`` to the live version of the index at ``root``, under the index's writer
    lock: never to a version a concurrent writer has already replaced. ``loaded`` is used
    as it is when it is that live version (no second load and checksum pass)."""
    with write_lock(root, wait=wait):
        live = current_version(Path(root))
        if loaded is None or live is None or live.name != loaded.version:
            loaded = IndexStore.load(root, settings=settings)
        return backend.sync(loaded, progress=progress)
