"""Milvus behind the search interface: the same chunks, vectors and BM25 in a Milvus engine.

One collection per index holds a row per chunk: its id (``<article id>#<n>``), article id,
chunk number, content hash, date, source, its headline + text as the index's own stemmed
terms (Milvus computes BM25 over them natively), and its vector. Milvus Lite 2.5
(``milvus-lite:///path/x.db``) embeds the same C++ engine a Milvus server or cluster runs
(``http://host:19530``), and the client code is the same for all three.

The index folder stays the catalog (``index.backend``): a sync copies the articles the
engine lacks into it and deletes the ones the folder no longer has, by content hash.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np

from index.errors import BackendError, IndexMismatchError, NewsdeskError
from index.filters import UNDATED, Filters
from index.records import Hit, SyncReport
from index.settings import IVF_NPROBE
from index.store import IndexStore
from index.tokenize import terms

DEFAULT_COLLECTION = "newsdesk"
ID_LENGTH = 4096  # characters of an article id the engine keeps (ids are checked against it)
TERMS_BYTES = 60_000  # Milvus VARCHAR holds 65,535 bytes; a chunk's terms are ~1-2 KB
INSERT_BATCH = 512  # chunks per insert call: a few MB per gRPC message
DELETE_BATCH = 512  # article ids per delete filter
# BM25 as bm25s computes it for the local index (k1, b), so both rank alike. Milvus keeps the
# (k1 + 1) numerator that bm25s's Lucene variant drops: its scores are divided by it, so the
# scores the chooser reads are the folder's too.
BM25_K1, BM25_B = 1.5, 0.75
DENSE_INDEXES = ("FLAT", "IVF_FLAT", "HNSW")  # Milvus Lite builds FLAT and IVF_FLAT; a server all three
CONNECT_TIMEOUT = 10.0  # seconds to reach the engine before saying so


def is_milvus_url(url: str) -> bool:
    """Whether ``url`` names a Milvus server (``http(s)://``) or a Milvus Lite file."""
    return url.startswith(("http://", "https://", "milvus-lite://")) or url.split("?")[0].endswith(".db")


@dataclass(frozen=True)
class Target:
    """Where a ``--backend-url`` points: the ``MilvusClient`` uri, the collection, its dense
    index type and, when the collection is created, its shards (Milvus DML channels)."""

    uri: str
    collection: str = DEFAULT_COLLECTION
    index: str = "FLAT"
    shards: int = 1


def parse_url(url: str) -> Target:
    """The :class:`Target` of a ``--backend-url``.

    ``?collection=NAME`` picks the collection (default ``newsdesk``); ``?index=HNSW`` or
    ``IVF_FLAT`` the dense index (default ``FLAT``: exact, like the folder's default);
    ``?shards=N`` spreads a new collection's writes over N channels of a Milvus cluster.
    """
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"collection", "index", "shards"})
    if unknown:
        raise ValueError(f"--backend-url {url!r}: unknown option(s) {', '.join(unknown)}; "
                         "known: collection, index, shards")
    collection = query.get("collection", DEFAULT_COLLECTION)
    if not collection.replace("_", "").isalnum() or not collection[0].isalpha():
        raise ValueError(f"--backend-url {url!r}: collection must be letters, digits and _, starting with a letter")
    index = query.get("index", "FLAT").upper()
    if index not in DENSE_INDEXES:
        raise ValueError(f"--backend-url {url!r}: index must be one of {', '.join(DENSE_INDEXES)}")
    shards = query.get("shards", "1")
    if not shards.isdigit() or not 1 <= int(shards) <= 16:
        raise ValueError(f"--backend-url {url!r}: shards must be a whole number from 1 to 16")
    if parts.scheme in ("http", "https"):
        uri = f"{parts.scheme}://{parts.netloc}"
    else:
        path = parts.path if parts.scheme == "milvus-lite" else url.split("?")[0]
        if parts.scheme == "milvus-lite" and parts.netloc:  # milvus-lite://relative/x.db
            path = parts.netloc + parts.path
        uri = str(Path(path).expanduser().resolve())
    return Target(uri, collection, index, int(shards))


