"""The index build: load -> chunk -> embed -> write, re-embedding only what changed.

Articles are matched to the live index by id and content hash: an unchanged article keeps
its chunks and vectors, so re-running a build on the same input embeds nothing, and adding
ten articles embeds only their chunks.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from index import dedup, sparse
from index import store as store_mod
from index.backend import SearchBackend, SyncReport, sync_live
from index.chunk import chunk_spans, context_prefix
from index.embed import Embedder
from index.errors import IndexCorruptError, IndexMismatchError, NoValidArticlesError
from index.load import LoadReport, load_articles
from index.lock import write_lock
from index.records import Article
from index.settings import IVF_NPROBE, IndexSettings

# Exact search up to this many vectors (a flat scan of 200k x 384 floats takes ~10 ms on two
# cores); above it an IVF index with 8-bit scalar-quantised vectors (4x less memory than
# float32). Parameters chosen with benchmarks/dense_scale.py (see README "Speed and scale").
EXACT_MAX_VECTORS = 200_000
IVF_TRAIN_SAMPLE = 100_000
MAX_IDS_SHOWN = 5  # replaced ids listed in a build summary; the rest are counted


def choose_factory(n_vectors: int) -> str:
    """The FAISS index factory string for a collection of ``n_vectors`` chunk vectors."""
    if n_vectors <= EXACT_MAX_VECTORS:
        return "Flat"
    nlist = 1 << int(np.log2(4 * np.sqrt(n_vectors)))  # ~4 sqrt(n) lists, a power of two
    return f"IVF{nlist},SQ8"


def make_dense_index(vectors: np.ndarray, rows: np.ndarray) -> tuple[faiss.Index, str]:
    """A FAISS index over ``vectors`` whose ids are the chunk ``rows``; returns it and its factory string."""
    factory = choose_factory(len(vectors))
    base = faiss.index_factory(vectors.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
    if not base.is_trained:
        pick = np.random.default_rng(0).choice(len(vectors), min(len(vectors), IVF_TRAIN_SAMPLE), replace=False)
        base.train(vectors[np.sort(pick)])
        ivf = faiss.extract_index_ivf(base)
        ivf.nprobe = IVF_NPROBE
        ivf.make_direct_map()  # lets an incremental build read stored vectors back
    dense = faiss.IndexIDMap2(base)
    dense.add_with_ids(vectors, rows)
    return dense, factory


@dataclass
class BuildReport:
    """What a build did, for the CLI summary and the manifest."""

    index_dir: str
    articles: int = 0
    chunks: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    replaced_ids: list[str] = field(default_factory=list)  # the ``changed`` ones: same id, other content
    embedded_chunks: int = 0
    reused_chunks: int = 0
    truncated_chunks: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    up_to_date: bool = False
    damaged: str = ""  # the damage found in the index this build replaced, if any
    other_settings: str = ""  # what differed in the index this build replaced (model, chunking, format), if any
    story_groups: int = 0  # groups of two or more copies of one story (index/dedup.py)
    grouped_articles: int = 0  # articles in those groups
    signed_articles: int = 0  # articles whose story signature this build computed (the rest reused)
    sync: SyncReport | None = None  # what the search engine behind ``--backend-url`` changed
    load: LoadReport | None = field(default=None, repr=False)

    def summary(self) -> str:
        lines = []
        if self.load is not None:
            lines.append(self.load.summary())
        if self.damaged:
            lines.append(f"Note: the index was damaged ({self.damaged}); it was built anew from the given files.")
        if self.other_settings:
            said = self.other_settings.removeprefix(f"Index at {self.index_dir} ")
            lines.append(f"Note: the index {said}; it was built anew from the given files.")
        state = "already up to date" if self.up_to_date else "written"
        lines.append(
            f"Index {self.index_dir} {state}: {self.articles:,} articles, {self.chunks:,} chunks "
            f"({self.added} added, {self.changed} replaced, {self.removed} removed, {self.unchanged} unchanged; "
            f"{self.embedded_chunks:,} chunks embedded, {self.reused_chunks:,} reused) in {self.seconds:.1f} s"
        )
        if self.replaced_ids:
            lines.append(self.replaced_line())
        if self.embedded_chunks and self.embed_seconds:
            lines.append(f"Embedding: {self.embedded_chunks / self.embed_seconds:,.0f} chunks/s")
        if self.story_groups:
            lines.append(f"Story groups: {self.grouped_articles:,} articles are copies or versions of "
                         f"{self.story_groups:,} stories ({self.signed_articles:,} articles signed)")
        if self.truncated_chunks:
            lines.append(f"Note: {self.truncated_chunks} chunks exceed the model's input and were cut.")
        if self.sync is not None:
            lines.append(self.sync.summary())
        return "\n".join(lines)

    def replaced_line(self) -> str:
        """Which articles were replaced (same id, other content), or "" when none was."""
        if not self.replaced_ids:
            return ""
        shown = ", ".join(self.replaced_ids[:MAX_IDS_SHOWN])
        extra = len(self.replaced_ids) - MAX_IDS_SHOWN
        more = f" and {extra:,} more" if extra > 0 else ""
        n = len(self.replaced_ids)
        return f"Replaced {n} article{'s' if n != 1 else ''} that had the same id but other content: {shown}{more}"


def _previous(index_dir: Path, settings: IndexSettings, *,
              replaced: list[IndexCorruptError | IndexMismatchError] | None = None) -> store_mod.IndexStore | None:
    """The live index to build on, or None to build from scratch.

    Args:
        replaced: given by a full build (which needs nothing from the old index): damage, or an
            index built with other settings or another format version, is then appended here
            and the build goes ahead, replacing it whole; without it, both are raised, as an add
            (or watch, or upload) on top of an index it cannot read would drop what it held.
    """
    if not store_mod.exists(index_dir):
        return None
    try:
        return store_mod.IndexStore.load(index_dir, settings=settings)
    except (IndexCorruptError, IndexMismatchError) as exc:
        if replaced is None:
            raise
        replaced.append(exc)
        return None


def write_collection(
    index_dir: str | Path, articles: list[Article], *, settings: IndexSettings | None = None,
    embedder: Embedder | None = None, progress: bool = True, previous: store_mod.IndexStore | None = None,
    wait: bool = True, backend: SearchBackend | None = None,
) -> BuildReport:
    """Make the index at ``index_dir`` hold exactly ``articles``, embedding only what changed.

    Holds the index's writer lock from reading the live version to switching to the new one,
    so a concurrent writer's version is never built over; ``wait=False`` raises
    IndexLockedError instead of waiting for another writer. With a ``backend`` (a search
    engine, ``index.backend``), the engine is synced to the new version under the same lock.
    """
    with write_lock(index_dir, wait=wait):
        report = _write_collection(Path(index_dir), articles, settings=settings, embedder=embedder,
                                   progress=progress, previous=previous)
        if backend is not None:
            report.sync = sync_live(backend, index_dir, settings=settings, progress=progress)
        return report


def _write_collection(
    index_dir: Path, articles: list[Article], *, settings: IndexSettings | None,
    embedder: Embedder | None, progress: bool, previous: store_mod.IndexStore | None,
) -> BuildReport:
    t0 = time.perf_counter()
    settings = settings or IndexSettings()
    replaced: list[IndexCorruptError | IndexMismatchError] = []
    if previous is None:
        previous = _previous(index_dir, settings, replaced=replaced)
    report = BuildReport(index_dir=str(index_dir))
    for exc in replaced:
        if isinstance(exc, IndexCorruptError):
            report.damaged = exc.problem
        else:
            report.other_settings = exc.problem
    old = {a.id: a for a in previous.articles} if previous else {}
    articles = sorted({a.id: a for a in articles}.values(), key=lambda a: a.id)
    new_ids = {a.id for a in articles}
    report.removed = sum(1 for i in old if i not in new_ids)
    for a in articles:
        before = old.get(a.id)
        if before is None:
            report.added += 1
        elif before.content_hash != a.content_hash:
            report.changed += 1
            report.replaced_ids.append(a.id)
        else:
            report.unchanged += 1
    report.articles = len(articles)
    if previous is not None and not (report.added or report.changed or report.removed):
        report.up_to_date = True
        report.chunks = len(previous)
        report.reused_chunks = len(previous)
        report.seconds = time.perf_counter() - t0
        return report

    embedder = embedder or Embedder(settings.model, device=settings.device, batch_size=settings.batch_size,
                                    max_seq_length=settings.max_seq_length, backend=settings.backend)
    old_vectors = _vectors_by_row(previous.dense) if previous else {}
    cap = settings.dense_chunks_per_article or None
    rows, starts, ends = [], [], []
    dense_rows: list[int] = []  # chunk rows that get a vector, in the order of ``vectors``
    reused: list[np.ndarray] = []
    to_embed, to_embed_at = [], []
    for row, a in enumerate(articles):
        before = old.get(a.id)
        first = len(rows)
        if before is not None and before.content_hash == a.content_hash:
            prev_rows = previous.chunk_rows(a.id)
            spans = list(zip(previous.chunk_start[prev_rows].tolist(), previous.chunk_end[prev_rows].tolist()))
            for j, prev in enumerate(prev_rows[:cap]):
                dense_rows.append(first + j)
                reused.append(old_vectors[int(prev)])
        else:
            spans = chunk_spans(a.text, chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
            prefix = context_prefix(a.title, a.date, settings)
            for j, (s, e) in enumerate(spans[:cap]):
                to_embed.append(prefix + a.text[s:e])
                to_embed_at.append(len(dense_rows))
                dense_rows.append(first + j)
                reused.append(None)
        for s, e in spans:
            rows.append(row)
            starts.append(s)
            ends.append(e)
    n_chunks = len(rows)
    if n_chunks == 0:
        raise NoValidArticlesError("No chunks to index: every article is empty.")

    dimension = embedder.dimension if to_embed or previous is None else previous.dense.d
    vectors = np.zeros((len(dense_rows), dimension), dtype=np.float32)
    for i, v in enumerate(reused):
        if v is not None:
            vectors[i] = v
    if to_embed:
        embedder.load()  # load before timing: throughput figures are for embedding alone
        t_embed = time.perf_counter()
        vectors[to_embed_at] = embedder.embed(to_embed, progress=progress)
        report.embed_seconds = time.perf_counter() - t_embed
        report.truncated_chunks = sum(n > settings.max_seq_length for n in embedder.count_wordpieces(to_embed))
    report.embedded_chunks = len(to_embed)
    report.reused_chunks = len(dense_rows) - len(to_embed)

    # Ids in the FAISS index are chunk rows, so a search hit is a row of the chunk store.
    dense, factory = make_dense_index(vectors, np.asarray(dense_rows, dtype=np.int64))
    rows_arr = np.asarray(rows, dtype=np.int32)
    bm25 = sparse.chunk_bm25(articles, rows, starts, ends)
    # Only new and changed articles are signed and paired; the rest keep their groups' pairs.
    stories = dedup.group_stories(articles, previous=previous.stories if previous else None)
    members = stories.members()
    report.story_groups = len(members)
    report.grouped_articles = sum(len(m) for m in members.values())
    report.signed_articles = stories.signed
    report.chunks = n_chunks
    report.seconds = time.perf_counter() - t0
    store_mod.write_store(
        index_dir, articles=articles, chunk_article=rows_arr, chunk_start=np.asarray(starts),
        chunk_end=np.asarray(ends), dense=dense, bm25=bm25, article_bm25=sparse.article_bm25(articles),
        settings=settings, dimension=dimension, stories=stories,
        extra={"faiss_factory": factory, "ivf_nprobe": IVF_NPROBE, "build": {
            "seconds": round(report.seconds, 2), "embedded_chunks": report.embedded_chunks,
            "truncated_chunks": report.truncated_chunks,
            "embedding_backend": getattr(embedder, "resolved_backend", None) if to_embed else None,
        }},
    )
    report.seconds = time.perf_counter() - t0
    return report


def _vectors_by_row(dense: faiss.Index) -> dict[int, np.ndarray]:
    """Stored vectors keyed by chunk row (the FAISS ids)."""
    ids = faiss.vector_to_array(dense.id_map)
    vectors = faiss.downcast_index(dense.index).reconstruct_n(0, dense.ntotal)
    return dict(zip(ids.tolist(), vectors))


def build_index(
    paths: Iterable[str | Path], index_dir: str | Path, *, settings: IndexSettings | None = None,
    embedder: Embedder | None = None, progress: bool = True, field_map: dict | None = None, wait: bool = True,
    backend: SearchBackend | None = None,
) -> BuildReport:
    """Index exactly the articles found in ``paths`` (articles no longer there are removed).

    Raises:
        NoValidArticlesError: the inputs held no valid article; the index is left as it was.
    """
    loaded = load_articles(paths, field_map=field_map)
    if not loaded.articles:
        raise NoValidArticlesError("No valid articles found.\n" + loaded.summary(), load=loaded)
    report = write_collection(index_dir, loaded.articles, settings=settings, embedder=embedder, progress=progress,
                              wait=wait, backend=backend)
    report.load = loaded
    return report


def add_articles(
    index_dir: str | Path, articles: list[Article], *, settings: IndexSettings | None = None,
    embedder: Embedder | None = None, progress: bool = True, wait: bool = True,
    backend: SearchBackend | None = None,
) -> BuildReport:
    """Add (or replace, by id) ``articles`` in the index at ``index_dir``, on top of its latest
    version (read under the writer lock, so another writer's articles are kept)."""
    settings = settings or IndexSettings()
    with write_lock(index_dir, wait=wait):
        previous = _previous(Path(index_dir), settings)
        current = {a.id: a for a in previous.articles} if previous else {}
        current.update({a.id: a for a in articles})
        return write_collection(index_dir, list(current.values()), settings=settings, embedder=embedder,
                                progress=progress, previous=previous, backend=backend)


def remove_articles(
    index_dir: str | Path, ids: Iterable[str], *, settings: IndexSettings | None = None,
    embedder: Embedder | None = None, wait: bool = True, backend: SearchBackend | None = None,
) -> BuildReport:
    """Remove the articles with these ids (from the latest version, under the writer lock);
    unknown ids are ignored."""
    settings = settings or IndexSettings()
    drop = set(ids)
    with write_lock(index_dir, wait=wait):
        previous = store_mod.IndexStore.load(index_dir, settings=settings)
        keep = [a for a in previous.articles if a.id not in drop]
        return write_collection(index_dir, keep, settings=settings, embedder=embedder, progress=False,
                                previous=previous, backend=backend)
