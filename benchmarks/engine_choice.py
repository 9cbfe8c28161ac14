"""Which distributed search engine (issue 21): Milvus, Qdrant, PostgreSQL + pgvector, with FAISS as reference.

Every engine gets the same collection, the dev index's chunks that carry a vector (vector,
headline + chunk text, article date, source), and the same queries: real questions from a
question file, embedded with the index's model. Per engine, one run measures

* ingest: chunks/s from an empty engine to searchable, index builds included;
* dense top-50 latency p50/p95, one query at a time as a user's search runs, without and
  with a date-range + source filter;
* recall@10 of its top 10 against FAISS exact inner product over the same vectors (the
  filtered truth is exact search over the chunks that pass the filter); ties are counted as
  hits (a chunk whose true score equals the 10th best's), since syndicated copies of a
  story have identical vectors and any of them is a correct answer;
* full-text search: the engine's own ranking of the question text, its p95, and how many
  of its top 10 the app's bm25s ranking (``index.tokenize.terms``) also has in its top 10;
* hybrid search (dense + full text fused by reciprocal rank) where the engine does it in one
  request, and its p95;
* memory of the engine's processes (PSS, so shared pages are not counted twice) where the
  engine is a process of its own; in-process engines report this process's RSS growth.

Engines run the way the client code would meet them in production where the registries
allow it: Milvus as milvus-lite's gRPC server (the embedded C++ Milvus engine) reached at an
``http://`` URI like a cluster, PostgreSQL as pgserver's real server over its socket, Qdrant
only in qdrant-client's local mode (a pure-Python re-implementation; the Qdrant server is a
Rust binary that no registry reachable here ships). Indexes are exact (FLAT, no HNSW) so
recall is 1.0 wherever the engine is exact. Each engine's processes are stopped at the end.

    python benchmarks/engine_choice.py --index /tmp/nd/dev-index \\
        --questions ../shared/data/realtimeqa-2023q1/questions.jsonl

Needs ``pip install -e '.[engines]'`` (pymilvus, milvus-lite, qdrant-client, pgserver, psycopg).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import bm25s
import faiss
import numpy as np
import psutil

from index import sparse
from index.embed import Embedder
from index.store import IndexStore
from index.tokenize import terms

K = 50  # results per search, what the retriever asks for
RRF_K = 60  # reciprocal-rank-fusion constant, the usual default in all three engines
TIE_EPS = 1e-5  # a found chunk this close to the 10th true score is a tie, so a hit
EPOCH = date(1970, 1, 1).toordinal()


@dataclass
class Corpus:
    ids: np.ndarray  # chunk row in the index: the primary key in every engine
    vectors: np.ndarray  # float32, L2-normalised
    texts: list[str]  # headline + chunk text, what the app's BM25 indexes
    days: np.ndarray  # article date as days since 1970; -1 when undated
    sources: np.ndarray  # article source (site name)


@dataclass
class Filter:
    day_from: int
    day_to: int
    sources: list[str]

    def mask(self, corpus: Corpus) -> np.ndarray:
        return (corpus.days >= self.day_from) & (corpus.days <= self.day_to) & np.isin(corpus.sources, self.sources)


@dataclass
class Result:
    engine: str
    mode: str
    chunks: int
    ingest_s: float
    ingest_chunks_per_s: float
    dense_p50_ms: float
    dense_p95_ms: float
    filtered_p50_ms: float
    filtered_p95_ms: float
    recall_at_10: float
    recall_at_10_filtered: float
    recall_at_10_strict: float  # plain id-set overlap, ties not forgiven
    text_search: str
    text_p95_ms: float | None
    text_queries: int  # how many the time budget allowed (all, unless the engine is slow at it)
    text_overlap_bm25s: float | None
    hybrid: str
    hybrid_p95_ms: float | None
    hybrid_queries: int
    memory_mib: float | None
    memory_how: str
    client_changes_to_cluster: int
    notes: list[str] = field(default_factory=list)


def load_corpus(index_dir: str) -> tuple[Corpus, str]:
    """The chunks of a built index that carry a vector (with text, date, source), and its model."""
    store = IndexStore.load(index_dir, verify=False)
    dense = faiss.downcast_index(store.dense)
    ids = faiss.vector_to_array(dense.id_map).astype(np.int64)
    vectors = faiss.downcast_index(dense.index).reconstruct_n(0, dense.ntotal).astype(np.float32)
    texts, days, sources = [], [], []
    for row in ids.tolist():
        article = store.articles[int(store.chunk_article[row])]
        texts.append(article.title + "\n" + store.chunk(row).text)
        days.append(article.date.toordinal() - EPOCH if article.date else -1)
        sources.append(article.source)
    return Corpus(ids, vectors, texts, np.array(days, dtype=np.int64), np.array(sources)), store.manifest["model"]


def load_queries(path: str, model: str, n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    questions = [json.loads(line)["question"] for line in open(path, encoding="utf-8") if line.strip()]
    rng = np.random.default_rng(seed)
    picked = [questions[i] for i in sorted(rng.choice(len(questions), min(n, len(questions)), replace=False))]
    return Embedder(model).embed(picked), picked


def percentiles(times_ms: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(times_ms, 50)), 2), round(float(np.percentile(times_ms, 95)), 2)


def timed(fn: Callable[[int], list[int]], n: int, budget_s: float = float("inf"),
          warmup: int = 5) -> tuple[list[list[int]], list[float]]:
    """Run ``fn(i)`` for each query i, one at a time, until ``budget_s`` is spent; the first
    ``warmup`` calls are run twice and only the second counts (connections, prepared
    statements, caches)."""
    for i in range(min(warmup, n)):
        fn(i)
    out, times = [], []
    started = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        out.append(fn(i))
        times.append((time.perf_counter() - t) * 1000)
        if t - started > budget_s:
            break
    return out, times


def recall(found: list[list[int]], queries: np.ndarray, corpus: Corpus, mask: np.ndarray | None,
           pos: dict[int, int]) -> tuple[float, float]:
    """Tie-aware and strict recall@10 of ``found`` (chunk ids) against exact inner product."""
    allowed = np.ones(len(corpus.ids), dtype=bool) if mask is None else mask
    tie, strict = [], []
    for ids, q in zip(found, queries):
        scores = corpus.vectors @ q
        scores[~allowed] = -np.inf
        want = min(10, int(allowed.sum()))
        truth = np.argsort(-scores, kind="stable")[:want]
        kth = scores[truth[-1]]
        got = [pos[i] for i in ids[:10]]
        tie.append(sum(1 for g in got if allowed[g] and scores[g] >= kth - TIE_EPS) / want)
        strict.append(len(set(got) & set(truth.tolist())) / want)
    return round(float(np.mean(tie)), 4), round(float(np.mean(strict)), 4)


def pss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return round(total / 2**20, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- engines: each has ingest, dense(q, filter), text(q), hybrid(q, text) or None, memory, close ---


class FaissEngine:
    """The reference: what Newsdesk runs today (FAISS flat + bm25s in the app's process)."""

    name, mode = "FAISS flat (reference)", "in-process library"
    text_search = "bm25s in the app (not part of FAISS)"
    hybrid_how = "no: fused in the app (rag/)"
    changes = -1  # no cluster mode
    notes = ["no server, no cluster: one process holds the whole index; filters are a numpy mask the app builds",
             "memory: the flat index's vector bytes"]

    def ingest(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(corpus.vectors.shape[1]))
        self.index.add_with_ids(corpus.vectors, corpus.ids)
        self.bm25 = bm25s.BM25()
        self.bm25.index([terms(t) for t in corpus.texts], show_progress=False)

    def dense(self, q: np.ndarray, flt: Filter | None) -> list[int]:
        params = None
        if flt is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(self.corpus.ids[flt.mask(self.corpus)]))
        _, ids = self.index.search(q[None, :], K, params=params)
        return [int(i) for i in ids[0] if i >= 0]

    def text(self, query: str) -> list[int]:
        scores = sparse.scores(self.bm25, query)
        top = np.argpartition(-scores, K)[:K]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [int(self.corpus.ids[i]) for i in top if scores[i] > 0]

    hybrid = None

    def memory(self) -> tuple[float | None, str]:
        return round(self.index.ntotal * self.index.d * 4 / 2**20, 1), "vector bytes of the flat index"

    def close(self) -> None:
        pass