def literal(values: Iterable[str]) -> str:
    """A Milvus list literal of strings (quotes, backslashes and control characters escaped;
    Milvus Lite 2.5 does not take template values)."""
    return "[" + ", ".join(json.dumps(str(v), ensure_ascii=False) for v in values) + "]"


def filter_expression(filters: Filters) -> str:
    """The Milvus boolean expression for ``filters``, the same rules as ``ArticleFacets.mask``:
    ``as_of`` keeps undated articles, a date range leaves them out."""
    parts = []
    if filters.as_of:
        parts.append(f"(day == {UNDATED} or day <= {filters.as_of.toordinal()})")
    if filters.date_from:
        parts.append(f"day >= {filters.date_from.toordinal()}")
    if filters.date_to:
        parts.append(f"(day != {UNDATED} and day <= {filters.date_to.toordinal()})")
    if filters.sources:
        parts.append(f"source in {literal(sorted({s.lower() for s in filters.sources}))}")
    return " and ".join(parts)


def _settings_note(store: IndexStore) -> str:
    """What the engine's vectors and terms were made with (kept as the collection description)."""
    m = store.manifest
    return json.dumps({"newsdesk": 1, "model": m["model"], "dimension": int(m["dimension"]),
                       "chunking": m["chunking"]}, sort_keys=True)


class MilvusSearch:
    """Dense and BM25 search in the engine, with hits as chunk rows of one loaded store."""

    def __init__(self, backend: MilvusBackend, store: IndexStore) -> None:
        self.backend = backend
        self.store = store
        # First chunk row of each article: chunks are stored grouped by article, in order.
        self._first = np.searchsorted(store.chunk_article, np.arange(len(store.articles)), side="left")
        self._count = np.searchsorted(store.chunk_article, np.arange(len(store.articles)), side="right") - self._first
        backend.check(store)

    def _hits(self, found: Iterable[dict]) -> list[Hit]:
        """Engine hits as store rows; chunks of articles this version lacks (a newer version
        synced them) are skipped."""
        out = []
        for hit in found:
            article_id, _, n = str(hit["id"]).rpartition("#")
            row = self.store.article_row.get(article_id)
            if row is None or not n.isdigit() or int(n) >= self._count[row]:
                continue
            out.append(Hit(int(self._first[row]) + int(n), float(hit["distance"])))
        return out

    def dense(self, vector: np.ndarray, n: int, filters: Filters) -> list[Hit]:
        expr = filter_expression(filters)
        expr = f"has_vector == true and ({expr})" if expr else "has_vector == true"
        # Probes as the folder's IVF uses them; HNSW must look at least as wide as it returns.
        params = {"IVF_FLAT": {"nprobe": IVF_NPROBE}, "HNSW": {"ef": max(64, n)}}.get(self.backend.index_type, {})
        return self._hits(self.backend.search([np.asarray(vector, dtype=np.float32).tolist()], "dense", n,
                                              expr, {"metric_type": "IP", "params": params}))

    def sparse(self, tokens: list[str], n: int, filters: Filters) -> list[Hit]:
        if not tokens:
            return []
        hits = self._hits(self.backend.search([" ".join(tokens)], "sparse", n, filter_expression(filters),
                                              {"metric_type": "BM25", "params": {"drop_ratio_search": 0.0}}))
        return [Hit(h.row, h.score / (BM25_K1 + 1)) for h in hits]


