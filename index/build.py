"""The index build: load -> chunk -> embed -> write, re-embedding only what changed.

Articles are matched to the live index by id and content hash: an unchanged article keeps
its chunks, vectors, term counts and story signature, so re-running a build on the same input
embeds nothing, and adding ten articles chunks, embeds, tokenises and signs only those ten
(BM25 scores are then recomputed from the stored counts, in numpy). New chunks are embedded in
slices kept in the index's embedding cache (``index/embed_cache.py``): a build stopped by
Ctrl-C or a crash goes on from the last slice when run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from index import dedup, sparse
from index import store as store_mod
from index.backend import SearchBackend, SyncReport, sync_live
from index.chunk import chunk_spans, context_prefix
from index.embed import Embedder
from index.embed_cache import EmbedCache
from index.errors import (
    BuildInterrupted,
    IndexCorruptError,
    IndexMismatchError,
    NoValidArticlesError,
    UnknownArticlesError,
)
from index.load import LoadReport, load_articles
from index.lock import write_lock
from index.plural import plural
from index.records import Article
from index.settings import IVF_NPROBE, IndexSettings

# Exact search up to this many vectors (a flat scan of 200k x 384 floats takes ~10 ms on two
# cores); above it an IVF index with 8-bit scalar-quantised vectors (4x less memory than
# float32). Parameters chosen with benchmarks/dense_scale.py (see README "Speed and scale").
EXACT_MAX_VECTORS = 200_000
IVF_TRAIN_SAMPLE = 100_000
MAX_IDS_SHOWN = 5  # replaced ids listed in a build summary; the rest are counted
# Chunks embedded between two saves to the embedding cache: at most this much work is lost to
# Ctrl-C or a crash (about 5 s on two CPU cores), and slices this long still batch well.
CHECKPOINT_CHUNKS = 512
Say = Callable[[str], None]  # where a build tells what it is doing before its progress bar


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
    resumed_chunks: int = 0  # of the reused: vectors an interrupted build had embedded (embedding cache)
    unknown_ids: list[str] = field(default_factory=list)  # ids given to remove that the index did not hold
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
        resumed = f", {self.resumed_chunks:,} of them from an interrupted build" if self.resumed_chunks else ""
        lines.append(
            f"Index {self.index_dir} {state}: {plural(self.articles, 'article')}, {plural(self.chunks, 'chunk')} "
            f"({self.added:,} added, {self.changed:,} replaced, {self.removed:,} removed, "
            f"{self.unchanged:,} unchanged; "
            f"{plural(self.embedded_chunks, 'chunk')} embedded, {self.reused_chunks:,} reused{resumed}) "
            f"in {self.seconds:.1f} s"
        )
        if self.replaced_ids:
            lines.append(self.replaced_line())
        if self.unknown_ids:
            lines.append(f"Not in the index, so not removed: {_shown(self.unknown_ids)}")
        if self.embedded_chunks and self.embed_seconds:
            lines.append(f"Embedding: {self.embedded_chunks / self.embed_seconds:,.0f} chunks/s")
        if self.story_groups:
            lines.append(f"Story groups: {plural(self.grouped_articles, 'article')} are copies or versions of "
                         f"{plural(self.story_groups, 'story', 'stories')} "
                         f"({plural(self.signed_articles, 'article')} signed)")
        if self.truncated_chunks:
            one = self.truncated_chunks == 1
            lines.append(f"Note: {plural(self.truncated_chunks, 'chunk')} {'exceeds' if one else 'exceed'} the "
                         f"model's input and {'was' if one else 'were'} cut.")
        if self.sync is not None:
            lines.append(self.sync.summary())
        return "\n".join(lines)

    def replaced_line(self) -> str:
        """Which articles were replaced (same id, other content), or "" when none was."""
        if not self.replaced_ids:
            return ""
        n = len(self.replaced_ids)
        return f"Replaced {plural(n, 'article')} that had the same id but other content: {_shown(self.replaced_ids)}"


def _shown(ids: list[str]) -> str:
    """The first :data:`MAX_IDS_SHOWN` of ``ids``, the rest counted."""
    extra = len(ids) - MAX_IDS_SHOWN
    return ", ".join(ids[:MAX_IDS_SHOWN]) + (f" and {extra:,} more" if extra > 0 else "")


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
    wait: bool = True, backend: SearchBackend | None = None, say: Say | None = None,
) -> BuildReport:
    """Make the index at ``index_dir`` hold exactly ``articles``, embedding only what changed.

    Holds the index's writer lock from reading the live version to switching to the new one,
    so a concurrent writer's version is never built over; ``wait=False`` raises
    IndexLockedError instead of waiting for another writer. With a ``backend`` (a search
    engine, ``index.backend``), the engine is synced to the new version under the same lock.
    ``say`` is told each stage before it starts (reading, chunking, loading the model).

    Raises:
        BuildInterrupted: Ctrl-C while embedding; what was embedded is kept for the next build.
    """
    with write_lock(index_dir, wait=wait):
        report = _write_collection(Path(index_dir), articles, settings=settings, embedder=embedder,
                                   progress=progress, previous=previous, say=say or _silent)
        if backend is not None:
            report.sync = sync_live(backend, index_dir, settings=settings, progress=progress)
        return report


def _silent(line: str) -> None:
    pass


def _write_collection(
    index_dir: Path, articles: list[Article], *, settings: IndexSettings | None,
    embedder: Embedder | None, progress: bool, previous: store_mod.IndexStore | None, say: Say,
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
    # Unchanged articles keep their term counts (rows of the previous version's); without stored
    # counts (an index written before they were) every text is tokenised once.
    old_terms = previous.term_counts() if previous else None
    cap = settings.dense_chunks_per_article or None
    rows, starts, ends = [], [], []
    dense_rows: list[int] = []  # chunk rows that get a vector, in the order of ``vectors``
    reused: list[np.ndarray] = []
    to_embed, to_embed_at = [], []
    chunk_docs: list[str | range] = []  # what the chunk BM25 counts: a text, or previous rows
    article_docs: list[str | range] = []
    if report.added + report.changed:
        say(f"Chunking {plural(report.added + report.changed, 'new or changed article')}...")
    for row, a in enumerate(articles):
        before = old.get(a.id)
        first = len(rows)
        if before is not None and before.content_hash == a.content_hash:
            prev_rows = previous.chunk_rows(a.id)
            spans = list(zip(previous.chunk_start[prev_rows].tolist(), previous.chunk_end[prev_rows].tolist()))
            for j, prev in enumerate(prev_rows[:cap]):
                dense_rows.append(first + j)
                reused.append(old_vectors[int(prev)])
            if old_terms is not None:
                if len(prev_rows):
                    chunk_docs.append(range(int(prev_rows[0]), int(prev_rows[-1]) + 1))
                article_docs.append(range(previous.article_row[a.id], previous.article_row[a.id] + 1))
        else:
            spans = chunk_spans(a.text, chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
            prefix = context_prefix(a.title, a.date, settings)
            for j, (s, e) in enumerate(spans[:cap]):
                to_embed.append(prefix + a.text[s:e])
                to_embed_at.append(len(dense_rows))
                dense_rows.append(first + j)
                reused.append(None)
        if old_terms is None or before is None or before.content_hash != a.content_hash:
            chunk_docs.extend(sparse.chunk_text(a, s, e) for s, e in spans)
            article_docs.append(sparse.article_text(a))
        for s, e in spans:
            rows.append(row)
            starts.append(s)
            ends.append(e)
    n_chunks = len(rows)
    if n_chunks == 0:
        raise NoValidArticlesError("No chunks to index: every article is empty.")

    if to_embed:
        say(f"Loading the embedding model {settings.model}...")
        embedder.load()  # load before timing: throughput figures are for embedding alone
    dimension = embedder.dimension if to_embed or previous is None else previous.dense.d
    vectors = np.zeros((len(dense_rows), dimension), dtype=np.float32)
    for i, v in enumerate(reused):
        if v is not None:
            vectors[i] = v
    cache = EmbedCache(index_dir, model=settings.model, max_seq_length=settings.max_seq_length)
    if to_embed:
        t_embed = time.perf_counter()
        vectors[to_embed_at], report.resumed_chunks = _embed(embedder, to_embed, cache, dimension, progress)
        report.embed_seconds = time.perf_counter() - t_embed
        report.truncated_chunks = sum(n > settings.max_seq_length for n in embedder.count_wordpieces(to_embed))
    report.embedded_chunks = len(to_embed) - report.resumed_chunks
    report.reused_chunks = len(dense_rows) - report.embedded_chunks

    # Ids in the FAISS index are chunk rows, so a search hit is a row of the chunk store.
    dense, factory = make_dense_index(vectors, np.asarray(dense_rows, dtype=np.int64))
    rows_arr = np.asarray(rows, dtype=np.int32)
    terms = (sparse.TermCounts.assemble(chunk_docs, previous=old_terms[0] if old_terms else None),
             sparse.TermCounts.assemble(article_docs, previous=old_terms[1] if old_terms else None))
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
        chunk_end=np.asarray(ends), dense=dense, bm25=terms[0].bm25(), article_bm25=terms[1].bm25(),
        settings=settings, dimension=dimension, stories=stories, terms=terms,
        extra={"faiss_factory": factory, "ivf_nprobe": IVF_NPROBE, "build": {
            "seconds": round(report.seconds, 2), "embedded_chunks": report.embedded_chunks,
            "truncated_chunks": report.truncated_chunks,
            "embedding_backend": getattr(embedder, "resolved_backend", None) if to_embed else None,
        }},
    )
    cache.clear()  # every vector it held is in the new version now
    report.seconds = time.perf_counter() - t0
    return report


def _embed(embedder: Embedder, texts: list[str], cache: EmbedCache, dimension: int,
           progress: bool) -> tuple[np.ndarray, int]:
    """Vectors of ``texts``, and how many of them the cache held (an interrupted build's).

    The rest are embedded in slices (:func:`_slice_size`), each but the last saved to the cache.

    Raises:
        BuildInterrupted: Ctrl-C; the slices saved so far stay in the cache.
    """
    from tqdm.auto import tqdm

    keys = [cache.key(t) for t in texts]
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    found = cache.lookup(keys)
    for i, v in found.items():
        out[i] = v
    # Longest first, as the embedders batch them: texts of one slice pad little.
    todo = sorted((i for i in range(len(texts)) if i not in found), key=lambda i: -len(texts[i]))
    done, size = 0, _slice_size(embedder)
    with tqdm(total=len(texts), initial=len(found), desc="Embedding", unit="chunk", disable=not progress) as bar:
        try:
            for lo in range(0, len(todo), size):
                part = todo[lo:lo + size]
                got = embedder.embed([texts[i] for i in part], progress=False)
                out[part] = got
                if lo + size < len(todo):  # after the last slice the version is written at once
                    cache.save([keys[i] for i in part], got)
                done += len(part)
                bar.update(len(part))
        except KeyboardInterrupt:
            raise BuildInterrupted(kept=len(found) + done, left=len(todo) - done) from None
    return out, len(found)


def _slice_size(embedder: Embedder) -> int:
    """Chunks embedded between two saves: :data:`CHECKPOINT_CHUNKS`, or enough for two shards
    per actor of a Ray embedder (``index/ray_embed.py``), so that none waits for work."""
    return max(CHECKPOINT_CHUNKS, 2 * getattr(embedder, "shard_size", 0) * getattr(embedder, "workers", 0))


def _vectors_by_row(dense: faiss.Index) -> dict[int, np.ndarray]:
    """Stored vectors keyed by chunk row (the FAISS ids)."""
    ids = faiss.vector_to_array(dense.id_map)
    vectors = faiss.downcast_index(dense.index).reconstruct_n(0, dense.ntotal)
    return dict(zip(ids.tolist(), vectors))


def build_index(
    paths: Iterable[str | Path], index_dir: str | Path, *, settings: IndexSettings | None = None,
    embedder: Embedder | None = None, progress: bool = True, field_map: dict | None = None, wait: bool = True,
    backend: SearchBackend | None = None, say: Say | None = None,
) -> BuildReport:
    """Index exactly the articles found in ``paths`` (articles no longer there are removed).

    Raises:
        NoValidArticlesError: the inputs held no valid article; the index is left as it was.
        BuildInterrupted: Ctrl-C while embedding; running the build again goes on from there.
    """
    paths = list(paths)
    if say is not None:
        say(f"Reading {paths[0] if len(paths) == 1 else plural(len(paths), 'path')}...")
    loaded = load_articles(paths, field_map=field_map)
    if not loaded.articles:
        raise NoValidArticlesError("No valid articles found.\n" + loaded.summary(), load=loaded)
    report = write_collection(index_dir, loaded.articles, settings=settings, embedder=embedder, progress=progress,
                              wait=wait, backend=backend, say=say)
    report.load = loaded
    return report


def add_articles(
    index_dir: str | Path, articles: list[Article], *, settings: IndexSettings | None = None,
    embedder: Embedder | None = None, progress: bool = True, wait: bool = True,
    backend: SearchBackend | None = None, say: Say | None = None,
) -> BuildReport:
    """Add (or replace, by id) ``articles`` in the index at ``index_dir``, on top of its latest
    version (read under the writer lock, so another writer's articles are kept). Only the given
    articles are chunked, embedded, tokenised and signed."""
    settings = settings or IndexSettings()
    with write_lock(index_dir, wait=wait):
        previous = _previous(Path(index_dir), settings)
        current = {a.id: a for a in previous.articles} if previous else {}
        current.update({a.id: a for a in articles})
        return write_collection(index_dir, list(current.values()), settings=settings, embedder=embedder,
                                progress=progress, previous=previous, backend=backend, say=say)


def remove_articles(
    index_dir: str | Path, ids: Iterable[str], *, settings: IndexSettings | None = None,
    embedder: Embedder | None = None, wait: bool = True, backend: SearchBackend | None = None,
) -> BuildReport:
    """Remove the articles with these ids (from the latest version, under the writer lock); the
    ids the index does not hold are listed in the report's ``unknown_ids``.

    Raises:
        UnknownArticlesError: ``ids`` were given and the index holds none of them (nothing is written).
    """
    settings = settings or IndexSettings()
    drop = list(dict.fromkeys(ids))
    with write_lock(index_dir, wait=wait):
        previous = store_mod.IndexStore.load(index_dir, settings=settings)
        unknown = [i for i in drop if i not in previous.article_row]
        if unknown and len(unknown) == len(drop):
            raise UnknownArticlesError(
                f"The index at {index_dir} holds no article with the id{'s' if len(unknown) != 1 else ''} "
                f"{_shown(unknown)}; nothing was removed.", ids=unknown)
        keep = [a for a in previous.articles if a.id not in set(drop)]
        report = write_collection(index_dir, keep, settings=settings, embedder=embedder, progress=False,
                                  previous=previous, backend=backend)
        report.unknown_ids = unknown
        return report