class MilvusEngine:
    """milvus-lite's gRPC server: the embedded C++ Milvus engine behind the cluster's own API."""

    name, mode = "Milvus", "milvus-lite 2.5.1 gRPC server, client at http:// URI"
    text_search = "native BM25 (BM25 function -> sparse inverted index)"
    hybrid_how = "native: hybrid_search + RRFRanker, one request"
    changes = 0
    notes = ["cluster: the same MilvusClient(uri=...) call with the cluster's URI (a config value); "
             "FLAT would become HNSW/IVF through the same index_params",
             "milvus-lite has no scalar indexes (STL_SORT/INVERTED on day/source are refused): filters scan"]

    def __init__(self, work: Path) -> None:
        from milvus_lite.server import Server
        from pymilvus import MilvusClient

        port = free_port()
        self.server = Server(str(work / "milvus.db"), address=f"127.0.0.1:{port}")
        if not self.server.init() or not self.server.start():
            raise RuntimeError("milvus-lite server did not start")
        deadline = time.monotonic() + 60
        while True:  # the server listens a moment after the process starts
            try:
                self.client = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=5)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def ingest(self, corpus: Corpus) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        c = self.client
        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("day", DataType.INT64)
        schema.add_field("source", DataType.VARCHAR, max_length=256)
        schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params={"type": "english"})
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=corpus.vectors.shape[1])
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        params = c.prepare_index_params()
        params.add_index("dense", index_type="FLAT", metric_type="IP")
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        c.create_collection("chunks", schema=schema, index_params=params)
        for lo in range(0, len(corpus.ids), 1000):
            hi = min(len(corpus.ids), lo + 1000)
            c.insert("chunks", [
                {"id": int(corpus.ids[i]), "day": int(corpus.days[i]), "source": str(corpus.sources[i]),
                 "text": corpus.texts[i], "dense": corpus.vectors[i].tolist()} for i in range(lo, hi)])
        c.flush("chunks")
        for field_name in ("dense", "sparse"):  # searchable = index builds finished
            while True:
                info = c.describe_index("chunks", field_name)
                if info.get("state") == "Finished" and not info.get("pending_index_rows", 0):
                    break
                time.sleep(0.05)
        c.load_collection("chunks")

    @staticmethod
    def _expr(flt: Filter) -> str:
        return f"day >= {flt.day_from} and day <= {flt.day_to} and source in {json.dumps(flt.sources)}"

    def dense(self, q: np.ndarray, flt: Filter | None) -> list[int]:
        res = self.client.search("chunks", data=[q.tolist()], anns_field="dense", limit=K,
                                 filter=self._expr(flt) if flt else "", search_params={"metric_type": "IP"})
        return [hit["id"] for hit in res[0]]

    def text(self, query: str) -> list[int]:
        res = self.client.search("chunks", data=[query], anns_field="sparse", limit=K,
                                 search_params={"metric_type": "BM25"})
        return [hit["id"] for hit in res[0]]

    def hybrid(self, q: np.ndarray, query: str) -> list[int]:
        from pymilvus import AnnSearchRequest, RRFRanker

        reqs = [AnnSearchRequest(data=[q.tolist()], anns_field="dense", param={"metric_type": "IP"}, limit=K),
                AnnSearchRequest(data=[query], anns_field="sparse", param={"metric_type": "BM25"}, limit=K)]
        res = self.client.hybrid_search("chunks", reqs, ranker=RRFRanker(RRF_K), limit=K)
        return [hit["id"] for hit in res[0]]

    def memory(self) -> tuple[float | None, str]:
        return pss_mib([self.server._p.pid]), "PSS of the milvus server process"

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.server.stop()