class MilvusBackend:
    """A Milvus engine as the search backend (see the module docstring).

    Args:
        url: ``http(s)://host:port`` for a Milvus server or cluster (token from the
            ``MILVUS_TOKEN`` environment variable), ``milvus-lite:///path/x.db`` or a path
            ending in ``.db`` for Milvus Lite in this process; ``?collection=`` and ``?index=``
            ``?shards=`` as in :func:`parse_url`.
    """

    name = "milvus"

    def __init__(self, url: str) -> None:
        self.url = url
        target = parse_url(url)
        self.uri, self.collection, self.index_type, self.shards = (target.uri, target.collection, target.index,
                                                                   target.shards)
        self._client = None

    @property
    def client(self):  # noqa: ANN201 - pymilvus.MilvusClient, imported lazily
        if self._client is None:
            try:
                with warnings.catch_warnings():  # milvus-lite 2.5 imports the deprecated pkg_resources
                    warnings.simplefilter("ignore", UserWarning)
                    from pymilvus import MilvusClient
                    if not self.uri.startswith("http"):
                        import milvus_lite  # noqa: F401 - imported here, under the filter
                # Its log repeats the errors raised here as BackendError, and its iterator warns on
                # every sync that Milvus Lite keeps no server timestamp.
                for name in ("pymilvus", "pymilvus.milvus_client"):  # pymilvus sets each apart
                    logging.getLogger(name).setLevel(logging.CRITICAL)
            except ImportError as exc:
                raise BackendError("The Milvus backend needs pymilvus and milvus-lite: "
                                   "pip install 'newsdesk[milvus]'") from exc
            if not self.uri.startswith("http"):
                Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            try:
                self._client = MilvusClient(uri=self.uri, token=os.environ.get("MILVUS_TOKEN", ""),
                                            timeout=CONNECT_TIMEOUT)
            except Exception as exc:  # MilvusException, grpc errors: all mean "not reachable"
                raise BackendError(f"Cannot reach the Milvus engine at {self.uri} ({exc}). Start it, or "
                                   "check --backend-url.") from exc
        return self._client

    def searcher(self, store: IndexStore) -> MilvusSearch:
        return MilvusSearch(self, store)

    def search(self, data: list, field: str, n: int, expr: str, params: dict) -> list[dict]:
        try:
            found = self.client.search(self.collection, data=data, anns_field=field, limit=min(n, 16_384),
                                       filter=expr, search_params=params, output_fields=["id"])
        except Exception as exc:
            raise BackendError(f"Milvus search in {self.collection!r} at {self.uri} failed: {exc}") from exc
        return list(found[0]) if found else []

    # ---- the collection -----------------------------------------------------------------
    def _create(self, store: IndexStore) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, description=_settings_note(store))
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_LENGTH + 12)
        schema.add_field("article", DataType.VARCHAR, max_length=ID_LENGTH)
        schema.add_field("n", DataType.INT64)
        schema.add_field("hash", DataType.VARCHAR, max_length=128)
        schema.add_field("day", DataType.INT64)
        schema.add_field("source", DataType.VARCHAR, max_length=1024)
        schema.add_field("has_vector", DataType.BOOL)
        schema.add_field("terms", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "whitespace"})
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=int(store.manifest["dimension"]))
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="terms_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["terms"], output_field_names=["sparse"]))
        indexes = self.client.prepare_index_params()
        dense_params = {"HNSW": {"M": 16, "efConstruction": 200}, "IVF_FLAT": {"nlist": 1024}}.get(self.index_type, {})
        indexes.add_index("dense", index_type=self.index_type, metric_type="IP", params=dense_params)
        indexes.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                          params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
        indexes.add_index("n", index_type="INVERTED")
        self.client.create_collection(self.collection, schema=schema, index_params=indexes,
                                      consistency_level="Strong", num_shards=self.shards)

    def check(self, store: IndexStore) -> None:
        """Raise IndexMismatchError when the collection was filled from an index built with
        another model or chunking, and BackendError when it does not exist yet."""
        try:
            exists = self.client.has_collection(self.collection)
            described = self.client.describe_collection(self.collection) if exists else {}
        except NewsdeskError:
            raise
        except Exception as exc:
            raise BackendError(f"Cannot read collection {self.collection!r} at {self.uri}: {exc}") from exc
        if not exists:
            raise BackendError(f"Milvus at {self.uri} has no collection {self.collection!r} yet; fill it with "
                               f"newsdesk index build PATH... --index {store.root} --backend-url {self.url}")
        if described.get("description") != _settings_note(store):
            raise IndexMismatchError(
                f"Milvus collection {self.collection!r} at {self.uri} holds chunks made with other settings "
                f"({described.get('description')!r}) than the index at {store.root} ({_settings_note(store)}). "
                "Use another collection (?collection=NAME in --backend-url) or drop this one.")

    def held(self) -> dict[str, str]:
        """Article id -> content hash of every article the collection holds (from chunk 0 rows)."""
        held: dict[str, str] = {}
        it = self.client.query_iterator(self.collection, batch_size=4096, filter="n == 0",
                                        output_fields=["article", "hash"])
        try:
            while batch := it.next():
                held.update((r["article"], r["hash"]) for r in batch)
        finally:
            it.close()
        return held

    def sync(self, store: IndexStore, *, progress: bool = False) -> SyncReport:
        """Make the collection hold exactly the articles of ``store`` (created on first use).

        Idempotent and crash-safe: changed or gone articles are deleted first, and each new
        article's chunk 0 (what :meth:`held` reads) is written after its other chunks, so an
        interrupted sync leaves articles missing, never half there, and the next sync adds them.
        """
        try:
            return self._sync(store, progress=progress)
        except NewsdeskError:
            raise
        except Exception as exc:  # MilvusException, gRPC errors: the engine refused or went away
            raise BackendError(f"Syncing Milvus collection {self.collection!r} at {self.uri} failed ({exc}); "
                               "the index folder is intact, and the next write or start syncs again.") from exc

    def _sync(self, store: IndexStore, *, progress: bool) -> SyncReport:
        t0 = time.perf_counter()
        if not self.client.has_collection(self.collection):
            self._create(store)
        self.check(store)
        held = self.held()
        wanted = {a.id: a.content_hash for a in store.articles}
        stale = [i for i, h in held.items() if wanted.get(i) != h]
        for start in range(0, len(stale), DELETE_BATCH):
            self.client.delete(self.collection, filter=f"article in {literal(stale[start:start + DELETE_BATCH])}")
        fresh = set(stale)
        rows = [r for r, a in enumerate(store.articles) if held.get(a.id) != a.content_hash or a.id in fresh]
        report = SyncReport(removed=len(stale), added=len(rows))
        report.chunks = self._insert(store, rows, progress=progress)
        report.seconds = time.perf_counter() - t0
        return report

    def _insert(self, store: IndexStore, article_rows: list[int], *, progress: bool) -> int:
        from tqdm import tqdm

        too_long = [store.articles[r].id for r in article_rows if len(store.articles[r].id) > ID_LENGTH]
        if too_long:
            raise BackendError(f"Article id {too_long[0][:80]!r}... is longer than {ID_LENGTH} characters, "
                               "which the Milvus backend stores.")
        has_vector = store.has_vector()
        dim = int(store.manifest["dimension"])
        chunk_rows = [store.chunk_rows_of(r) for r in article_rows]
        total = int(sum(len(c) for c in chunk_rows))
        bar = tqdm(total=total, unit="chunk", desc="Milvus", disable=not progress)
        batch: list[dict] = []
        firsts: list[dict] = []

        def flush(rows: list[dict]) -> None:
            if rows:
                self.client.upsert(self.collection, rows)
                bar.update(len(rows))

        for art_row, rows in zip(article_rows, chunk_rows):
            a = store.articles[art_row]
            vectors = store.embeddings(rows[has_vector[rows]]) if has_vector[rows].any() else None
            at = 0
            for n, row in enumerate(rows.tolist()):
                chunk = store.chunk(row)
                vector = vectors[at] if has_vector[row] else np.zeros(dim, dtype=np.float32)
                at += int(has_vector[row])
                text_terms = " ".join(terms(a.title + "\n" + chunk.text))
                record = {
                    "id": chunk.id, "article": a.id, "n": n, "hash": a.content_hash,
                    "day": a.date.toordinal() if a.date else UNDATED, "source": a.source.lower()[:1024],
                    "has_vector": bool(has_vector[row]),
                    "terms": text_terms.encode()[:TERMS_BYTES].decode(errors="ignore"),
                    "dense": vector.tolist(),
                }
                (firsts if n == 0 else batch).append(record)
            if len(batch) >= INSERT_BATCH:
                flush(batch)
                batch = []
            if len(firsts) >= INSERT_BATCH:
                flush(batch)  # the other chunks of these articles go in first
                batch = []
                flush(firsts)
                firsts = []
        flush(batch)
        flush(firsts)
        bar.close()
        return total

    def count(self) -> int:
        """Chunks the collection holds."""
        return int(self.client.query(self.collection, filter="", output_fields=["count(*)"])[0]["count(*)"])

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