class QdrantEngine:
    """qdrant-client's local mode: numpy brute force + Python filters, not the Rust server."""

    name, mode = "Qdrant", "qdrant-client local mode (path=), pure Python/numpy"
    text_search = "BM25 text query (client 1.20 local mode re-implements the server's; default tokenizer only)"
    hybrid_how = "native: query_points prefetch + FusionQuery(RRF), one request"
    changes = 1
    notes = ["local mode is always exact brute force and ignores payload indexes, HNSW and quantisation: "
             "tests in local mode do not run the engine production runs",
             "cluster: QdrantClient(path=...) becomes QdrantClient(url=...)",
             "memory: in-process, growth of this process's RSS over ingest (not separable)"]

    def __init__(self, work: Path) -> None:
        from qdrant_client import QdrantClient

        self.rss0 = psutil.Process().memory_info().rss
        self.client = QdrantClient(path=str(work / "qdrant"))

    def ingest(self, corpus: Corpus) -> None:
        from qdrant_client import models

        c = self.client
        c.create_collection("chunks", vectors_config=models.VectorParams(
            size=corpus.vectors.shape[1], distance=models.Distance.DOT))
        c.create_payload_index("chunks", "text", models.TextIndexParams(
            type=models.TextIndexType.TEXT, scoring=True))
        c.create_payload_index("chunks", "day", models.PayloadSchemaType.INTEGER)
        c.create_payload_index("chunks", "source", models.PayloadSchemaType.KEYWORD)
        for lo in range(0, len(corpus.ids), 1000):
            hi = min(len(corpus.ids), lo + 1000)
            c.upsert("chunks", points=[models.PointStruct(
                id=int(corpus.ids[i]), vector=corpus.vectors[i].tolist(),
                payload={"day": int(corpus.days[i]), "source": str(corpus.sources[i]), "text": corpus.texts[i]})
                for i in range(lo, hi)])

    @staticmethod
    def _filter(flt: Filter):
        from qdrant_client import models

        return models.Filter(must=[
            models.FieldCondition(key="day", range=models.Range(gte=flt.day_from, lte=flt.day_to)),
            models.FieldCondition(key="source", match=models.MatchAny(any=flt.sources))])

    def dense(self, q: np.ndarray, flt: Filter | None) -> list[int]:
        res = self.client.query_points("chunks", query=q.tolist(), limit=K, with_payload=False,
                                       query_filter=self._filter(flt) if flt else None)
        return [int(p.id) for p in res.points]

    def text(self, query: str) -> list[int]:
        from qdrant_client import models

        res = self.client.query_points("chunks", query=models.TextQuery(text=query), using="text",
                                       limit=K, with_payload=False)
        return [int(p.id) for p in res.points]

    def hybrid(self, q: np.ndarray, query: str) -> list[int]:
        from qdrant_client import models

        res = self.client.query_points("chunks", prefetch=[
            models.Prefetch(query=q.tolist(), limit=K),
            models.Prefetch(query=models.TextQuery(text=query), using="text", limit=K)],
            query=models.FusionQuery(fusion=models.Fusion.RRF), limit=K, with_payload=False)
        return [int(p.id) for p in res.points]

    def memory(self) -> tuple[float | None, str]:
        return round((psutil.Process().memory_info().rss - self.rss0) / 2**20, 1), "RSS growth of this process"

    def close(self) -> None:
        self.client.close()


class PostgresEngine:
    """pgserver's PostgreSQL 16 server with pgvector, exact (sequential) vector scan."""

    name, mode = "PostgreSQL + pgvector", "pgserver 0.1.4 (PostgreSQL 16.2, pgvector 0.6.2) over its socket"
    text_search = "not BM25: tsvector + ts_rank (english config, OR of the question's lexemes)"
    hybrid_how = "no native operator: one SQL statement fusing two ranked CTEs by RRF"
    changes = 0
    notes = ["cluster: the same psycopg.connect(dsn) with the server's DSN; Citus sharding adds one DDL call "
             "(create_distributed_table), replicas only a read DSN",
             "ts_rank has no IDF nor length normalisation like BM25: ranking differs from the app's"]

    # plainto_tsquery ANDs every lexeme, so a whole question rarely matches: OR them, as BM25 does
    OR_QUERY = "(SELECT replace(plainto_tsquery('english', %(t)s)::text, ' & ', ' | ')::tsquery AS q) AS x"

    def __init__(self, work: Path) -> None:
        import pgserver
        import psycopg

        self.pgdata = work / "pg"
        self.pgdata.mkdir()
        self.server = pgserver.get_server(self.pgdata, cleanup_mode="delete")
        self.conn = psycopg.connect(self.server.get_uri(), autocommit=True)

    def ingest(self, corpus: Corpus) -> None:
        c = self.conn
        c.execute("CREATE EXTENSION IF NOT EXISTS vector")
        c.execute(f"""CREATE TABLE chunks (id bigint PRIMARY KEY, day int NOT NULL, source text NOT NULL,
                     body text NOT NULL, embedding vector({corpus.vectors.shape[1]}) NOT NULL,
                     tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', body)) STORED)""")
        with c.cursor() as cur, cur.copy("COPY chunks (id, day, source, body, embedding) FROM STDIN") as copy:
            for i in range(len(corpus.ids)):
                vec = "[" + ",".join(f"{x:.9g}" for x in corpus.vectors[i].tolist()) + "]"
                copy.write_row((int(corpus.ids[i]), int(corpus.days[i]), str(corpus.sources[i]),
                                corpus.texts[i].replace("\x00", ""), vec))
        c.execute("CREATE INDEX ON chunks USING gin (tsv)")
        c.execute("CREATE INDEX ON chunks (day)")
        c.execute("CREATE INDEX ON chunks (source)")
        c.execute("ANALYZE chunks")

    def dense(self, q: np.ndarray, flt: Filter | None) -> list[int]:
        vec = "[" + ",".join(f"{x:.9g}" for x in q.tolist()) + "]"
        if flt is None:
            rows = self.conn.execute("SELECT id FROM chunks ORDER BY embedding <#> %s::vector LIMIT %s",
                                     (vec, K)).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT id FROM chunks WHERE day BETWEEN %s AND %s AND source = ANY(%s) "
                "ORDER BY embedding <#> %s::vector LIMIT %s",
                (flt.day_from, flt.day_to, flt.sources, vec, K)).fetchall()
        return [r[0] for r in rows]

    def text(self, query: str) -> list[int]:
        rows = self.conn.execute(
            f"SELECT id FROM chunks, {self.OR_QUERY} WHERE tsv @@ q ORDER BY ts_rank(tsv, q) DESC LIMIT %(k)s",
            {"t": query, "k": K}).fetchall()
        return [r[0] for r in rows]

    def hybrid(self, q: np.ndarray, query: str) -> list[int]:
        vec = "[" + ",".join(f"{x:.9g}" for x in q.tolist()) + "]"
        rows = self.conn.execute(f"""
            WITH d AS (SELECT id, row_number() OVER (ORDER BY embedding <#> %(v)s::vector) AS r
                       FROM chunks ORDER BY embedding <#> %(v)s::vector LIMIT %(k)s),
                 t AS (SELECT id, row_number() OVER (ORDER BY ts_rank(tsv, q) DESC) AS r
                       FROM chunks, {self.OR_QUERY} WHERE tsv @@ q
                       ORDER BY ts_rank(tsv, q) DESC LIMIT %(k)s)
            SELECT id FROM (SELECT id, r FROM d UNION ALL SELECT id, r FROM t) u
            GROUP BY id ORDER BY sum(1.0 / (%(rrf)s + r)) DESC LIMIT %(k)s""",
            {"v": vec, "t": query, "k": K, "rrf": RRF_K}).fetchall()
        return [r[0] for r in rows]

    def _pids(self) -> list[int]:
        main = psutil.Process(self.server.get_pid())
        return [main.pid] + [p.pid for p in main.children(recursive=True)]

    def memory(self) -> tuple[float | None, str]:
        pids = self._pids()
        return pss_mib(pids), f"PSS of the postmaster and its {len(pids) - 1} backends/workers"

    def close(self) -> None:
        pids = self._pids()
        try:
            self.conn.close()
        finally:
            self.server.cleanup()  # pg_ctl stop, then deletes pgdata
        for pid in pids:  # make sure nothing of ours is left running
            try:
                proc = psutil.Process(pid)
                proc.terminate()
                proc.wait(5)
            except psutil.NoSuchProcess:
                pass


ENGINES = {"faiss": lambda work: FaissEngine(), "milvus": MilvusEngine, "qdrant": QdrantEngine,
           "postgres": PostgresEngine}


def run_engine(key: str, corpus: Corpus, queries: np.ndarray, texts: list[str], flt: Filter,
               work: Path, bm25s_top: list[list[int]] | None,
               text_budget_s: float) -> tuple[Result, list[list[int]]]:
    pos = {int(i): n for n, i in enumerate(corpus.ids.tolist())}
    mask = flt.mask(corpus)
    engine = ENGINES[key](work)
    try:
        t0 = time.perf_counter()
        engine.ingest(corpus)
        ingest_s = time.perf_counter() - t0
        n = len(queries)
        found, dense_t = timed(lambda i: engine.dense(queries[i], None), n)
        found_f, filt_t = timed(lambda i: engine.dense(queries[i], flt), n)
        text_found, text_t = timed(lambda i: engine.text(texts[i]), n, text_budget_s)
        hybrid_t = timed(lambda i: engine.hybrid(queries[i], texts[i]), n, text_budget_s)[1] if engine.hybrid else None
        memory, how = engine.memory()
    finally:
        engine.close()
    r10, strict = recall(found, queries, corpus, None, pos)
    r10_f, _ = recall(found_f, queries, corpus, mask, pos)
    overlap = None
    if bm25s_top is not None:
        overlap = round(float(np.mean([len(set(a[:10]) & set(b[:10])) / max(1, min(10, len(b)))
                                       for a, b in zip(text_found, bm25s_top)])), 3)
    d50, d95 = percentiles(dense_t)
    f50, f95 = percentiles(filt_t)
    return Result(
        engine=engine.name, mode=engine.mode, chunks=len(corpus.ids), ingest_s=round(ingest_s, 2),
        ingest_chunks_per_s=round(len(corpus.ids) / ingest_s), dense_p50_ms=d50, dense_p95_ms=d95,
        filtered_p50_ms=f50, filtered_p95_ms=f95, recall_at_10=r10, recall_at_10_filtered=r10_f,
        recall_at_10_strict=strict, text_search=engine.text_search, text_p95_ms=percentiles(text_t)[1],
        text_queries=len(text_t),        text_overlap_bm25s=overlap, hybrid=engine.hybrid_how,
        hybrid_p95_ms=percentiles(hybrid_t)[1] if hybrid_t else None,
        hybrid_queries=len(hybrid_t) if hybrid_t else 0, memory_mib=memory, memory_how=how,
        client_changes_to_cluster=engine.changes, notes=list(engine.notes)), text_found


def table(rows: list[Result]) -> str:
    def cell(v: object) -> str:
        return "-" if v is None else str(v)

    n = max(r.text_queries for r in rows)

    def few(m: int) -> str:  # a p95 over fewer queries than the others
        return f" ({m} queries)" if 0 < m < n else ""

    lines = ["| engine | ingest chunks/s | dense p50 / p95 ms | filtered p50 / p95 ms | recall@10 | "
             "recall@10 filtered | full text | text p95 ms | text top-10 shared with bm25s | hybrid p95 ms | "
             "memory MiB | client changes to cluster |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        changes = "n/a (no cluster)" if r.client_changes_to_cluster < 0 else str(r.client_changes_to_cluster)
        lines.append(
            f"| {r.engine} | {r.ingest_chunks_per_s} | {r.dense_p50_ms} / {r.dense_p95_ms} | "
            f"{r.filtered_p50_ms} / {r.filtered_p95_ms} | {r.recall_at_10} | {r.recall_at_10_filtered} | "
            f"{r.text_search.split(':')[0].split(' (')[0]} | {cell(r.text_p95_ms)}{few(r.text_queries)} | "
            f"{cell(r.text_overlap_bm25s)} | {cell(r.hybrid_p95_ms)}{few(r.hybrid_queries)} | "
            f"{cell(r.memory_mib)} ({r.memory_how}) | {changes} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="/tmp/nd/dev-index", help="a built index (default /tmp/nd/dev-index)")
    parser.add_argument("--questions", default="../shared/data/realtimeqa-2023q1/questions.jsonl",
                        help="JSONL with a 'question' field per line")
    parser.add_argument("--queries", type=int, default=300, help="questions to search with (default 300)")
    parser.add_argument("--engines", default="faiss,milvus,qdrant,postgres")
    parser.add_argument("--date-from", default="2023-01-01", help="filter: first article date")
    parser.add_argument("--date-to", default="2023-03-31", help="filter: last article date")
    parser.add_argument("--sources", default="usatoday.com,theweek.co.uk", help="filter: article sources")
    parser.add_argument("--text-budget", type=float, default=90,
                        help="seconds of full-text and of hybrid queries per engine before stopping early (default 90)")
    parser.add_argument("--out", default="benchmarks/results/engine_choice.json")
    parser.add_argument("--work", help="scratch folder for the engines' data (default: a temporary one)")
    args = parser.parse_args(argv)

    keys = [k.strip() for k in args.engines.split(",") if k.strip()]
    unknown = [k for k in keys if k not in ENGINES]
    if unknown:
        parser.error(f"unknown engine(s) {unknown}; valid: {', '.join(ENGINES)}")
    corpus, model = load_corpus(args.index)
    queries, texts = load_queries(args.questions, model, args.queries, seed=0)
    flt = Filter(date.fromisoformat(args.date_from).toordinal() - EPOCH,
                 date.fromisoformat(args.date_to).toordinal() - EPOCH,
                 [s.strip() for s in args.sources.split(",") if s.strip()])
    selectivity = float(flt.mask(corpus).mean())
    print(f"{len(corpus.ids)} chunks, {len(queries)} queries, filter keeps {selectivity:.1%}", file=sys.stderr)

    load_before = os.getloadavg()[0]
    scratch = Path(args.work or tempfile.mkdtemp(prefix="engine-choice-"))
    rows: list[Result] = []
    bm25s_top = None
    keys = ["faiss"] + [k for k in keys if k != "faiss"]  # the reference first: its bm25s ranking is compared
    started = time.perf_counter()
    try:
        for key in keys:
            print(f"== {key}", file=sys.stderr, flush=True)
            work = scratch / key
            work.mkdir(parents=True, exist_ok=True)
            result, text_found = run_engine(key, corpus, queries, texts, flt, work, bm25s_top, args.text_budget)
            if key == "faiss":
                bm25s_top = text_found
                result.text_overlap_bm25s = 1.0
            rows.append(result)
            print(json.dumps(asdict(result)), file=sys.stderr, flush=True)
    finally:
        if not args.work:
            shutil.rmtree(scratch, ignore_errors=True)

    command = "python benchmarks/engine_choice.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report = {
        "command": command.strip(), "index": args.index, "chunks": len(corpus.ids), "queries": len(queries),
        "filter": {**asdict(flt), "date_from": args.date_from, "date_to": args.date_to,
                   "keeps": round(selectivity, 4)},
        "k": K, "cpus": os.cpu_count(), "load_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "seconds": round(time.perf_counter() - started),
        "results": [asdict(r) for r in rows],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    md = table(rows)
    out.with_suffix(".md").write_text(f"`{report['command']}`\n\n{md}\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
